import type { Logger } from "@enclave/runtime";
import { backoffMs } from "@enclave/runtime";
import type Dockerode from "dockerode";
import { apiErrorText } from "./api-errors.js";
import { readJsonLines } from "./json-lines.js";

/** A container's end, from a Docker `die` event (podman sends no `kill` and not always `stop`: `die` is the one to key on). */
export interface DieEvent {
  id: string;
  exitCode: number | undefined;
}

/** The `die` in one event object of `GET /events`, or undefined for any other event. */
export function dieEvent(o: unknown): DieEvent | undefined {
  if (typeof o !== "object" || o === null) return undefined;
  const e = o as { Type?: unknown; Action?: unknown; status?: unknown; id?: unknown; Actor?: { ID?: unknown; Attributes?: Record<string, unknown> } };
  if (e.Type !== undefined && e.Type !== "container") return undefined;
  if ((e.Action ?? e.status) !== "die") return undefined;
  const id = typeof e.Actor?.ID === "string" ? e.Actor.ID : typeof e.id === "string" ? e.id : undefined;
  if (id === undefined) return undefined;
  const raw = e.Actor?.Attributes?.["exitCode"];
  const exitCode = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : undefined;
  return { id, exitCode };
}

export interface ContainerEventsOptions {
  docker: Dockerode;
  /** `key=value`: podman filters events by label only in this form. */
  label: string;
  log: Logger;
  onDie(e: DieEvent): void;
  /** The stream (re)connected: dies while it was down were missed, so look. */
  onConnected(): void;
}

/**
 * Watches `die` events of the agent's containers over one long-lived `GET /events`,
 * reconnecting with backoff when the daemon closes it or goes away.
 */
export class ContainerEvents {
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: ContainerEventsOptions) {}

  /** Starts watching, once; later calls do nothing. */
  ensureStarted(): void {
    if (this.running || this.closed) return;
    this.running = this.loop();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort?.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    for (let failures = 0; !this.closed; ) {
      const abort = new AbortController();
      this.abort = abort;
      try {
        const stream = await this.o.docker.getEvents({ filters: { label: [this.o.label] }, abortSignal: abort.signal });
        if (this.closed) break;
        failures = 0;
        this.o.onConnected();
        await readJsonLines(stream, (obj) => {
          const die = dieEvent(obj);
          if (die) this.o.onDie(die);
        });
        if (!this.closed) this.o.log.warn("Docker event stream ended; reconnecting");
      } catch (e) {
        if (this.closed) break;
        if (failures === 0) this.o.log.warn({ err: apiErrorText(e) }, "Docker event stream failed; reconnecting");
        failures++;
      }
      abort.abort();
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoffMs(failures, 200, 10_000));
        const onClose = () => (clearTimeout(t), resolve());
        this.abort = new AbortController();
        this.abort.signal.addEventListener("abort", onClose, { once: true });
      });
    }
  }
}
