import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';

const BOUNDS = [0.001, 0.005, 0.01, 0.1, 1];

describe('LatencyHistogram', () => {
  it("renders exactly what prom-client's Histogram renders for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new LatencyHistogram('x_seconds', 'How long x took', BOUNDS, ours);
    const reference = new Histogram({ name: 'x_seconds', help: 'How long x took', buckets: BOUNDS, registers: [theirs] });
    for (const value of [0, 0.0005, 0.001, 0.003, 0.01, 0.02, 0.5, 1, 2, 30]) {
      fast.observe(value);
      reference.observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="0.01"} 5');
  });

  it('renders zeros before any observation and after a reset', async () => {
    const registry = new Registry();
    const fast = new LatencyHistogram('y_seconds', 'y', BOUNDS, registry);
    const empty = await registry.metrics();
    expect(empty).toContain('y_seconds_bucket{le="+Inf"} 0');
    expect(empty).toContain('y_seconds_count 0');
    fast.observe(0.002);
    expect(await registry.metrics()).toContain('y_seconds_count 1');
    registry.resetMetrics();
    expect(await registry.metrics()).toBe(empty);
  });

  it('ignores a value that is not a finite number', async () => {
    const registry = new Registry();
    const fast = new LatencyHistogram('z_seconds', 'z', BOUNDS, registry);
    fast.observe(Number.NaN);
    fast.observe(Infinity);
    expect(await registry.metrics()).toContain('z_seconds_count 0');
  });
});
