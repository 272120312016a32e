/**
 * The text of a container's logs as `GET /containers/{id}/logs` returns them for a
 * container without a TTY: frames of an 8-byte header (stream, 3 zero bytes, big-endian
 * length) and a payload, stdout and stderr interleaved as written. Anything that is not
 * such a frame sequence (a TTY container's raw output) is returned as it is.
 */
export function demuxDockerLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const stream = buf[at];
    if (at + 8 > buf.length || (stream !== 0 && stream !== 1 && stream !== 2) || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0) {
      return at === 0 ? buf.toString("utf8") : Buffer.concat([...parts, buf.subarray(at)]).toString("utf8");
    }
    const size = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, Math.min(buf.length, at + 8 + size)));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
