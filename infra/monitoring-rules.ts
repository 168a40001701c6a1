/**
 * The classifier's Prometheus rules, built from the metric table (service/contract/metrics.ts): recording rules
 * for what the HPA, the dashboard and the release analysis read, SLO burn-rate alerts, and saturation and health
 * alerts. Pure data: infra/prometheus-rule.ts wraps it in a PrometheusRule, the dashboard (infra/dashboard.ts)
 * queries the recorded names from RECORDED, and the tests feed the same groups to promtool and to a real
 * Prometheus.
 *
 * Every selector is scoped to one namespace, so two environments' rules in one Prometheus never record the same
 * series. Requests are grouped by `model_version` and `track` (the ServiceMonitor's target label); a `by` on a
 * label a series lacks still evaluates, with the label empty.
 */
import { errorRatioByTrackExpr, p99LatencyByTrackExpr } from "./canary-analysis";
import { durationSeconds, formatDuration } from "./durations";
import { DEFAULT_REQUEST_RATE_WINDOW } from "./prometheus-adapter";
import {
  VERSION_GROUPING_LABELS,
  KUBE_STATE_METRICS,
  LATENCY_QUANTILES,
  PREDICTION_ROUTES,
  RECORDED,
  STAGE_QUANTILES,
} from "./recorded-series";
import { METRIC_DEFINITIONS, METRIC_NAMES } from "./service-contract";
import { BURN_RATE_TIERS, burnRateWindows, type AlertSeverity, type SloObjectives, assertObjectives } from "./slo";

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: AlertSeverity } & Readonly<Record<string, string>>;
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: ReadonlyArray<RecordingRule | AlertingRule>;
}

/**
 * Shorter windows, for tests against a real Prometheus that cannot wait an hour. Production leaves both unset; the
 * expressions are otherwise the same builder output.
 */
export interface RuleTiming {
  /**
   * Divides every burn-rate window and every alert's `for` by this factor (60 turns 1h into 1m and 2m into 2s).
   * @default 1
   */
  readonly timeScale?: number;
  /**
   * The window of the per-pod request rate; keep it equal to the prometheus-adapter rule's.
   * @default "2m" (DEFAULT_REQUEST_RATE_WINDOW)
   */
  readonly requestRateWindow?: string;
}

export interface MonitoringRulesProps {
  /** Namespace every selector is scoped to. */
  readonly namespace: string;
  /** Group names start with it, e.g. "pyramidnet-production". */
  readonly groupPrefix: string;
  /**
   * The workloads (Deployments or a Rollout) whose pods the health alerts watch: their pods are named
   * `<workload>-...`. Both tracks' Deployments where a release has a canary.
   */
  readonly workloadNames: readonly string[];
  /** The classifier's container name (restarts). */
  readonly containerName: string;
  /**
   * The HPAs' names; each gets its own "HPA at its maximum" alert series.
   * @default - none: no "HPA at its maximum" alert
   */
  readonly autoscalerNames?: readonly string[];
  /** CLASSIFIER_MAX_QUEUE of the rendered config. */
  readonly maxQueue: number;
  /** CLASSIFIER_MAX_CONCURRENT_REQUESTS of the rendered config. */
  readonly maxConcurrentRequests: number;
  /** The environment's objectives. */
  readonly objectives: SloObjectives;
  /** The runbook; each alert links to `<runbookUrl>#<its section's anchor>`. */
  readonly runbookUrl: string;
  /**
   * Share of a limit (queue, concurrency) above which the saturation alerts fire.
   * @default 0.8
   */
  readonly saturationRatio?: number;
  /** @default production timing (see RuleTiming) */
  readonly timing?: RuleTiming;
}

/** The runbook section of each alert (anchors of docs/runbook.md headings). */
export const RUNBOOK_ANCHORS = {
  availabilityBurn: "availability-error-budget-burn",
  latencyBurn: "latency-error-budget-burn",
  queueNearFull: "inference-queue-near-full",
  inflightNearLimit: "in-flight-requests-near-the-limit",
  sustainedOverload: "sustained-503-overload",
  autoscalerAtMaximum: "hpa-at-its-maximum",
  podNotReady: "pod-not-ready",
  podRestarting: "pod-restarting",
} as const;

/** `{a="b",c=~"d"}` from matchers written as `a="b"`. */
function selector(metric: string, ...matchers: string[]): string {
  return `${metric}{${matchers.join(",")}}`;
}

/** An `le` matcher for a bucket bound, whichever way the exposition spelled it ("1" or "1.0"). */
function leMatcher(bound: number): string {
  const text = String(bound).replace(".", "\\\\.");
  return Number.isInteger(bound) ? `le=~"${text}(\\\\.0)?"` : `le="${bound}"`;
}

/** The groups of one environment: recordings, SLO alerts, saturation and health alerts. */
export function monitoringRuleGroups(props: MonitoringRulesProps): RuleGroup[] {
  const latencyBuckets = METRIC_DEFINITIONS.predictionLatency.buckets;
  assertObjectives(props.objectives, latencyBuckets);
  const saturation = props.saturationRatio ?? 0.8;
  if (!(saturation > 0 && saturation <= 1)) {
    throw new Error(`saturationRatio must be in (0, 1], got ${saturation}`);
  }
  const timeScale = props.timing?.timeScale ?? 1;
  if (!(timeScale >= 1) || !Number.isFinite(timeScale)) throw new Error(`timeScale must be at least 1, got ${timeScale}`);
  const requestRateWindow = props.timing?.requestRateWindow ?? DEFAULT_REQUEST_RATE_WINDOW;
  durationSeconds(requestRateWindow, "requestRateWindow");
  const scaled = (duration: string) => formatDuration(durationSeconds(duration, "window") / timeScale);

  const ns = `namespace="${props.namespace}"`;
  const predictionRoutes = `route=~"${PREDICTION_ROUTES}"`;
  const by = (labels: readonly string[]) => `sum by (${labels.join(", ")})`;
  const rate = (series: string, window: string) => `rate(${series}[${window}])`;
  const requests = (...matchers: string[]) => selector(METRIC_NAMES.httpRequestsTotal, ns, predictionRoutes, ...matchers);
  // "or 0 * total": a service without a single error of the class records 0, not nothing.
  const requestRatio = (statusMatcher: string, window: string) => {
    const total = `${by(VERSION_GROUPING_LABELS)} (${rate(requests(), window)})`;
    return `(\n  ${by(VERSION_GROUPING_LABELS)} (${rate(requests(statusMatcher), window)})\n  or\n  0 * ${total}\n)\n/\n${total}`;
  };
  const quantile = (q: number, histogram: string, labels: readonly string[], ...matchers: string[]) =>
    `histogram_quantile(${q}, ${by([...labels, "le"])} (${rate(selector(`${histogram}_bucket`, ns, ...matchers), "5m")}))`;
  const latencyName = METRIC_NAMES.predictionLatency;
  const latencySlow = (window: string) =>
    `1 - (\n  ${by(VERSION_GROUPING_LABELS)} (${rate(selector(`${latencyName}_bucket`, ns, leMatcher(props.objectives.latency.thresholdSeconds)), window)})\n  /\n  ${by(VERSION_GROUPING_LABELS)} (${rate(selector(`${latencyName}_count`, ns), window)})\n)`;
  const trackLevel = ["namespace", "track"] as const;

  const recordings: RecordingRule[] = [
    {
      record: RECORDED.podRequestRate,
      expr: `${by(["namespace", "pod", "track"])} (${rate(selector(METRIC_NAMES.httpRequestsTotal, ns), requestRateWindow)})`,
    },
    { record: RECORDED.predictionRequestRate, expr: `${by(VERSION_GROUPING_LABELS)} (${rate(requests(), "5m")})` },
    { record: RECORDED.serverErrorRatio, expr: requestRatio(`status_code=~"5.."`, "5m") },
    { record: RECORDED.overloadedRatio, expr: requestRatio(`status_code="503"`, "5m") },
    { record: RECORDED.clientErrorRatio, expr: requestRatio(`status_code=~"4.."`, "5m") },
    {
      record: RECORDED.predictionsByStatus,
      expr: `${by([...VERSION_GROUPING_LABELS, "status"])} (${rate(selector(METRIC_NAMES.predictionsTotal, ns), "5m")})`,
    },
    ...LATENCY_QUANTILES.map((q) => ({ record: RECORDED.predictionLatency(q), expr: quantile(q, latencyName, VERSION_GROUPING_LABELS) })),
    ...LATENCY_QUANTILES.map((q) => ({
      record: RECORDED.httpLatency(q),
      expr: quantile(q, METRIC_NAMES.httpRequestDuration, VERSION_GROUPING_LABELS, predictionRoutes),
    })),
    ...STAGE_QUANTILES.map((q) => ({
      record: RECORDED.stageDuration(q),
      expr: quantile(q, METRIC_NAMES.stageDuration, [...trackLevel, "stage"]),
    })),
    { record: RECORDED.queueWait, expr: quantile(0.99, METRIC_NAMES.queueWait, trackLevel) },
    {
      record: RECORDED.batchSizeMean,
      expr: `${by(trackLevel)} (${rate(selector(`${METRIC_NAMES.batchSize}_sum`, ns), "5m")})\n/\n${by(trackLevel)} (${rate(selector(`${METRIC_NAMES.batchSize}_count`, ns), "5m")})`,
    },
    { record: RECORDED.queueDepthMax, expr: `max by (namespace, track) (${selector(METRIC_NAMES.queueDepth, ns)})` },
    { record: RECORDED.inflightMax, expr: `max by (namespace, track) (${selector(METRIC_NAMES.inflightRequests, ns)})` },
    {
      record: RECORDED.classMix,
      expr: `${by([...VERSION_GROUPING_LABELS, "label"])} (${rate(selector(METRIC_NAMES.predictedClassTotal, ns), "5m")})\n/ ignoring (label) group_left\n${by(VERSION_GROUPING_LABELS)} (${rate(selector(METRIC_NAMES.predictedClassTotal, ns), "5m")})`,
    },
    { record: RECORDED.confidenceMedian, expr: quantile(0.5, METRIC_NAMES.predictionConfidence, VERSION_GROUPING_LABELS) },
    { record: RECORDED.releaseErrorRatio, expr: errorRatioByTrackExpr(props.namespace) },
    { record: RECORDED.releaseP99Latency, expr: p99LatencyByTrackExpr(props.namespace) },
  ];

  const sloRecordings: RecordingRule[] = burnRateWindows().flatMap((window) => [
    { record: RECORDED.availabilityErrorRatio(window), expr: requestRatio(`status_code=~"5.."`, scaled(window)) },
    { record: RECORDED.latencySlowRatio(window), expr: latencySlow(scaled(window)) },
  ]);

  const runbook = (anchor: string) => `${props.runbookUrl}#${anchor}`;
  const where = "{{ $labels.namespace }} (track {{ $labels.track }}, model {{ $labels.model_version }})";
  const percent = (ratio: number) => `${Number((ratio * 100).toFixed(3))}%`;

  const objectiveAlerts = (
    sli: "Availability" | "Latency",
    budget: number,
    ratioName: (window: string) => string,
    objective: string,
    anchor: string,
  ): AlertingRule[] =>
    BURN_RATE_TIERS.map((tier) => {
      const threshold = Number((tier.factor * budget).toPrecision(6));
      return {
        alert: `PyramidNet${sli}${tier.name}Burn`,
        expr: `${ratioName(tier.longWindow)}{${ns}} > ${threshold}\nand\n${ratioName(tier.shortWindow)}{${ns}} > ${threshold}`,
        for: scaled(tier.for),
        labels: { severity: tier.severity, slo: sli.toLowerCase() },
        annotations: {
          summary: `${sli} error budget burning ${tier.factor}x too fast in ${where}`,
          description:
            `Over both ${tier.longWindow} and ${tier.shortWindow}, more than ${percent(threshold)} of predictions ` +
            `missed the objective "${objective}" (${tier.factor} times the budget's sustainable rate: at this pace ` +
            `a 30-day budget lasts ${Number((30 / tier.factor).toFixed(1))} days).`,
          runbook_url: runbook(anchor),
        },
      };
    });

  const availabilityObjective = `${percent(props.objectives.availability)} of prediction requests succeed`;
  const latencyObjective =
    `${percent(props.objectives.latency.target)} of predictions finish under ` +
    `${props.objectives.latency.thresholdSeconds * 1000} ms`;
  const sloAlerts = [
    ...objectiveAlerts(
      "Availability",
      1 - props.objectives.availability,
      RECORDED.availabilityErrorRatio,
      availabilityObjective,
      RUNBOOK_ANCHORS.availabilityBurn,
    ),
    ...objectiveAlerts(
      "Latency",
      1 - props.objectives.latency.target,
      RECORDED.latencySlowRatio,
      latencyObjective,
      RUNBOOK_ANCHORS.latencyBurn,
    ),
  ];

  const pods = `pod=~"${alternatives(props.workloadNames)}-.+"`;
  const autoscalers = props.autoscalerNames ?? [];
  const podWhere = "pod {{ $labels.pod }} in {{ $labels.namespace }}";
  const queueLimit = Math.floor(props.maxQueue * saturation);
  const inflightLimit = Math.floor(props.maxConcurrentRequests * saturation);
  const healthAlerts: AlertingRule[] = [
    {
      alert: "PyramidNetInferenceQueueNearFull",
      expr: `max by (namespace, pod, track) (${selector(METRIC_NAMES.queueDepth, ns)}) > ${queueLimit}`,
      for: scaled("5m"),
      labels: { severity: "warning" },
      annotations: {
        summary: `Inference queue above ${percent(saturation)} of CLASSIFIER_MAX_QUEUE on ${podWhere}`,
        description:
          `More than ${queueLimit} images (CLASSIFIER_MAX_QUEUE is ${props.maxQueue}) have waited for inference for ` +
          "5 minutes; once the queue is full, new predictions get 503.",
        runbook_url: runbook(RUNBOOK_ANCHORS.queueNearFull),
      },
    },
    {
      alert: "PyramidNetInflightNearLimit",
      expr: `max by (namespace, pod, track) (${selector(METRIC_NAMES.inflightRequests, ns)}) > ${inflightLimit}`,
      for: scaled("5m"),
      labels: { severity: "warning" },
      annotations: {
        summary: `In-flight predictions above ${percent(saturation)} of CLASSIFIER_MAX_CONCURRENT_REQUESTS on ${podWhere}`,
        description:
          `More than ${inflightLimit} prediction requests (CLASSIFIER_MAX_CONCURRENT_REQUESTS is ` +
          `${props.maxConcurrentRequests}) have been in flight for 5 minutes; past the limit, requests get 503.`,
        runbook_url: runbook(RUNBOOK_ANCHORS.inflightNearLimit),
      },
    },
    {
      alert: "PyramidNetSustainedOverload",
      expr: `${RECORDED.overloadedRatio}{${ns}} > 0.01`,
      for: scaled("10m"),
      labels: { severity: "warning" },
      annotations: {
        summary: `More than 1% of predictions refused with 503 in ${where}`,
        description:
          "For 10 minutes more than 1% of prediction requests were refused as overloaded (503 with Retry-After): " +
          "the concurrency limit or the inference queue is full.",
        runbook_url: runbook(RUNBOOK_ANCHORS.sustainedOverload),
      },
    },
    ...(autoscalers.length === 0
      ? []
      : [
          {
            alert: "PyramidNetAutoscalerAtMaximum",
            expr:
              `max by (namespace, horizontalpodautoscaler) (${selector(KUBE_STATE_METRICS.hpaCurrentReplicas, ns, `horizontalpodautoscaler=~"${alternatives(autoscalers)}"`)})\n` +
              `>=\nmax by (namespace, horizontalpodautoscaler) (${selector(KUBE_STATE_METRICS.hpaMaxReplicas, ns, `horizontalpodautoscaler=~"${alternatives(autoscalers)}"`)})`,
            for: scaled("15m"),
            labels: { severity: "warning" },
            annotations: {
              summary: "HPA {{ $labels.horizontalpodautoscaler }} in {{ $labels.namespace }} has run at its maximum for 15 minutes",
              description:
                "The HPA cannot add replicas: it has been at maxReplicas for 15 minutes (kube-state-metrics), so more " +
                "load turns into queueing, latency and 503s.",
              runbook_url: runbook(RUNBOOK_ANCHORS.autoscalerAtMaximum),
            },
          } satisfies AlertingRule,
        ]),
    {
      alert: "PyramidNetPodNotReady",
      expr: `max by (namespace, pod) (${selector(KUBE_STATE_METRICS.podReady, ns, pods, `condition="true"`)}) == 0`,
      for: scaled("10m"),
      labels: { severity: "warning" },
      annotations: {
        summary: `${podWhere} has not been ready for 10 minutes`,
        description:
          "The pod's readiness probe has failed for 10 minutes (kube-state-metrics kube_pod_status_ready), so it " +
          "receives no traffic and the others carry its share.",
        runbook_url: runbook(RUNBOOK_ANCHORS.podNotReady),
      },
    },
    {
      alert: "PyramidNetPodRestarting",
      expr: `max by (namespace, pod) (increase(${selector(KUBE_STATE_METRICS.containerRestarts, ns, pods, `container="${props.containerName}"`)}[${scaled("30m")}])) >= 2`,
      for: scaled("5m"),
      labels: { severity: "warning" },
      annotations: {
        summary: `Container ${props.containerName} of ${podWhere} restarted at least twice in 30 minutes`,
        description:
          "The classifier container keeps restarting (kube-state-metrics kube_pod_container_status_restarts_total): " +
          "a failing start (model sha256, bad config), the liveness probe, or the memory limit (OOMKilled).",
        runbook_url: runbook(RUNBOOK_ANCHORS.podRestarting),
      },
    },
  ];

  return [
    { name: `${props.groupPrefix}.recording`, rules: recordings },
    { name: `${props.groupPrefix}.slo.recording`, rules: sloRecordings },
    { name: `${props.groupPrefix}.slo.alerts`, rules: sloAlerts },
    { name: `${props.groupPrefix}.health.alerts`, rules: healthAlerts },
  ];
}

/** A regex that matches exactly one of the names (Kubernetes names hold no regex metacharacters but `.`). */
function alternatives(names: readonly string[]): string {
  if (names.length === 0) throw new Error("the monitoring rules need at least one workload name");
  const escaped = names.map((name) => name.replace(/\./g, "\\\\."));
  return escaped.length === 1 ? escaped[0] : `(${escaped.join("|")})`;
}
