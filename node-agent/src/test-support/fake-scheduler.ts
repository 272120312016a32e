import { createServer, type Server } from "node:http";
import { NodeReport } from "@enclave/contracts";

export interface FakeScheduler {
  url: string;
  /** Valid reports accepted, oldest first. */
  reports: NodeReport[];
  /** Requests refused for a missing or wrong token. */
  unauthorized: number;
  /** Requests whose body was not a valid NodeReport, or that named another node. */
  invalid: number;
  latest(nodeId: string): NodeReport | undefined;
  close(): Promise<void>;
}

/** The scheduler's heartbeat endpoint, just enough to check the agent: token, path, schema. */
export async function startFakeScheduler(token: string): Promise<FakeScheduler> {
  const state = { reports: [] as NodeReport[], unauthorized: 0, invalid: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const m = /^\/v1\/nodes\/([^/]+)\/heartbeat$/.exec(req.url ?? "");
      if (req.method !== "POST" || !m) return reply(404, { error: "not found" });
      if (req.headers.authorization !== `Bearer ${token}`) {
        state.unauthorized++;
        return reply(401, { error: "unauthorized" });
      }
      let parsed: ReturnType<typeof NodeReport.safeParse>;
      try {
        parsed = NodeReport.safeParse(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        state.invalid++;
        return reply(400, { error: "not JSON" });
      }
      if (!parsed.success || parsed.data.nodeId !== decodeURIComponent(m[1] ?? "")) {
        state.invalid++;
        return reply(400, { error: "invalid report" });
      }
      state.reports.push(parsed.data);
      if (state.reports.length > 5000) state.reports.splice(0, 1000);
      reply(200, { ok: true });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get reports() {
      return state.reports;
    },
    get unauthorized() {
      return state.unauthorized;
    },
    get invalid() {
      return state.invalid;
    },
    latest: (nodeId) => state.reports.findLast((r) => r.nodeId === nodeId),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
