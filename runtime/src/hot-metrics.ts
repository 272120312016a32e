import type { Metric, Registry } from "prom-client";

/*
 * Metrics for a request path that runs thousands of times a second. prom-client validates
 * the labels, builds a hash string and allocates closures on every observation: several µs
 * each on the cold caches of a gateway at a few hundred requests a second, four times per
 * request. Here an observation is a bucket search and two additions; a labelled counter's
 * child is found by one string key. Both register with a prom-client Registry and are scraped
 * in its text format, default labels included.
 */

interface Exported {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A histogram without labels: cumulative `_bucket{le}`, `_sum` and `_count`, as prom-client's. */
export class HotHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly bounds: Float64Array;
  /** Per bucket, not cumulative; the last one is +Inf. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(readonly name: string, readonly help: string, upperBounds: readonly number[], registry: Registry) {
    const sorted = [...upperBounds].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new Error(`histogram ${name}: bucket bounds must be finite, distinct and at least one`);
    }
    this.bounds = Float64Array.from(sorted);
    this.counts = new Float64Array(sorted.length + 1);
    registry.registerMetric(this as unknown as Metric);
  }

  /** A value that is not a finite number is dropped (prom-client would throw on the request path). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Exported[] } {
    const bucket = `${this.name}_bucket`;
    const values: Exported[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: this.bounds[i]! }, value: acc, metricName: bucket });
    }
    values.push(
      { labels: { le: "+Inf" }, value: this.count, metricName: bucket },
      { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.count, metricName: `${this.name}_count` },
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** One label set's count: keep it; `inc` is an addition. */
export interface HotCounterChild {
  inc(by?: number): void;
}

class CounterChild<L extends string> implements HotCounterChild {
  value = 0;
  constructor(readonly labels: Readonly<Record<L, string>>) {}

  /** A negative or non-finite increment is dropped: a counter only goes up. */
  inc(by = 1): void {
    if (by >= 0 && Number.isFinite(by)) this.value += by;
  }
}

/** A counter with labels; each label set's child is made once and found by its values. */
export class HotCounter<L extends string> {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly children = new Map<string, CounterChild<L>>();

  constructor(readonly name: string, readonly help: string, private readonly labelNames: readonly L[], registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  labels(labels: Record<L, string>): HotCounterChild {
    let key = "";
    for (const n of this.labelNames) key += `${labels[n]}\u0000`;
    let c = this.children.get(key);
    if (c === undefined) {
      c = new CounterChild(Object.fromEntries(this.labelNames.map((n) => [n, labels[n]])) as Record<L, string>);
      this.children.set(key, c);
    }
    return c;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Exported[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.children.values()].map((c) => ({ labels: { ...c.labels }, value: c.value })) };
  }

  /** Zeroes every count; children already handed out stay valid. */
  reset(): void {
    for (const c of this.children.values()) c.value = 0;
  }
}
