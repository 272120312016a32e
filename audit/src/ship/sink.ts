import type { SpooledEntry } from "../spool/spool-reader.js";

/**
 * Where a chain's entries go. `deliver` resolves only once the receiver acknowledged the
 * whole batch; anything else (a rejection, a timeout) means none of it counts as shipped
 * and the batch is sent again: delivery is at least once, and verifiers flag duplicates.
 */
export interface AuditSink {
  /** For logs and metrics, e.g. `syslog+tls://logs.example:6514`; never a credential. */
  readonly name: string;
  deliver(entries: readonly SpooledEntry[], signal: AbortSignal): Promise<void>;
  /** Lets go of anything kept between deliveries (a connection); no delivery follows. */
  close?(): void;
}
