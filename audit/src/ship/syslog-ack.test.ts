import { test } from "node:test";
import assert from "node:assert/strict";
import { ackVerdict, type ConnectionEvent } from "./syslog-ack.js";

const ok = (events: ConnectionEvent[], error: Error | null = null) => ackVerdict(events, error).ok;

test("only a receiver close that follows our whole batch and our close acknowledges", () => {
  // What a permitted client sees from rsyslog: it reads to our close, then closes.
  assert.equal(ok(["secure", "closing", "finish", "peer-end"]), true);
});

test("the orders a refused client sees from rsyslog (PermittedPeer checked after the handshake) never acknowledge", () => {
  // rsyslog closes 1-100 ms after the handshake without reading; Node then closes our side for us.
  assert.equal(ok(["secure", "peer-end", "finish"]), false);
  // ... or its close crosses our (already held-back) close: it came before our batch was out.
  assert.equal(ok(["secure", "closing", "peer-end", "finish"]), false);
  // ... or it resets the connection, our data being unread.
  assert.equal(ok(["secure", "closing", "finish"], new Error("read ECONNRESET")), false);
  assert.equal(ok(["secure", "closing", "finish", "peer-end"], new Error("read ECONNRESET")), false);
  assert.match((ackVerdict(["secure", "peer-end", "finish"], null) as { reason: string }).reason, /PermittedPeer/);
});

test("a connection that ends without the receiver closing, or before the handshake, is not acknowledged", () => {
  assert.equal(ok(["secure", "closing", "finish"]), false);
  assert.equal(ok([]), false);
  assert.equal(ok(["peer-end"]), false);
  assert.equal(ok(["secure", "finish", "peer-end"]), false, "a finish we did not ask for (no closing) is Node answering the receiver's close");
});
