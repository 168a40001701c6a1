/**
 * What makes a canary healthy, written once: the thresholds, the measurement window and the PromQL that measures
 * one release track. The Argo Rollouts AnalysisTemplate (rollout.ts) and `npm run release -- status`
 * (scripts/release.ts) both read them, so the automatic abort and the operator's verdict cannot disagree.
 *
 * No cdk8s here: the release script imports this module at run time.
 */
import { HTTP_CONTRACT, METRIC_NAMES } from "./service-contract";

/** A release track: the pods of one version, told apart by their `track` label. */
export type ReleaseTrack = "stable" | "canary";

/** Every track, stable first. */
export const RELEASE_TRACKS: readonly ReleaseTrack[] = ["stable", "canary"];

/** The pod label that names a pod's track; Prometheus copies it onto every series (podTargetLabels). */
export const TRACK_LABEL = "track";

/** The limits a track must stay within, over the measurement window. */
export interface CanaryThresholds {
  /** Largest share of answered requests that may be server errors (5xx), 0-1. */
  readonly maxErrorRatio: number;
  /** Largest 99th-percentile request latency, in seconds. */
  readonly maxP99LatencySeconds: number;
  /** The PromQL range every rate is taken over, for example "5m". */
  readonly window: string;
}

/**
 * 1% server errors: the service answers 5xx only for its own faults (timeouts, overload, inference errors), so a
 * model that raises that rate is broken. 500 ms p99: several times today's p99 at moderate load (bench/README.md),
 * low enough to catch a model that is much slower than the one it replaces.
 */
export const CANARY_THRESHOLDS: CanaryThresholds = {
  maxErrorRatio: 0.01,
  maxP99LatencySeconds: 0.5,
  window: "5m",
};

/** Which series to measure: the namespace and the track. */
export interface TrackSelector {
  readonly namespace: string;
  readonly track: ReleaseTrack;
}

// Kubelet probes and Prometheus scrapes are not client traffic: counting them would dilute both measurements.
const INTERNAL_ROUTES = [
  ...Object.values(HTTP_CONTRACT.probes),
  ...Object.values(HTTP_CONTRACT.probeAliases),
  HTTP_CONTRACT.metricsPath,
];

function seriesSelector({ namespace, track }: TrackSelector, extra = ""): string {
  return `{namespace="${namespace}",${TRACK_LABEL}="${track}",route!~"${INTERNAL_ROUTES.join("|")}"${extra}}`;
}

/** Server errors per answered request over the window; empty when the track served nothing. */
export function errorRatioQuery(selector: TrackSelector, window = CANARY_THRESHOLDS.window): string {
  const counter = METRIC_NAMES.httpRequestsTotal;
  // `or vector(0)`: a track without a single 5xx has no 5xx series at all, which must read as 0, not as no data.
  return (
    `(sum(rate(${counter}${seriesSelector(selector, ',status_code=~"5.."')}[${window}])) or vector(0))` +
    ` / sum(rate(${counter}${seriesSelector(selector)}[${window}]))`
  );
}

/** The 99th percentile of request latency over the window, in seconds; empty or NaN when the track served nothing. */
export function p99LatencyQuery(selector: TrackSelector, window = CANARY_THRESHOLDS.window): string {
  const histogram = `${METRIC_NAMES.httpRequestDuration}_bucket`;
  return `histogram_quantile(0.99, sum by (le) (rate(${histogram}${seriesSelector(selector)}[${window}])))`;
}

/**
 * The same two measurements for every track of a namespace at once (`by (namespace, track)`), from the same
 * selectors: the PrometheusRule records them (RECORDED.releaseErrorRatio, RECORDED.releaseP99Latency) so a dashboard
 * shows exactly what the analysis judges. The analysis itself keeps the raw queries above, which work before the
 * rules are loaded and need no evaluation interval to pass.
 */
export function errorRatioByTrackExpr(namespace: string, window = CANARY_THRESHOLDS.window): string {
  const counter = METRIC_NAMES.httpRequestsTotal;
  const all = `{namespace="${namespace}",route!~"${INTERNAL_ROUTES.join("|")}"`;
  const total = `sum by (namespace, ${TRACK_LABEL}) (rate(${counter}${all}}[${window}]))`;
  // "or 0 * total": a track without a single 5xx records 0, as `or vector(0)` makes the per-track query read 0.
  return `(\n  sum by (namespace, ${TRACK_LABEL}) (rate(${counter}${all},status_code=~"5.."}[${window}]))\n  or\n  0 * ${total}\n)\n/\n${total}`;
}

/** The per-track p99 latency of every track of a namespace (see errorRatioByTrackExpr). */
export function p99LatencyByTrackExpr(namespace: string, window = CANARY_THRESHOLDS.window): string {
  const histogram = `${METRIC_NAMES.httpRequestDuration}_bucket`;
  const all = `{namespace="${namespace}",route!~"${INTERNAL_ROUTES.join("|")}"}`;
  return `histogram_quantile(0.99, sum by (namespace, ${TRACK_LABEL}, le) (rate(${histogram}${all}[${window}])))`;
}

/** One track's measurements; undefined where Prometheus had no data. */
export interface TrackMeasurement {
  readonly errorRatio?: number;
  readonly p99LatencySeconds?: number;
}

/** What a track's measurements say: healthy, unhealthy (with reasons) or not enough data to tell. */
export type TrackVerdict =
  | { readonly outcome: "healthy" }
  | { readonly outcome: "unhealthy"; readonly reasons: readonly string[] }
  | { readonly outcome: "no-data"; readonly reasons: readonly string[] };

/** Judges one track against the thresholds, exactly as the AnalysisTemplate's conditions do. */
export function judgeTrack(measurement: TrackMeasurement, thresholds: CanaryThresholds = CANARY_THRESHOLDS): TrackVerdict {
  const missing: string[] = [];
  const failed: string[] = [];
  const { errorRatio, p99LatencySeconds } = measurement;
  if (errorRatio === undefined || Number.isNaN(errorRatio)) missing.push("no error ratio (no requests in the window)");
  else if (!(errorRatio <= thresholds.maxErrorRatio)) {
    failed.push(`error ratio ${formatRatio(errorRatio)} is above ${formatRatio(thresholds.maxErrorRatio)}`);
  }
  if (p99LatencySeconds === undefined || Number.isNaN(p99LatencySeconds)) missing.push("no p99 latency (no requests in the window)");
  else if (!(p99LatencySeconds <= thresholds.maxP99LatencySeconds)) {
    failed.push(`p99 latency ${formatSeconds(p99LatencySeconds)} is above ${formatSeconds(thresholds.maxP99LatencySeconds)}`);
  }
  if (failed.length > 0) return { outcome: "unhealthy", reasons: failed };
  if (missing.length > 0) return { outcome: "no-data", reasons: missing };
  return { outcome: "healthy" };
}

/** The AnalysisTemplate's success conditions (Argo Rollouts' expr language), from the same thresholds. */
export function successConditions(thresholds: CanaryThresholds = CANARY_THRESHOLDS): {
  readonly errorRatio: string;
  readonly p99Latency: string;
} {
  return {
    errorRatio: `result[0] <= ${thresholds.maxErrorRatio}`,
    p99Latency: `result[0] <= ${thresholds.maxP99LatencySeconds}`,
  };
}

export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

export function formatSeconds(seconds: number): string {
  return `${Math.round(seconds * 1000)} ms`;
}
