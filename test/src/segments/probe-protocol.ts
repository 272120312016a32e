/** What the test and a namespace's netprobe process say to each other (JSON lines). */

export type Probe =
  | { kind: "tcp"; host: string; port: number; timeoutMs: number }
  /** A DNS A query over UDP or TCP (port 53 unless given). */
  | { kind: "dns-udp" | "dns-tcp"; host: string; port?: number; name: string; timeoutMs: number }
  | {
      kind: "http";
      url: string;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      /** https: the CA bundle (PEM text) and the name the server's certificate must carry. */
      ca?: string;
      servername?: string;
      timeoutMs: number;
    };

export interface ProbeResult {
  /** open: connected (TCP), answered (DNS) or an HTTP response; the rest say why not. */
  outcome: "open" | "refused" | "timeout" | "unreachable" | "error";
  detail: string;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
}

export type ProbeRequest =
  | { id: number; op: "probe"; probes: Probe[] }
  /** Listen on these TCP ports (each answers "<name> ok"), and as a DNS server (UDP and TCP 53) answering every A query with `dnsAnswer`. */
  | { id: number; op: "serve"; tcp?: number[]; dnsAnswer?: string };

export type ProbeResponse = { id: number; results: ProbeResult[]; error?: undefined } | { id: number; error: string; results?: undefined };
