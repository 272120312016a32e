import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DASHBOARDS, dashboardJson } from "./index.js";
import { panelQueries, parseLabelValues, substitute, variableQueries } from "./queries.js";

interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; refId?: string }[];
}

const models = DASHBOARDS.map((d) => ({ file: d.file, model: JSON.parse(dashboardJson(d.build())) as { uid: string; title: string; panels: PanelJson[]; templating: { list: { name: string; type: string }[] } } }));

describe("dashboards", () => {
  test("uids and titles are unique; panels have stable ids in order, a title, a description and the $datasource", () => {
    assert.equal(new Set(models.map((m) => m.model.uid)).size, models.length);
    assert.equal(new Set(models.map((m) => m.model.title)).size, models.length);
    for (const { file, model } of models) {
      model.panels.forEach((p, i) => assert.equal(p.id, i + 1, `${file}: panel ${i}`));
      for (const p of model.panels.filter((p) => p.type !== "row")) {
        assert.ok(p.title && p.description, `${file}: every panel says what it shows (${p.title})`);
        assert.deepEqual(p.datasource, { type: "prometheus", uid: "${datasource}" }, `${file}: ${p.title}`);
        const refIds = (p.targets ?? []).map((t) => t.refId);
        assert.ok(refIds.length > 0, `${file}: ${p.title} has queries`);
        assert.equal(new Set(refIds).size, refIds.length, `${file}: ${p.title} refIds unique`);
      }
    }
  });

  test("template variables: datasource and region everywhere, node and GPU on the GPU fleet", () => {
    for (const { file, model } of models) {
      const names = model.templating.list.map((v) => v.name);
      assert.equal(names[0], "datasource", file);
      assert.ok(names.includes("region"), file);
    }
    const gpu = models.find((m) => m.file === "gpu-fleet.json")!;
    assert.deepEqual(gpu.model.templating.list.map((v) => v.name), ["datasource", "region", "node", "gpu"]);
  });

  test("every query uses only variables the dashboard defines, and every per-region metric is filtered by $region", () => {
    for (const { file, model } of models) {
      const defined = new Set(model.templating.list.map((v) => v.name));
      for (const q of panelQueries(model)) {
        for (const m of q.expr.matchAll(/\$(?:\{(\w+)\}|(\w+))/g)) {
          const name = m[1] ?? m[2]!;
          assert.ok(name.startsWith("__") || defined.has(name), `${file}: ${q.panel} uses undefined $${name}`);
        }
        // Series with a region label: GPU, BMC, health, scheduler per region, agent backends, audit chains, served requests.
        for (const sel of q.expr.matchAll(/\b(DCGM_FI_\w+|ipmi_\w+|enclave_(?:gpu|node)_health_state|enclave_scheduler_(?:nodes|free_gpus|capacity_n_plus_one|replicas|placement_failures_total|node_heartbeat_age_seconds)|enclave_agent_backend_\w+|enclave_audit_backlog_\w+|enclave_audit_sink_up|enclave_audit_records_total|enclave_audit_shipped_total)\{([^}]*)\}/g)) {
          assert.match(sel[2]!, /region=~"\$region"/, `${file}: ${q.panel}: ${sel[1]} without $region`);
        }
      }
    }
  });

  test("variable queries are label_values() over metrics the panels use", () => {
    for (const { file, model } of models) {
      const exprs = panelQueries(model).map((q) => q.expr).join("\n");
      for (const v of variableQueries(model)) {
        const { selector, label } = parseLabelValues(v.query);
        assert.ok(selector, `${file}: $${v.name}`);
        const metric = /^[a-zA-Z_:][\w:]*/.exec(selector!)![0];
        assert.ok(exprs.includes(metric) || label === "instance", `${file}: $${v.name} reads ${metric}, which no panel shows`);
      }
    }
  });
});

describe("queries as Grafana sends them", () => {
  test("multi-value variables become an escaped regex alternation; built-in intervals are replaced", () => {
    assert.equal(
      substitute('rate(x{region=~"$region", instance=~"${gateway}"}[$__rate_interval])', { region: ["eu-central-1", "us-east-1"], gateway: ["127.0.0.1:8080"] }, "1m"),
      'rate(x{region=~"(eu-central-1|us-east-1)", instance=~"127\\\\.0\\\\.0\\\\.1:8080"}[1m])',
    );
    assert.throws(() => substitute("x{a=~\"$nope\"}", {}, "1m"), /no value for \$nope/);
  });

  test("label_values() with and without a selector", () => {
    assert.deepEqual(parseLabelValues('label_values(DCGM_FI_DEV_GPU_TEMP{region=~"$region"}, node)'), { selector: 'DCGM_FI_DEV_GPU_TEMP{region=~"$region"}', label: "node" });
    assert.deepEqual(parseLabelValues("label_values(job)"), { selector: undefined, label: "job" });
    assert.throws(() => parseLabelValues("query_result(up)"), /not a label_values/);
  });
});
