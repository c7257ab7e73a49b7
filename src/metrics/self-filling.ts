/**
 * Counters and gauges that fill themselves from plain numbers at every scrape (prom-client's
 * collect()), so request and query paths only bump fields and never call prom-client.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type Fill<L extends string> = (set: (labels: Partial<Record<L, string>>, value: number) => void) => void;

export function selfFillingMetrics(registry: Registry) {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void => {
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter<L>) {
        this.reset();
        fill((labels, value) => this.inc(labels, value));
      },
    });
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: Fill<L>): void => {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Gauge<L>) {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });
  };
  const unlabelled =
    (value: () => number): Fill<never> =>
    (set) =>
      set({}, value());
  return { counter, gauge, unlabelled };
}
