/**
 * What a syslog-over-TLS connection showed, in the order it showed it:
 * - `secure`: the TLS handshake completed (the receiver's certificate checked out);
 * - `closing`: we closed our side (TLS close_notify, then TCP FIN), after the batch;
 * - `finish`: our whole batch and our close were handed to the network;
 * - `peer-end`: the receiver closed its side.
 */
export type ConnectionEvent = "secure" | "closing" | "finish" | "peer-end";

export type AckVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether a finished connection acknowledged the batch sent on it.
 *
 * RFC 5425 has no acknowledgement. The only evidence that a receiver read a batch is that it
 * closed its side in answer to ours: a receiver reads until it sees our close and then
 * closes, while one that stops early (refuses our certificate, shuts down) closes or resets
 * the connection on its own. So only a close that follows ours counts. A receiver that checks
 * the client certificate after the handshake (rsyslog's PermittedPeer) refuses within a few
 * milliseconds of it; the caller holds its close for an admission window after the handshake,
 * so that refusal lands before `closing` and is never taken for an answer.
 */
export function ackVerdict(events: readonly ConnectionEvent[], error: Error | null): AckVerdict {
  if (error) return { ok: false, reason: error.message };
  const at = (e: ConnectionEvent) => events.indexOf(e);
  if (at("secure") < 0) return { ok: false, reason: "the connection closed before the TLS handshake completed" };
  const peerEnd = at("peer-end");
  if (peerEnd < 0) return { ok: false, reason: "the receiver did not close its side: no acknowledgement" };
  if (at("closing") < 0 || peerEnd < at("closing")) {
    return { ok: false, reason: "the receiver closed the connection before we closed ours: refused (is our certificate in its PermittedPeer list?) or shutting down" };
  }
  if (at("finish") < 0 || peerEnd < at("finish")) return { ok: false, reason: "the receiver closed the connection before our whole batch was sent" };
  return { ok: true };
}
