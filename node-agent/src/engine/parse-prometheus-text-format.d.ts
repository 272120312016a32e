/** The parts of parse-prometheus-text-format (which ships no types) that Enclave uses. */
declare module "parse-prometheus-text-format" {
  interface PrometheusSample {
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
  }
  interface PrometheusFamily {
    name: string;
    help: string;
    type: string;
    metrics: PrometheusSample[];
  }
  /** Throws `InvalidLineError` on a line it cannot read. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
