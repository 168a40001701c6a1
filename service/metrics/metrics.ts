/**
 * The service's Prometheus metrics, on a registry of their own (not prom-client's global one), so every
 * createMetrics() is independent: tests and several apps in one process never share counters.
 *
 * Which metrics exist, and their names, help, labels and buckets, is METRIC_DEFINITIONS
 * (service/contract/metrics.ts); this module only turns that table into prom-client objects.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { METRIC_DEFINITIONS, type MetricBuckets, type MetricDefinition, type MetricKey } from "../contract/metrics";

export const PIPELINE_STAGES = ["decode", "batcher", "inference", "postprocess"] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Route label for requests that matched no route: bounded, never the raw URL. */
export const UNMATCHED_ROUTE = "unmatched";

const NON_COUNTERS_NAMED_TOTAL = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

type Definitions = typeof METRIC_DEFINITIONS;
type LabelsOf<D> = D extends { readonly labels: readonly (infer L extends string)[] } ? L : never;
/** prom-client's own default (any label name) stands for "no labels", as the hand-written types had it. */
type Instrument<D> = [LabelsOf<D>] extends [never]
  ? D extends { readonly type: "counter" } ? Counter : D extends { readonly type: "gauge" } ? Gauge : Histogram
  : D extends { readonly type: "counter" }
    ? Counter<LabelsOf<D>>
    : D extends { readonly type: "gauge" }
      ? Gauge<LabelsOf<D>>
      : Histogram<LabelsOf<D>>;

/** One prom-client object per METRIC_DEFINITIONS entry, typed by its type and labels, and their registry. */
export type Metrics = { readonly registry: Registry } & { readonly [K in MetricKey]: Instrument<Definitions[K]> };

export interface MetricsOptions {
  /** Collect prom-client's default process metrics (CPU, memory, event loop lag, ...). @default true */
  readonly processMetrics?: boolean;
  /** Largest batch the batcher may form, for the batch size buckets. @default 32 */
  readonly maxBatchSize?: number;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // Gauges named *_total break Prometheus naming rules (promtool check metrics); the same counts remain
    // per type in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of NON_COUNTERS_NAMED_TOTAL) registry.removeSingleMetric(name);
  }
  const instruments: Record<string, Counter | Gauge | Histogram> = {};
  for (const [key, definition] of Object.entries(METRIC_DEFINITIONS) as [MetricKey, MetricDefinition][]) {
    instruments[key] = instrument(definition, registry, options.maxBatchSize ?? 32);
  }
  // Each entry was built from its own definition's type and labels, which is what the mapped type states.
  const metrics = { registry, ...instruments } as unknown as Metrics;

  // Per-version series (stages, labels, queue depth) are pre-created by each version's pipeline.
  metrics.inflightRequests.set(0);
  return metrics;
}

function instrument(definition: MetricDefinition, registry: Registry, maxBatchSize: number): Counter | Gauge | Histogram {
  const common = { name: definition.name, help: definition.help, labelNames: [...definition.labels], registers: [registry] };
  switch (definition.type) {
    case "counter":
      return new Counter(common);
    case "gauge":
      return new Gauge(common);
    case "histogram":
      return new Histogram({ ...common, buckets: bucketsOf(definition.name, definition.buckets, maxBatchSize) });
  }
}

function bucketsOf(name: string, buckets: MetricBuckets | undefined, maxBatchSize: number): number[] {
  if (buckets === undefined) throw new Error(`Histogram ${name} has no buckets in METRIC_DEFINITIONS`);
  return buckets === "batch-sizes" ? powersOfTwo(maxBatchSize) : [...buckets];
}

function powersOfTwo(max: number): number[] {
  const buckets: number[] = [];
  for (let b = 1; b < max; b *= 2) buckets.push(b);
  buckets.push(max);
  return buckets;
}
