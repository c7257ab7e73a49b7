/**
 * Histograms counted by the hot path into plain arrays and read only when scraped. prom-client's
 * Histogram can only be fed by observe() (label lookup, object churn), so this is a metric
 * object of our own; Registry takes any object with name, get() and reset() (its cluster
 * aggregator registers such objects too).
 */
import type { Metric } from 'prom-client';
import type { LatencyHistogram } from './query-stats.js';

/** Bucket counts for one series: observe() is a short loop and three increments. */
export class BucketCounts {
  readonly counts: Float64Array;
  sumUs = 0;
  count = 0;
  constructor(readonly boundsUs: readonly number[]) {
    this.counts = new Float64Array(boundsUs.length + 1);
  }
  observe(micros: number): void {
    const bounds = this.boundsUs;
    let i = 0;
    while (i < bounds.length && micros > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumUs += micros;
    this.count++;
  }
  read(): LatencyHistogram {
    return { boundsUs: this.boundsUs, counts: Array.from(this.counts), sumUs: this.sumUs, count: this.count };
  }
}

export interface HistogramSeries {
  readonly labels: Record<string, string>;
  readonly histogram: LatencyHistogram;
}

/** A Prometheus histogram (in seconds) over series read at scrape time. */
export function precountedHistogram(name: string, help: string, read: () => readonly HistogramSeries[]): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const { labels, histogram: h } of read()) {
        let cumulative = 0;
        h.boundsUs.forEach((us, i) => {
          cumulative += h.counts[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: us / 1e6 }, value: cumulative });
        });
        cumulative += h.counts[h.boundsUs.length]!;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels, value: h.sumUs / 1e6 });
        values.push({ metricName: `${name}_count`, labels, value: h.count });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
    reset() {
      // Precounted: nothing of ours to reset.
    },
  };
  return metric as unknown as Metric;
}
