import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { RouteEntry, RouteTable, Tenant } from "@enclave/contracts";
import { InFlight } from "./inflight.js";
import { compileRoutes, compliantCandidates } from "./routing/backends.js";
import { Breakers } from "./routing/breaker.js";
import { compliantBackends } from "./routing/filter.js";
import { checkModel } from "./steps/model.js";
import { connectUpstream } from "./steps/proxy.js";
import { decideResidency } from "./steps/residency.js";
import { Cancel } from "./upstream/cancel.js";
import type { UpstreamClient, UpstreamResponse } from "./upstream/client.js";

const REGIONS = ["eu-central-1", "eu-west-1", "us-east-1", "ap-south-1"];
const JURISDICTIONS = ["EU", "US", "IN"];
const MODELS = ["m1", "m2"];

const entryArb = fc.record({
  model: fc.constantFrom(...MODELS),
  region: fc.constantFrom(...REGIONS),
  jurisdiction: fc.constantFrom(...JURISDICTIONS),
  state: fc.constantFrom(undefined, "ready", "starting", "failed"),
  nodeState: fc.constantFrom(undefined, "ready", "draining", "failed"),
  waiting: fc.option(fc.nat({ max: 20 }), { nil: undefined }),
});
const tableArb = fc.array(entryArb, { maxLength: 12 }).map((es): RouteTable => ({
  version: 1, generatedAt: 0,
  models: MODELS.map((name) => ({ name, regions: REGIONS })),
  entries: es.map((e, i): RouteEntry => ({
    backendId: `b${i}`, nodeId: `n${i}`, model: e.model, engine: "vllm", region: e.region, jurisdiction: e.jurisdiction,
    url: `http://10.9.${i}.1:8000`, load: e.waiting === undefined ? null : { running: 1, waiting: e.waiting, kvCacheUsage: 0.5 },
    ...(e.state ? { state: e.state as "ready" } : {}), ...(e.nodeState ? { nodeState: e.nodeState as "ready" } : {}),
  })),
}));
const tenantArb = fc.record({
  regions: fc.uniqueArray(fc.constantFrom(...REGIONS), { minLength: 1 }),
  jurisdictions: fc.option(fc.uniqueArray(fc.constantFrom(...JURISDICTIONS), { minLength: 1 }), { nil: undefined }),
  models: fc.option(fc.constantFrom(["m1"], ["m*"], ["m2", "x"]), { nil: undefined }),
}).map((t): Tenant => ({ id: "t", apiKeys: [], auditContent: "none", ...t }) as Tenant);
const headerArb = fc.option(fc.array(fc.constantFrom(...REGIONS, "mars-1", " ", ""), { maxLength: 3 }).map((a) => a.join(",")), { nil: undefined });
/** Per backend and attempt: what the fake engine does. */
const faultArb = fc.array(fc.constantFrom("ok", "500", "503", "400", "refused", "timeout"), { minLength: 1, maxLength: 40 });

test("property: no request ever reaches a backend outside its allowed set; every denial is no_compliant_backend or a policy error", async () => {
  await fc.assert(
    fc.asyncProperty(tableArb, tenantArb, headerArb, fc.constantFrom(...MODELS), faultArb, fc.nat({ max: 4 }), async (table, tenant, header, model, faults, maxRetries) => {
      const sent: string[] = [];
      let n = 0;
      const client: UpstreamClient = {
        request: async (call) => {
          sent.push(call.target.origin);
          const f = faults[n++ % faults.length];
          if (f === "refused") throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
          if (f === "timeout") throw Object.assign(new Error("headers timeout"), { code: "headers_timeout" });
          const status = f === "ok" ? 200 : Number(f);
          return { statusCode: status, headers: {}, read: () => undefined, pause: () => undefined, resume: () => undefined, discard: () => undefined, destroy: () => undefined } satisfies UpstreamResponse;
        },
        close: () => undefined,
      };

      const known = checkModel(model, tenant, table);
      if (!known.ok) return assert.equal(known.error.code, "model_not_found");
      const residency = decideResidency(tenant.regions, header);
      if (!residency.ok) return assert.equal(residency.error.code, "region_not_allowed");
      const allowedRegions = residency.value;
      for (const r of allowedRegions) assert.ok(tenant.regions.includes(r), "the header never widens");
      const allowed = { model, regions: allowedRegions, jurisdictions: tenant.jurisdictions };
      const candidates = compliantCandidates(compileRoutes(table, null), allowed);
      assert.deepEqual(candidates.map((c) => c.backendId), compliantBackends(table, allowed).map((c) => c.backendId));
      const allowedOrigins = new Set(
        table.entries
          .filter((e) => e.model === model && allowedRegions.includes(e.region) && (tenant.jurisdictions?.includes(e.jurisdiction) ?? true))
          .map((e) => new URL(e.url).origin),
      );
      if (candidates.length === 0) return; // answered no_compliant_backend without any attempt
      const up = await connectUpstream({
        client, candidates, allowed, maxRetries, inflight: new InFlight(),
        breakers: new Breakers({ failureThreshold: 2, openMs: 60000 }),
        affinityKey: "k", routing: { weights: { inflight: 1, queue: 1, kvCache: 1, affinity: 0.3 }, maxImbalance: 4 },
        path: "/v1/chat/completions", headers: {}, body: "{}", deadline: Infinity, cancel: new Cancel(), onRetry: () => undefined,
      });
      for (const origin of sent) assert.ok(allowedOrigins.has(origin), `sent to ${origin}, outside the allowed set`);
      assert.ok(sent.length <= maxRetries + 1, "retries are bounded");
      if (up.ok) {
        assert.ok(allowedOrigins.has(new URL(up.entry.url).origin));
        assert.ok(up.response.statusCode < 500);
      } else {
        assert.equal(up.aborted, false);
        assert.ok(["attempts_failed", "circuits_open"].includes(up.why));
      }
    }),
    { numRuns: 600 },
  );
});
