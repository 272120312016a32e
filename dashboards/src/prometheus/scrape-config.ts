import { stringify } from "yaml";

/** The job names the alerts (EnclaveProcessDown) and the docs use. */
export const JOBS = { gateway: "enclave-gateway", scheduler: "enclave-scheduler", agent: "enclave-agent" } as const;

export interface ScrapeTargets {
  gateway: readonly string[];
  scheduler: readonly string[];
  agent: readonly string[];
}

export interface PrometheusConfigOptions {
  targets: ScrapeTargets;
  ruleFiles?: readonly string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}

/**
 * A Prometheus configuration scraping every Enclave process, one job per kind. Targets carry
 * no labels of their own: `region` and `node` come with the metrics, and a target label of the
 * same name would rename them to `exported_region`.
 */
export function prometheusConfig(o: PrometheusConfigOptions): Record<string, unknown> {
  return {
    global: { scrape_interval: o.scrapeInterval ?? "15s", evaluation_interval: o.evaluationInterval ?? "15s" },
    rule_files: [...(o.ruleFiles ?? [])],
    scrape_configs: (Object.keys(JOBS) as (keyof typeof JOBS)[]).map((kind) => ({
      job_name: JOBS[kind],
      static_configs: [{ targets: [...o.targets[kind]] }],
    })),
  };
}

export const prometheusConfigYaml = (o: PrometheusConfigOptions) => stringify(prometheusConfig(o), { lineWidth: 0 });

/** The example in dashboards/prometheus/: the default ports of each process, one of each. */
export const EXAMPLE_CONFIG: PrometheusConfigOptions = {
  targets: { gateway: ["gateway-1.dmz.example:8443"], scheduler: ["scheduler-1.inference.example:9401"], agent: ["gpu-node-1.inference.example:9400"] },
  ruleFiles: ["enclave-alerts.rules.yml"],
};
