/**
 * What the classifier's dashboard shows: its rows and panels, each a query of a recorded series (recorded-series.ts)
 * filtered by the dashboard's variables. dashboard.ts lays them out as Grafana JSON.
 */
import { CANARY_THRESHOLDS } from "./canary-analysis";
import { LATENCY_QUANTILES, RECORDED, STAGE_QUANTILES } from "./recorded-series";
import type { SloObjectives } from "./slo";

/** The configured limits and objectives the panels draw. */
export interface DashboardLimits {
  /** CLASSIFIER_MAX_QUEUE, drawn as the queue panel's limit. */
  readonly maxQueue: number;
  /** CLASSIFIER_MAX_CONCURRENT_REQUESTS, drawn as the in-flight panel's limit. */
  readonly maxConcurrentRequests: number;
  /** The objectives whose burn rates are drawn. */
  readonly objectives: SloObjectives;
}

/** Matchers every recorded series of the environment takes from the dashboard's variables. */
const BY_TRACK = 'namespace="$namespace", track=~"$track"';
const BY_VERSION = `${BY_TRACK}, model_version=~"$model_version"`;
/** Windows whose burn rate the dashboard draws: the fast tier's pair and the medium tier's long window. */
const BURN_WINDOWS = ["5m", "1h", "6h"] as const;

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: ReadonlyArray<{ readonly expr: string; readonly legend: string }>;
  /** A red line at this value (a configured limit). */
  readonly limit?: number;
  readonly stacked?: boolean;
}

/** The dashboard's rows, each a list of panels. */
export function panelSpecs(props: DashboardLimits): ReadonlyArray<{ readonly row: string; readonly panels: readonly PanelSpec[] }> {
  const availabilityBudget = Number((1 - props.objectives.availability).toPrecision(6));
  const latencyBudget = Number((1 - props.objectives.latency.target).toPrecision(6));
  const version = "{{track}} {{model_version}}";
  return [
    {
      row: "Traffic",
      panels: [
        {
          title: "Prediction requests per second",
          description: "Requests to /predict, /predict/batch and /v2 infer, by track and model version.",
          unit: "reqps",
          queries: [{ expr: `${RECORDED.predictionRequestRate}{${BY_VERSION}}`, legend: version }],
        },
        {
          title: "Requests per second per pod (the HPA's metric)",
          description: "The recording of what prometheus-adapter serves as http_requests_per_second.",
          unit: "reqps",
          queries: [{ expr: `${RECORDED.podRequestRate}{${BY_TRACK}}`, legend: "{{pod}}" }],
        },
      ],
    },
    {
      row: "Errors",
      panels: [
        {
          title: "Error ratios: server (5xx), overloaded (503), client (4xx)",
          description: "Share of prediction requests answered with each class of error over 5 minutes.",
          unit: "percentunit",
          queries: [
            { expr: `${RECORDED.serverErrorRatio}{${BY_VERSION}}`, legend: `5xx ${version}` },
            { expr: `${RECORDED.overloadedRatio}{${BY_VERSION}}`, legend: `503 ${version}` },
            { expr: `${RECORDED.clientErrorRatio}{${BY_VERSION}}`, legend: `4xx ${version}` },
          ],
        },
        {
          title: "Availability error budget burn rate",
          description: `Server-error ratio divided by the budget (${availabilityBudget}); 1 spends it in exactly 30 days, 14.4 over 1h and 5m pages.`,
          unit: "none",
          queries: BURN_WINDOWS.map((window) => ({
            expr: `${RECORDED.availabilityErrorRatio(window)}{${BY_VERSION}} / ${availabilityBudget}`,
            legend: `${window} ${version}`,
          })),
        },
        {
          title: "Predictions by outcome",
          description: 'Images classified per second, by status ("success" or the failure kind).',
          unit: "ops",
          queries: [{ expr: `${RECORDED.predictionsByStatus}{${BY_VERSION}}`, legend: `{{status}} ${version}` }],
          stacked: true,
        },
      ],
    },
    {
      row: "Latency",
      panels: [
        {
          title: "Prediction latency quantiles",
          description: "Time to classify one request's images (decode, queue, inference, postprocess).",
          unit: "s",
          queries: LATENCY_QUANTILES.map((q) => ({
            expr: `${RECORDED.predictionLatency(q)}{${BY_VERSION}}`,
            legend: `p${Math.round(q * 100)} ${version}`,
          })),
        },
        {
          title: "HTTP latency quantiles (prediction routes)",
          description: "From receiving a prediction request to finishing its response, upload included.",
          unit: "s",
          queries: LATENCY_QUANTILES.map((q) => ({
            expr: `${RECORDED.httpLatency(q)}{${BY_VERSION}}`,
            legend: `p${Math.round(q * 100)} ${version}`,
          })),
        },
        {
          title: "Latency error budget burn rate",
          description: `Share of predictions slower than ${props.objectives.latency.thresholdSeconds * 1000} ms divided by the budget (${latencyBudget}).`,
          unit: "none",
          queries: BURN_WINDOWS.map((window) => ({
            expr: `${RECORDED.latencySlowRatio(window)}{${BY_VERSION}} / ${latencyBudget}`,
            legend: `${window} ${version}`,
          })),
        },
      ],
    },
    {
      row: "Pipeline",
      panels: [
        {
          title: "Pipeline stage durations",
          description: "decode and batcher per image, inference and postprocess per batch.",
          unit: "s",
          queries: STAGE_QUANTILES.map((q) => ({
            expr: `${RECORDED.stageDuration(q)}{${BY_TRACK}}`,
            legend: `{{stage}} p${Math.round(q * 100)} {{track}}`,
          })),
        },
        {
          title: "Batch size",
          description: "Mean images per ONNX Runtime run.",
          unit: "none",
          queries: [{ expr: `${RECORDED.batchSizeMean}{${BY_TRACK}}`, legend: "{{track}}" }],
        },
        {
          title: "Inference queue depth (largest pod)",
          description: `Images waiting for inference; at CLASSIFIER_MAX_QUEUE (${props.maxQueue}) new ones get 503.`,
          unit: "none",
          queries: [{ expr: `${RECORDED.queueDepthMax}{${BY_TRACK}}`, legend: "{{track}}" }],
          limit: props.maxQueue,
        },
        {
          title: "Queue wait p99",
          description: "Time an image waited in the batcher's queue before its inference started.",
          unit: "s",
          queries: [{ expr: `${RECORDED.queueWait}{${BY_TRACK}}`, legend: "{{track}}" }],
        },
        {
          title: "In-flight prediction requests (largest pod)",
          description: `At CLASSIFIER_MAX_CONCURRENT_REQUESTS (${props.maxConcurrentRequests}) new requests get 503.`,
          unit: "none",
          queries: [{ expr: `${RECORDED.inflightMax}{${BY_TRACK}}`, legend: "{{track}}" }],
          limit: props.maxConcurrentRequests,
        },
      ],
    },
    {
      row: "Model",
      panels: [
        {
          title: "Class mix",
          description: "Share of top-1 predictions per label; a shift can reveal input drift.",
          unit: "percentunit",
          queries: [{ expr: `${RECORDED.classMix}{${BY_VERSION}}`, legend: `{{label}} ${version}` }],
          stacked: true,
        },
        {
          title: "Top-1 confidence, median",
          description: "Median softmax probability of the top-1 class.",
          unit: "percentunit",
          queries: [{ expr: `${RECORDED.confidenceMedian}{${BY_VERSION}}`, legend: version }],
        },
      ],
    },
    {
      row: "Release analysis",
      panels: [
        {
          title: "Release analysis: 5xx share per track",
          description:
            "What the canary analysis judges (all client requests, probes and scrapes left out); the red line is " +
            "the threshold that aborts a Rollout and fails `npm run release -- status`.",
          unit: "percentunit",
          queries: [{ expr: `${RECORDED.releaseErrorRatio}{${BY_TRACK}}`, legend: "{{track}}" }],
          limit: CANARY_THRESHOLDS.maxErrorRatio,
        },
        {
          title: "Release analysis: p99 latency per track",
          description: "The canary analysis' p99 HTTP latency; the red line is its threshold.",
          unit: "s",
          queries: [{ expr: `${RECORDED.releaseP99Latency}{${BY_TRACK}}`, legend: "{{track}}" }],
          limit: CANARY_THRESHOLDS.maxP99LatencySeconds,
        },
      ],
    },
  ];
}
