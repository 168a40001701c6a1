/**
 * Every metric the service exports, defined once: name, type, help, labels and buckets. The prom-client
 * registry and the `Metrics` type (service/metrics/metrics.ts) are derived from this table, and infra/ (the
 * ServiceMonitor, the prometheus-adapter rule) reads the names from it, so adding a metric touches one entry.
 *
 * This module must stay free of runtime dependencies (no prom-client, express): infra/ imports it.
 */

type MetricType = "counter" | "gauge" | "histogram";

/**
 * Histogram buckets: fixed upper bounds, or "batch-sizes" for powers of two up to the batcher's largest batch
 * (known only from the configuration).
 */
export type MetricBuckets = readonly number[] | "batch-sizes";

export interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** Label names; empty for a single series. */
  readonly labels: readonly string[];
  /** Histograms only. */
  readonly buckets?: MetricBuckets;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;
const HTTP_LABELS = ["method", "route", "status_code"] as const;
const GRPC_LABELS = ["method", "code"] as const;
/** Which loaded version of the model did the work: every prediction metric carries it. */
const MODEL_VERSION = "model_version";

/** Keys are the fields of the `Metrics` object the service records with. */
export const METRIC_DEFINITIONS = {
  httpRequestsTotal: {
    name: "http_requests_total",
    type: "counter",
    help: "HTTP requests answered, by method, route template and status code.",
    labels: HTTP_LABELS,
  },
  httpRequestDuration: {
    name: "http_request_duration_seconds",
    type: "histogram",
    help: "Time from receiving an HTTP request to finishing its response, in seconds.",
    labels: HTTP_LABELS,
    buckets: LATENCY_BUCKETS,
  },
  /** gRPC calls on CLASSIFIER_GRPC_PORT; method is "<service>/<rpc>", code the gRPC status name (OK, INVALID_ARGUMENT, ...). */
  grpcRequestsTotal: {
    name: "grpc_requests_total",
    type: "counter",
    help: "gRPC calls answered, by method and status code name.",
    labels: GRPC_LABELS,
  },
  grpcRequestDuration: {
    name: "grpc_request_duration_seconds",
    type: "histogram",
    help: "Time from receiving a gRPC call to sending its status, in seconds.",
    labels: GRPC_LABELS,
    buckets: LATENCY_BUCKETS,
  },
  /** One per image; status is "success" or the failure's kind. */
  predictionsTotal: {
    name: "predictions_total",
    type: "counter",
    help: 'Images classified, by model, version and outcome ("success" or the failure kind).',
    labels: ["model_name", MODEL_VERSION, "status"],
  },
  /** One per classify call (a /predict request, a /predict/batch request, a tensor batch). */
  predictionLatency: {
    name: "prediction_latency_seconds",
    type: "histogram",
    help: "Time to classify one request's images (decode, queue, inference, postprocess), in seconds.",
    labels: ["model_name", MODEL_VERSION],
    buckets: LATENCY_BUCKETS,
  },
  stageDuration: {
    name: "pipeline_stage_duration_seconds",
    type: "histogram",
    help: "Time spent in each pipeline stage, in seconds: decode per image, batcher per image, inference per batch, postprocess per batch.",
    labels: [MODEL_VERSION, "stage"],
    buckets: STAGE_BUCKETS,
  },
  predictedClassTotal: {
    name: "predicted_class_total",
    type: "counter",
    help: "Top-1 predictions by version and label; a shift in this mix can reveal input drift.",
    labels: [MODEL_VERSION, "label"],
  },
  predictionConfidence: {
    name: "prediction_confidence",
    type: "histogram",
    help: "Softmax probability of the top-1 class, by version.",
    labels: [MODEL_VERSION],
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
  },
  modelInfo: {
    name: "model_info",
    type: "gauge",
    help: "The model versions being served (always 1), one series per loaded version, labelled with its name, version and sha256.",
    labels: ["name", "version", "sha256"],
  },
  inflightRequests: {
    name: "inflight_requests",
    type: "gauge",
    help: "Prediction requests being handled right now.",
    labels: [],
  },
  batchSize: {
    name: "inference_batch_size",
    type: "histogram",
    help: "Images per ONNX Runtime run, by version (each version has its own batcher).",
    labels: [MODEL_VERSION],
    buckets: "batch-sizes",
  },
  queueWait: {
    name: "inference_queue_wait_seconds",
    type: "histogram",
    help: "Time an image waited in its version's batcher queue before its inference started, in seconds.",
    labels: [MODEL_VERSION],
    buckets: STAGE_BUCKETS,
  },
  queueDepth: {
    name: "inference_queue_depth",
    type: "gauge",
    help: "Images waiting in each version's batcher queue.",
    labels: [MODEL_VERSION],
  },
} as const satisfies Readonly<Record<string, MetricDefinition>>;

export type MetricKey = keyof typeof METRIC_DEFINITIONS;

/** Metrics computed outside the service from the ones it exports. */
const DERIVED_METRIC_NAMES = {
  /** Derived by the prometheus-adapter rule from http_requests_total; the HPA's Pods metric. */
  requestsPerSecond: "http_requests_per_second",
} as const;

type MetricNames = { readonly [K in MetricKey]: (typeof METRIC_DEFINITIONS)[K]["name"] } & typeof DERIVED_METRIC_NAMES;

/** Every metric name by key, the exported ones and the derived ones, for infra/ and the benchmark. */
export const METRIC_NAMES: MetricNames = {
  ...(Object.fromEntries(
    Object.entries(METRIC_DEFINITIONS).map(([key, definition]) => [key, definition.name]),
  ) as { readonly [K in MetricKey]: (typeof METRIC_DEFINITIONS)[K]["name"] }),
  ...DERIVED_METRIC_NAMES,
};
