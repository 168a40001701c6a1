/**
 * The names the monitoring shares: the recorded series (written by monitoring-rules.ts, read by the dashboard, the
 * release analysis' dashboard panels and the tests), the routes that count as predictions, and the
 * kube-state-metrics series the health alerts read. Names only, no expressions.
 */
import { CANARY_THRESHOLDS } from "./canary-analysis";
import { METRIC_NAMES } from "./service-contract";

/**
 * kube-state-metrics series the health alerts read (names as kube-state-metrics 2.x exports them; kube-prometheus-
 * stack installs it). The service does not export these, so they are not in the metric table.
 */
export const KUBE_STATE_METRICS = {
  hpaCurrentReplicas: "kube_horizontalpodautoscaler_status_current_replicas",
  hpaMaxReplicas: "kube_horizontalpodautoscaler_spec_max_replicas",
  podReady: "kube_pod_status_ready",
  containerRestarts: "kube_pod_container_status_restarts_total",
} as const;

/**
 * Routes whose requests are predictions, as a regex over the `route` label (route templates): /predict,
 * /predict/batch and the Open Inference Protocol's infer, with or without a version. Probes, /metrics, docs and
 * model metadata are not part of the SLO.
 */
export const PREDICTION_ROUTES = "/predict.*|/v2/.*infer";

/** Labels requests and predictions are grouped by. */
export const VERSION_GROUPING_LABELS = ["namespace", "model_version", "track"] as const;

/** Quantiles recorded from each latency histogram. */
export const LATENCY_QUANTILES = [0.5, 0.9, 0.99] as const;
/** Quantiles recorded per pipeline stage. */
export const STAGE_QUANTILES = [0.5, 0.99] as const;

const quantileName = (q: number) => `p${Math.round(q * 100)}`;
const VERSION_LEVEL = "namespace_model_version_track";

/**
 * Names of the recorded series, one place for the rules, the dashboard and the tests. Windows in names are the
 * production ones (RuleTiming can shorten them for tests; the names stay).
 */
export const RECORDED = {
  /** Requests per second per pod: the same expression prometheus-adapter serves the HPA. */
  podRequestRate: `namespace_pod_track:${METRIC_NAMES.httpRequestsTotal.replace(/_total$/, "")}:rate2m`,
  predictionRequestRate: `${VERSION_LEVEL}:prediction_requests:rate5m`,
  serverErrorRatio: `${VERSION_LEVEL}:prediction_requests_5xx:ratio_rate5m`,
  overloadedRatio: `${VERSION_LEVEL}:prediction_requests_503:ratio_rate5m`,
  clientErrorRatio: `${VERSION_LEVEL}:prediction_requests_4xx:ratio_rate5m`,
  predictionsByStatus: `${VERSION_LEVEL}_status:${METRIC_NAMES.predictionsTotal.replace(/_total$/, "")}:rate5m`,
  predictionLatency: (q: number) => `${VERSION_LEVEL}:${METRIC_NAMES.predictionLatency}:${quantileName(q)}_rate5m`,
  httpLatency: (q: number) => `${VERSION_LEVEL}:${METRIC_NAMES.httpRequestDuration}:${quantileName(q)}_rate5m`,
  stageDuration: (q: number) => `namespace_track_stage:${METRIC_NAMES.stageDuration}:${quantileName(q)}_rate5m`,
  queueWait: `namespace_track:${METRIC_NAMES.queueWait}:p99_rate5m`,
  batchSizeMean: `namespace_track:${METRIC_NAMES.batchSize}:mean_rate5m`,
  queueDepthMax: `namespace_track:${METRIC_NAMES.queueDepth}:max`,
  inflightMax: `namespace_track:${METRIC_NAMES.inflightRequests}:max`,
  classMix: `${VERSION_LEVEL}_label:${METRIC_NAMES.predictedClassTotal.replace(/_total$/, "")}:ratio_rate5m`,
  confidenceMedian: `${VERSION_LEVEL}:${METRIC_NAMES.predictionConfidence}:p50_rate5m`,
  /** What the release analysis judges (canary-analysis.ts): 5xx share of client requests per track. */
  releaseErrorRatio: `namespace_track:release_analysis_errors:ratio_rate${CANARY_THRESHOLDS.window}`,
  /** What the release analysis judges: p99 HTTP latency of client requests per track. */
  releaseP99Latency: `namespace_track:release_analysis_latency:p99_rate${CANARY_THRESHOLDS.window}`,
  /** Share of prediction requests that failed on the server, over a burn-rate window. */
  availabilityErrorRatio: (window: string) => `${VERSION_LEVEL}:slo_availability_errors:ratio_rate${window}`,
  /** Share of prediction calls slower than the latency objective, over a burn-rate window. */
  latencySlowRatio: (window: string) => `${VERSION_LEVEL}:slo_latency_slow:ratio_rate${window}`,
} as const;
