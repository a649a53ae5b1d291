import type { Metric, Registry } from 'prom-client';

/**
 * A histogram without labels, observed on the hot path as plain numbers (a
 * scan of a dozen bounds and three additions) and rendered by the registry
 * like prom-client's own (`_bucket` per bound and `+Inf`, `_sum`, `_count`).
 * prom-client's `observe` hashes a label object and allocates on every call;
 * these are observed once per message.
 */
export class LatencyHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.counts = bounds.map(() => 0);
    // The registry needs only a name, help, type and `get()`; its types list prom-client's own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i] += 1;
    this.sum += value;
    this.count += 1;
  }

  /** What the registry renders: cumulative bucket counts, then the sum and count. */
  async get() {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const values = this.bounds.map((le, i) => {
      cumulative += this.counts[i];
      return { labels: { le: le as number | string }, value: cumulative, metricName: bucket };
    });
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: bucket });
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [
        ...values,
        { labels: {}, value: this.sum, metricName: `${this.name}_sum` },
        { labels: {}, value: this.count, metricName: `${this.name}_count` },
      ],
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
