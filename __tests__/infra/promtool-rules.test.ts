/**
 * The committed rules, proven with Prometheus' own tool: `promtool check rules` on every environment's groups (taken
 * from dist/, written to a temporary directory), and `promtool test rules` unit tests on production's: each alert
 * fires on synthetic series that break its objective and stays silent on healthy ones, and each recording rule gives
 * the value worked out by hand from known rates. Skips loudly without promtool (`.ci/run` installs `prometheus`).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { environmentNames } from "../../charts/environments";
import {
  BURN_RATE_TIERS,
  LATENCY_QUANTILES,
  RECORDED,
  burnRateWindows,
  errorRatioQuery,
  p99LatencyQuery,
  type AlertingRule,
  type RuleGroup,
} from "../../infra";
import { CONFIG_SCHEMA } from "../../infra/service-contract";
import type { Manifest } from "./manifests";

const DIST = path.resolve(__dirname, "../../dist");
const HAS_PROMTOOL = spawnSync("promtool", ["--version"], { encoding: "utf8" }).status === 0;
if (!HAS_PROMTOOL) {
  console.warn("SKIPPED promtool rule checks and unit tests: promtool is not on PATH (apt-get install prometheus; .ci/run installs it)");
}
const withPromtool = HAS_PROMTOOL ? describe : describe.skip;
if (!HAS_PROMTOOL && process.env.PROMETHEUS_REQUIRED === "1") {
  test("has promtool, which PROMETHEUS_REQUIRED=1 (.ci/run) demands", () => {
    throw new Error("promtool is not on PATH: apt-get install prometheus");
  });
}

function distObjects(environment: string): Manifest[] {
  return parseAllDocuments(fs.readFileSync(path.join(DIST, `${environment}.k8s.yaml`), "utf8")).map(
    (doc) => doc.toJSON() as Manifest,
  );
}

function distRuleGroups(environment: string): RuleGroup[] {
  const rule = distObjects(environment).find((m) => m.kind === "PrometheusRule") as Manifest & { spec: { groups: RuleGroup[] } };
  return rule.spec.groups;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync("promtool", args, { encoding: "utf8", timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

type Labels = Readonly<Record<string, string>>;

interface InputSeries {
  readonly series: string;
  readonly values: string;
}

function series(name: string, labels: Labels, values: string): InputSeries {
  const matchers = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  return { series: `${name}{${matchers.join(",")}}`, values };
}

/** A counter that grows by `perMinute` a minute for `minutes` minutes, sampled every `step` minutes. */
const counter = (perMinute: number, minutes: number, step = 1) => `0+${perMinute * step}x${Math.ceil(minutes / step)}`;
/** A gauge that stays at `value` for `minutes` minutes. */
const gauge = (value: number, minutes: number) => `${value}x${minutes}`;

const PRODUCTION = "production";
const groups = HAS_PROMTOOL ? distRuleGroups(PRODUCTION) : [];
const rules = groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule): rule is AlertingRule => "alert" in rule);
const recordings = rules.filter((rule) => "record" in rule) as Array<{ record: string; expr: string }>;
const configData = HAS_PROMTOOL
  ? ((distObjects(PRODUCTION).find((m) => m.kind === "ConfigMap" && m.metadata.name === "pyramidnet-stable-config") as Manifest & {
      data: Record<string, string>;
    }).data)
  : {};
const NS = HAS_PROMTOOL ? distObjects(PRODUCTION)[0].metadata.name : "";

const POD = { namespace: NS, pod: "pyramidnet-stable-7d9f-abcde", track: "stable" };
const VERSIONED = { namespace: NS, model_version: "1.1.0", track: "stable" };
const HTTP = { ...POD, model_version: "1.1.0", method: "POST", route: "/predict" };
const PREDICTION = { ...POD, model_version: "1.1.0", model_name: "pyramidnet" };

/** Availability: `perMinute` prediction requests of which `failedPerMinute` are 500s. */
function availabilitySeries(failedPerMinute: number, minutes: number, step: number, perMinute = 1000): InputSeries[] {
  return [
    series("http_requests_total", { ...HTTP, status_code: "200" }, counter(perMinute - failedPerMinute, minutes, step)),
    series("http_requests_total", { ...HTTP, status_code: "500" }, counter(failedPerMinute, minutes, step)),
  ];
}

/** Latency: `perMinute` predictions of which `slowPerMinute` exceed the objective's 250 ms. */
function latencySeries(slowPerMinute: number, minutes: number, step: number, perMinute = 1000): InputSeries[] {
  return [
    series("prediction_latency_seconds_bucket", { ...PREDICTION, le: "0.25" }, counter(perMinute - slowPerMinute, minutes, step)),
    series("prediction_latency_seconds_bucket", { ...PREDICTION, le: "+Inf" }, counter(perMinute, minutes, step)),
    series("prediction_latency_seconds_count", PREDICTION, counter(perMinute, minutes, step)),
  ];
}

interface AlertCase {
  /** Series that break the objective; the alert must fire with `labels` at `evalMinutes`. */
  readonly breaking: readonly InputSeries[];
  /** Series of a healthy service; the alert must stay silent. */
  readonly healthy: readonly InputSeries[];
  readonly evalMinutes: number;
  /**
   * Minutes between samples and between rule evaluations: 1, or 5 for the ticket tiers, whose hours-long `for`
   * would otherwise cost promtool hundreds of evaluations of every rule.
   */
  readonly step: 1 | 5;
  /** The labels of the alerting series (the alert's own labels are added from the rule). */
  readonly labels: Labels;
}

const queueMax = Number(configData[CONFIG_SCHEMA.maxQueue.name]);
const concurrencyMax = Number(configData[CONFIG_SCHEMA.maxConcurrentRequests.name]);

/** One case per alert. A tier's series burn its budget 1.5 times faster than the tier's factor; healthy ones 0.2x. */
function alertCases(): Record<string, AlertCase> {
  const cases: Record<string, AlertCase> = {};
  BURN_RATE_TIERS.forEach((tier) => {
    // Long enough for the rate to exist and for `for` to pass, with margin.
    const forMinutes = Number.parseInt(tier.for, 10) * (tier.for.endsWith("h") ? 60 : 1);
    const step = forMinutes >= 60 ? 5 : 1;
    const minutes = 10 + 2 * forMinutes;
    const availabilityBudget = 1000 * 0.005;
    const latencyBudget = 1000 * 0.01;
    cases[`PyramidNetAvailability${tier.name}Burn`] = {
      breaking: availabilitySeries(Math.ceil(availabilityBudget * tier.factor * 1.5), minutes, step),
      healthy: availabilitySeries(1, minutes, step),
      evalMinutes: minutes,
      step,
      labels: VERSIONED,
    };
    cases[`PyramidNetLatency${tier.name}Burn`] = {
      breaking: latencySeries(Math.ceil(latencyBudget * tier.factor * 1.5), minutes, step),
      healthy: latencySeries(2, minutes, step),
      evalMinutes: minutes,
      step,
      labels: VERSIONED,
    };
  });
  const hpa = { namespace: NS, horizontalpodautoscaler: "pyramidnet-stable" };
  const readyPod = { namespace: NS, pod: POD.pod };
  cases.PyramidNetInferenceQueueNearFull = {
    breaking: [series("inference_queue_depth", POD, gauge(Math.ceil(queueMax * 0.9), 20))],
    healthy: [series("inference_queue_depth", POD, gauge(Math.floor(queueMax * 0.5), 20))],
    evalMinutes: 15,
    step: 1,
    labels: POD,
  };
  cases.PyramidNetInflightNearLimit = {
    breaking: [series("inflight_requests", POD, gauge(concurrencyMax, 20))],
    healthy: [series("inflight_requests", POD, gauge(Math.floor(concurrencyMax * 0.5), 20))],
    evalMinutes: 15,
    step: 1,
    labels: POD,
  };
  cases.PyramidNetSustainedOverload = {
    breaking: [
      series("http_requests_total", { ...HTTP, status_code: "200" }, counter(950, 30)),
      series("http_requests_total", { ...HTTP, status_code: "503" }, counter(50, 30)),
    ],
    healthy: [
      series("http_requests_total", { ...HTTP, status_code: "200" }, counter(999, 30)),
      series("http_requests_total", { ...HTTP, status_code: "503" }, counter(1, 30)),
    ],
    evalMinutes: 25,
    step: 1,
    labels: VERSIONED,
  };
  cases.PyramidNetAutoscalerAtMaximum = {
    breaking: [
      series("kube_horizontalpodautoscaler_status_current_replicas", { ...hpa, job: "kube-state-metrics" }, gauge(20, 30)),
      series("kube_horizontalpodautoscaler_spec_max_replicas", { ...hpa, job: "kube-state-metrics" }, gauge(20, 30)),
    ],
    healthy: [
      series("kube_horizontalpodautoscaler_status_current_replicas", { ...hpa, job: "kube-state-metrics" }, gauge(6, 30)),
      series("kube_horizontalpodautoscaler_spec_max_replicas", { ...hpa, job: "kube-state-metrics" }, gauge(20, 30)),
    ],
    evalMinutes: 25,
    step: 1,
    labels: hpa,
  };
  cases.PyramidNetPodNotReady = {
    breaking: [series("kube_pod_status_ready", { ...readyPod, condition: "true" }, gauge(0, 20))],
    healthy: [series("kube_pod_status_ready", { ...readyPod, condition: "true" }, gauge(1, 20))],
    evalMinutes: 15,
    step: 1,
    labels: readyPod,
  };
  cases.PyramidNetPodRestarting = {
    breaking: [series("kube_pod_container_status_restarts_total", { ...readyPod, container: "classifier" }, "0+0x5 1+1x15")],
    healthy: [series("kube_pod_container_status_restarts_total", { ...readyPod, container: "classifier" }, gauge(3, 20))],
    evalMinutes: 15,
    step: 1,
    labels: readyPod,
  };
  return cases;
}

/** Prometheus' template expansion, for the `{{ $labels.x }}` the annotations use. */
function expand(template: string, labels: Labels): string {
  return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_match, name: string) => labels[name] ?? "");
}

function alertTest(alert: AlertingRule, inputs: readonly InputSeries[], evalMinutes: number, step: number, firing: Labels | undefined) {
  return {
    interval: `${step}m`,
    input_series: inputs,
    alert_rule_test: [
      {
        alertname: alert.alert,
        eval_time: `${evalMinutes}m`,
        exp_alerts:
          firing === undefined
            ? []
            : [
                {
                  exp_labels: { ...firing, ...alert.labels },
                  exp_annotations: Object.fromEntries(
                    Object.entries(alert.annotations).map(([key, value]) => [key, expand(value, firing)]),
                  ),
                },
              ],
      },
    ],
  };
}

/** 30 minutes of traffic whose recorded values are worked out by hand below. */
function recordingScenario(): InputSeries[] {
  const minutes = 40;
  const other = { ...POD, pod: "pyramidnet-stable-7d9f-fghij" };
  const bucketSeries = (name: string, labels: Labels, buckets: ReadonlyArray<readonly [string, number]>) =>
    buckets.map(([le, perMinute]) => series(`${name}_bucket`, { ...labels, le }, counter(perMinute, minutes)));
  const latencyBuckets = [["0.1", 50], ["0.25", 90], ["0.5", 100], ["+Inf", 100]] as const;
  return [
    // 10 prediction requests/s: 9 ok, 0.5 server errors, 0.3 overloaded, 0.2 client errors; plus 1 scrape/s.
    series("http_requests_total", { ...HTTP, status_code: "200" }, counter(540, minutes)),
    series("http_requests_total", { ...HTTP, status_code: "500" }, counter(30, minutes)),
    series("http_requests_total", { ...HTTP, status_code: "503" }, counter(18, minutes)),
    series("http_requests_total", { ...HTTP, status_code: "400" }, counter(12, minutes)),
    series("http_requests_total", { ...HTTP, method: "GET", route: "/metrics", status_code: "200" }, counter(60, minutes)),
    ...bucketSeries("prediction_latency_seconds", PREDICTION, latencyBuckets),
    series("prediction_latency_seconds_count", PREDICTION, counter(100, minutes)),
    ...bucketSeries("http_request_duration_seconds", { ...HTTP, status_code: "200" }, latencyBuckets),
    ...bucketSeries("pipeline_stage_duration_seconds", { ...POD, stage: "inference" }, [["0.01", 50], ["0.025", 100], ["+Inf", 100]]),
    ...bucketSeries("inference_queue_wait_seconds", POD, [["0.001", 80], ["0.01", 100], ["+Inf", 100]]),
    series("inference_batch_size_sum", POD, counter(400, minutes)),
    series("inference_batch_size_count", POD, counter(100, minutes)),
    series("inference_queue_depth", POD, gauge(7, minutes)),
    series("inference_queue_depth", other, gauge(3, minutes)),
    series("inflight_requests", POD, gauge(12, minutes)),
    series("inflight_requests", other, gauge(2, minutes)),
    series("predictions_total", { ...PREDICTION, status: "success" }, counter(570, minutes)),
    series("predictions_total", { ...PREDICTION, status: "internal" }, counter(30, minutes)),
    series("predicted_class_total", { ...PREDICTION, label: "cat" }, counter(150, minutes)),
    series("predicted_class_total", { ...PREDICTION, label: "dog" }, counter(450, minutes)),
    ...bucketSeries("prediction_confidence", PREDICTION, [["0.5", 20], ["0.9", 60], ["+Inf", 100]]),
  ];
}

/** Each recorded series' expected samples in the scenario, as (labels, value). */
function expectedRecordings(): Record<string, ReadonlyArray<readonly [Labels, number]>> {
  const track = { namespace: NS, track: "stable" };
  const quantiles: Record<number, number> = { 0.5: 0.1, 0.9: 0.25, 0.99: 0.475 };
  return {
    [RECORDED.podRequestRate]: [[POD, 11]],
    [RECORDED.predictionRequestRate]: [[VERSIONED, 10]],
    [RECORDED.serverErrorRatio]: [[VERSIONED, 0.08]],
    [RECORDED.overloadedRatio]: [[VERSIONED, 0.03]],
    [RECORDED.clientErrorRatio]: [[VERSIONED, 0.02]],
    [RECORDED.predictionsByStatus]: [
      [{ ...VERSIONED, status: "internal" }, 0.5],
      [{ ...VERSIONED, status: "success" }, 9.5],
    ],
    ...Object.fromEntries(LATENCY_QUANTILES.map((q) => [RECORDED.predictionLatency(q), [[VERSIONED, quantiles[q]]]])),
    ...Object.fromEntries(LATENCY_QUANTILES.map((q) => [RECORDED.httpLatency(q), [[VERSIONED, quantiles[q]]]])),
    // Inference: half the batches under 10 ms, all under 25 ms.
    [RECORDED.stageDuration(0.5)]: [[{ ...track, stage: "inference" }, 0.01]],
    [RECORDED.stageDuration(0.99)]: [[{ ...track, stage: "inference" }, 0.0247]],
    [RECORDED.queueWait]: [[track, 0.00955]],
    [RECORDED.batchSizeMean]: [[track, 4]],
    [RECORDED.queueDepthMax]: [[track, 7]],
    [RECORDED.inflightMax]: [[track, 12]],
    [RECORDED.classMix]: [
      [{ ...VERSIONED, label: "cat" }, 0.25],
      [{ ...VERSIONED, label: "dog" }, 0.75],
    ],
    [RECORDED.confidenceMedian]: [[VERSIONED, 0.8]],
    // Every window sees the same steady traffic: 0.8 of 10 requests/s fail on the server, 10% are slower than 250 ms.
    ...Object.fromEntries(burnRateWindows().map((window) => [RECORDED.availabilityErrorRatio(window), [[VERSIONED, 0.08]]])),
    ...Object.fromEntries(burnRateWindows().map((window) => [RECORDED.latencySlowRatio(window), [[VERSIONED, 0.1]]])),
    // The release analysis leaves out probes and scrapes: 0.8 of 10 client requests/s fail; p99 as above.
    [RECORDED.releaseErrorRatio]: [[track, 0.08]],
    [RECORDED.releaseP99Latency]: [[track, 0.475]],
  };
}

/** The release analysis' own per-track queries (AnalysisTemplate, `npm run release -- status`) read the same. */
function analysisQueryExpectations(): Array<{ readonly expr: string; readonly value: number }> {
  const stable = { namespace: NS, track: "stable" } as const;
  return [
    { expr: errorRatioQuery(stable), value: 0.08 },
    { expr: p99LatencyQuery(stable), value: 0.475 },
  ];
}

/** Compared after rounding to 1e-6: the rates' float arithmetic is not exact, and promtool compares exactly. */
const ROUNDED = (record: string) => `round(${record} * 1e6) / 1e6`;

withPromtool("promtool", () => {
  let workdir: string;
  beforeAll(() => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-rules-"));
  });
  afterAll(() => {
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  test.each(environmentNames())("check rules: every group of %s in dist/ is valid", (environment) => {
    const file = path.join(workdir, `${environment}.rules.yaml`);
    fs.writeFileSync(file, stringify({ groups: distRuleGroups(environment) }));
    const { status, output } = promtool("check", "rules", file);
    expect(output).toContain("SUCCESS");
    expect(status).toBe(0);
  });

  test("every alert and every recording rule has a unit test", () => {
    expect(Object.keys(alertCases()).sort()).toEqual(alerts.map((alert) => alert.alert).sort());
    expect(Object.keys(expectedRecordings()).sort()).toEqual(recordings.map((rule) => rule.record).sort());
  });

  test("test rules: each alert fires on a broken objective and stays silent when healthy; each recording gives its value", () => {
    const rulesFile = path.join(workdir, "production.rules.yaml");
    fs.writeFileSync(rulesFile, stringify({ groups }));
    const cases = alertCases();
    const alertTests = (step: number) =>
      alerts
        .filter((alert) => cases[alert.alert].step === step)
        .flatMap((alert) => {
          const { breaking, healthy, evalMinutes, labels } = cases[alert.alert];
          return [alertTest(alert, breaking, evalMinutes, step, labels), alertTest(alert, healthy, evalMinutes, step, undefined)];
        });
    const tests = [
      ...alertTests(1),
      {
        interval: "1m",
        input_series: recordingScenario(),
        promql_expr_test: Object.entries(expectedRecordings()).map(([record, samples]) => ({
          expr: ROUNDED(record),
          eval_time: "30m",
          exp_samples: samples.map(([labels, value]) => ({
            labels: `{${Object.entries(labels).map(([key, v]) => `${key}="${v}"`).join(",")}}`,
            value,
          })),
        })),
      },
      {
        interval: "1m",
        input_series: recordingScenario(),
        promql_expr_test: analysisQueryExpectations().map(({ expr, value }) => ({
          expr: ROUNDED(`(${expr})`),
          eval_time: "30m",
          exp_samples: [{ labels: "{}", value }],
        })),
      },
    ];
    const testFile = path.join(workdir, "production.test.yaml");
    fs.writeFileSync(testFile, stringify({ rule_files: [path.basename(rulesFile)], evaluation_interval: "1m", tests }));
    const ticketFile = path.join(workdir, "production.tickets.test.yaml");
    fs.writeFileSync(ticketFile, stringify({ rule_files: [path.basename(rulesFile)], evaluation_interval: "5m", tests: alertTests(5) }));
    const { status, output } = promtool("test", "rules", testFile, ticketFile);
    expect(output.match(/SUCCESS/g)).toHaveLength(2);
    expect(status).toBe(0);
  }, 120_000);

  test("the unit tests are not vacuous: a healthy expectation on broken series fails", () => {
    const rulesFile = path.join(workdir, "production.rules.yaml");
    fs.writeFileSync(rulesFile, stringify({ groups }));
    const fast = alerts.find((alert) => alert.alert === "PyramidNetAvailabilityFastBurn")!;
    const { breaking, evalMinutes, step } = alertCases()[fast.alert];
    const testFile = path.join(workdir, "vacuous.test.yaml");
    fs.writeFileSync(
      testFile,
      stringify({ rule_files: [path.basename(rulesFile)], evaluation_interval: "1m", tests: [alertTest(fast, breaking, evalMinutes, step, undefined)] }),
    );
    const { status, output } = promtool("test", "rules", testFile);
    expect(output).toContain("FAILED");
    expect(status).not.toBe(0);
  });
});
