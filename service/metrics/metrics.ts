/**
 * The service's Prometheus metrics, on a registry of their own (not prom-client's global one), so every
 * createMetrics() is independent: tests and several apps in one process never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { METRIC_NAMES } from "../config/schema";

export const PIPELINE_STAGES = ["decode", "batcher", "inference", "postprocess"] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Route label for requests that matched no route: bounded, never the raw URL. */
export const UNMATCHED_ROUTE = "unmatched";

const NON_COUNTERS_NAMED_TOTAL = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestsTotal: Counter<"method" | "route" | "status_code">;
  readonly httpRequestDuration: Histogram<"method" | "route" | "status_code">;
  /** One per image; status is "success" or the failure's kind. */
  readonly predictionsTotal: Counter<"model_name" | "status">;
  /** One per classify call (a /predict request, a /predict/batch request, a tensor batch). */
  readonly predictionLatency: Histogram<"model_name">;
  readonly stageDuration: Histogram<"stage">;
  readonly predictedClassTotal: Counter<"label">;
  readonly predictionConfidence: Histogram;
  readonly modelInfo: Gauge<"name" | "version" | "sha256">;
  readonly inflightRequests: Gauge;
  readonly batchSize: Histogram;
  readonly queueWait: Histogram;
  readonly queueDepth: Gauge;
}

export interface MetricsOptions {
  /** Collect prom-client's default process metrics (CPU, memory, event loop lag, ...). @default true */
  readonly processMetrics?: boolean;
  /** Pre-creates one series per label, so dashboards show zeros instead of gaps. @default [] */
  readonly labels?: readonly string[];
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
  const registers = [registry];

  const metrics: Metrics = {
    registry,
    httpRequestsTotal: new Counter({
      name: METRIC_NAMES.httpRequestsTotal,
      help: "HTTP requests answered, by method, route template and status code.",
      labelNames: ["method", "route", "status_code"] as const,
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: METRIC_NAMES.httpRequestDuration,
      help: "Time from receiving an HTTP request to finishing its response, in seconds.",
      labelNames: ["method", "route", "status_code"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    predictionsTotal: new Counter({
      name: METRIC_NAMES.predictionsTotal,
      help: 'Images classified, by model and outcome ("success" or the failure kind).',
      labelNames: ["model_name", "status"] as const,
      registers,
    }),
    predictionLatency: new Histogram({
      name: METRIC_NAMES.predictionLatency,
      help: "Time to classify one request's images (decode, queue, inference, postprocess), in seconds.",
      labelNames: ["model_name"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    stageDuration: new Histogram({
      name: METRIC_NAMES.stageDuration,
      help: "Time spent in each pipeline stage, in seconds: decode per image, batcher per image, inference per batch, postprocess per batch.",
      labelNames: ["stage"] as const,
      buckets: STAGE_BUCKETS,
      registers,
    }),
    predictedClassTotal: new Counter({
      name: METRIC_NAMES.predictedClassTotal,
      help: "Top-1 predictions by label; a shift in this mix can reveal input drift.",
      labelNames: ["label"] as const,
      registers,
    }),
    predictionConfidence: new Histogram({
      name: METRIC_NAMES.predictionConfidence,
      help: "Softmax probability of the top-1 class.",
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
      registers,
    }),
    modelInfo: new Gauge({
      name: METRIC_NAMES.modelInfo,
      help: "The model being served (always 1), labelled with its name, version and sha256.",
      labelNames: ["name", "version", "sha256"] as const,
      registers,
    }),
    inflightRequests: new Gauge({
      name: METRIC_NAMES.inflightRequests,
      help: "Prediction requests being handled right now.",
      registers,
    }),
    batchSize: new Histogram({
      name: METRIC_NAMES.batchSize,
      help: "Images per ONNX Runtime run.",
      buckets: powersOfTwo(options.maxBatchSize ?? 32),
      registers,
    }),
    queueWait: new Histogram({
      name: METRIC_NAMES.queueWait,
      help: "Time an image waited in the batcher's queue before its inference started, in seconds.",
      buckets: STAGE_BUCKETS,
      registers,
    }),
    queueDepth: new Gauge({
      name: METRIC_NAMES.queueDepth,
      help: "Images waiting in the batcher's queue.",
      registers,
    }),
  };

  for (const stage of PIPELINE_STAGES) metrics.stageDuration.zero({ stage });
  for (const label of options.labels ?? []) metrics.predictedClassTotal.inc({ label }, 0);
  metrics.queueDepth.set(0);
  metrics.inflightRequests.set(0);
  return metrics;
}

function powersOfTwo(max: number): number[] {
  const buckets: number[] = [];
  for (let b = 1; b < max; b *= 2) buckets.push(b);
  buckets.push(max);
  return buckets;
}
