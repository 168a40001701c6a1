/**
 * The PrometheusRule and the Grafana dashboard of each environment: every alert documented and linked to a runbook
 * section that exists, thresholds taken from the environment's rendered config and objectives, the burn-rate tiers
 * of the SRE workbook, and one set of names shared by the recording rules, the prometheus-adapter rule and the
 * dashboard.
 */
import fs from "node:fs";
import path from "node:path";
import { Testing } from "cdk8s";
import { adapterValues, dashboardPath } from "../../charts/app";
import { environmentNames, type EnvironmentName } from "../../charts/environments";
import { RUNBOOK_URL } from "../../charts/monitoring";
import { PyramidNetChart } from "../../charts/pyramidnet-chart";
import {
  BURN_RATE_TIERS,
  RECORDED,
  SLO_DEFAULTS,
  dashboardQueries,
  monitoringRuleGroups,
  renderAdapterQuery,
  type AlertingRule,
  type GrafanaDashboardModel,
  type MonitoringRulesProps,
  type RecordingRule,
} from "../../infra";
import { CONFIG_SCHEMA, METRIC_NAMES } from "../../infra/service-contract";
import {
  classifierConfigMaps,
  dashboardConfigMap,
  oneOf,
  releaseOf,
  specOf,
  synthEnvironment,
  synthRolloutEnvironment,
  type Manifest,
} from "./manifests";

const REPO = path.resolve(__dirname, "../..");
const RUNBOOK = fs.readFileSync(path.join(REPO, "docs", "runbook.md"), "utf8");

/** GitHub's anchor for a Markdown heading: lowercase, punctuation dropped, spaces to hyphens. */
function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}
const RUNBOOK_ANCHORS = new Set([...RUNBOOK.matchAll(/^#{1,6} (.+)$/gm)].map((match) => githubAnchor(match[1])));

function rulesOf(manifests: readonly Manifest[]): { alerts: AlertingRule[]; recordings: RecordingRule[] } {
  const rules = oneOf(manifests, "PrometheusRule").spec.groups!.flatMap((group) => group.rules) as Array<
    AlertingRule | RecordingRule
  >;
  return {
    alerts: rules.filter((rule): rule is AlertingRule => "alert" in rule),
    recordings: rules.filter((rule): rule is RecordingRule => "record" in rule),
  };
}

/** The number an alert compares against: `... > N` at the end of its expression. */
function thresholdOf(alert: AlertingRule): number {
  const match = /> (\d+(\.\d+)?)$/.exec(alert.expr);
  if (!match) throw new Error(`no threshold in ${alert.expr}`);
  return Number(match[1]);
}

describe.each(environmentNames())("%s", (name: EnvironmentName) => {
  const manifests = synthEnvironment(name);
  const spec = specOf(name);
  const { alerts, recordings } = rulesOf(manifests);
  // With a release, each track has its ConfigMap; the tracks share their limits (ReleaseTracks), so the first will do.
  const configs = classifierConfigMaps(manifests).map((configMap) => configMap.data!);
  const config = configs[0];
  const byName = (alert: string) => alerts.find((rule) => rule.alert === alert)!;

  test("the PrometheusRule lives in the environment's namespace and Prometheus selects it", () => {
    const rule = oneOf(manifests, "PrometheusRule");
    expect(rule.metadata).toMatchObject({ name: "pyramidnet", namespace: spec.namespace });
    expect(rule.metadata!.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(rule.spec.groups!.map((group) => group.name)).toEqual([
      `pyramidnet-${name}.recording`,
      `pyramidnet-${name}.slo.recording`,
      `pyramidnet-${name}.slo.alerts`,
      `pyramidnet-${name}.health.alerts`,
    ]);
  });

  test("every alert has a summary, a description, a severity and a runbook section that exists", () => {
    expect(alerts.length).toBeGreaterThanOrEqual(14);
    for (const alert of alerts) {
      expect([alert.alert, alert.annotations.summary.length > 10, alert.annotations.description.length > 20]).toEqual([alert.alert, true, true]);
      expect(["critical", "warning"]).toContain(alert.labels.severity);
      expect(alert.annotations.runbook_url.startsWith(`${RUNBOOK_URL}#`)).toBe(true);
      const anchor = alert.annotations.runbook_url.slice(RUNBOOK_URL.length + 1);
      expect([alert.alert, RUNBOOK_ANCHORS.has(anchor)]).toEqual([alert.alert, true]);
      // The runbook names the alert in its section.
      expect(RUNBOOK).toContain(alert.alert);
    }
  });

  test("every selector is scoped to the environment's namespace", () => {
    for (const rule of [...alerts, ...recordings]) {
      for (const selector of rule.expr.match(/\{[^}]*\}/g) ?? []) {
        expect([rule.expr, selector.includes(`namespace="${spec.namespace}"`)]).toEqual([rule.expr, true]);
      }
    }
  });

  test("burn-rate alerts follow the workbook's tiers for the environment's objectives", () => {
    const objectives = spec.slo ?? SLO_DEFAULTS;
    const table = alerts
      .filter((alert) => alert.labels.slo !== undefined)
      .map((alert) => [alert.alert, thresholdOf(alert), alert.for, alert.labels.severity]);
    const expected = (sli: string, budget: number) =>
      BURN_RATE_TIERS.map((tier) => [`PyramidNet${sli}${tier.name}Burn`, Number((tier.factor * budget).toPrecision(6)), tier.for, tier.severity]);
    expect(table).toEqual([...expected("Availability", 1 - objectives.availability), ...expected("Latency", 1 - objectives.latency.target)]);
    expect(byName("PyramidNetAvailabilityFastBurn").expr).toBe(
      `${RECORDED.availabilityErrorRatio("1h")}{namespace="${spec.namespace}"} > 0.072\nand\n` +
        `${RECORDED.availabilityErrorRatio("5m")}{namespace="${spec.namespace}"} > 0.072`,
    );
    expect(BURN_RATE_TIERS.map((tier) => [tier.factor, tier.longWindow, tier.shortWindow, tier.severity])).toEqual([
      [14.4, "1h", "5m", "critical"],
      [6, "6h", "30m", "critical"],
      [3, "1d", "2h", "warning"],
      [1, "3d", "6h", "warning"],
    ]);
  });

  test("the latency SLI reads the histogram bucket of the objective's threshold", () => {
    const slow = recordings.find((rule) => rule.record === RECORDED.latencySlowRatio("5m"))!;
    expect(slow.expr).toContain(`${METRIC_NAMES.predictionLatency}_bucket{namespace="${spec.namespace}",le="0.25"}[5m]`);
  });

  test("saturation thresholds are 80% of the rendered CLASSIFIER_MAX_QUEUE and CLASSIFIER_MAX_CONCURRENT_REQUESTS", () => {
    for (const track of configs) {
      expect([track[CONFIG_SCHEMA.maxQueue.name], track[CONFIG_SCHEMA.maxConcurrentRequests.name]]).toEqual([
        config[CONFIG_SCHEMA.maxQueue.name],
        config[CONFIG_SCHEMA.maxConcurrentRequests.name],
      ]);
    }
    expect(thresholdOf(byName("PyramidNetInferenceQueueNearFull"))).toBe(Math.floor(Number(config[CONFIG_SCHEMA.maxQueue.name]) * 0.8));
    expect(thresholdOf(byName("PyramidNetInflightNearLimit"))).toBe(
      Math.floor(Number(config[CONFIG_SCHEMA.maxConcurrentRequests.name]) * 0.8),
    );
  });

  test("the per-pod request rate records exactly what prometheus-adapter serves the HPA", () => {
    const [rule] = adapterValues().rules;
    const recorded = recordings.find((r) => r.record === RECORDED.podRequestRate)!;
    const adapterQuery = renderAdapterQuery(rule, {
      series: METRIC_NAMES.httpRequestsTotal,
      labelMatchers: `namespace="${spec.namespace}"`,
      groupBy: "namespace, pod, track",
    });
    const normalise = (expr: string) => expr.replace(/sum\((.*)\) by \((.*)\)$/, "sum by ($2) ($1)");
    expect(normalise(adapterQuery)).toBe(recorded.expr);
  });

  test("the dashboard ships in a ConfigMap for Grafana's sidecar and as the same JSON in dist/", () => {
    const configMap = dashboardConfigMap(manifests);
    expect(configMap.metadata).toMatchObject({ name: "pyramidnet-dashboard", namespace: spec.namespace });
    expect(configMap.metadata!.labels).toMatchObject({ grafana_dashboard: "1" });
    const [file] = Object.keys(configMap.data!);
    expect(file).toBe(`pyramidnet-${name}.json`);
    expect(configMap.data![file]).toBe(fs.readFileSync(path.join(REPO, "dist", dashboardPath(name)), "utf8"));
  });

  test("every dashboard query reads only series that the environment's rules record", () => {
    const configMap = dashboardConfigMap(manifests);
    const dashboard = JSON.parse(Object.values(configMap.data!)[0]) as GrafanaDashboardModel;
    const recorded = new Set(recordings.map((rule) => rule.record));
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThanOrEqual(20);
    for (const { panel, expr } of queries) {
      const names = expr.match(/[a-z_]+:[a-z0-9_:]+/g) ?? [];
      expect([panel, names.length > 0]).toEqual([panel, true]);
      for (const series of names) expect([panel, series, recorded.has(series)]).toEqual([panel, series, true]);
    }
    const titles = dashboard.panels.filter((panel) => panel.type === "timeseries").map((panel) => panel.title).join(" | ");
    for (const topic of ["requests", "Error", "latency", "stage", "Batch size", "queue", "Class mix", "confidence"]) {
      expect(titles).toContain(topic);
    }
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(["datasource", "namespace", "track", "model_version"]);
  });
});

describe("monitoring rules options", () => {
  const base: MonitoringRulesProps = {
    namespace: "ns",
    groupPrefix: "test",
    workloadNames: ["pyramidnet"],
    containerName: "classifier",
    autoscalerNames: ["pyramidnet"],
    maxQueue: 100,
    maxConcurrentRequests: 10,
    objectives: SLO_DEFAULTS,
    runbookUrl: "docs/runbook.md",
  };
  const alertsOf = (props: MonitoringRulesProps) =>
    monitoringRuleGroups(props).flatMap((group) => group.rules).filter((rule): rule is AlertingRule => "alert" in rule);

  test("a chart's config overrides move the saturation thresholds with them", () => {
    const chart = new PyramidNetChart(Testing.app(), "qa", {
      environmentName: "qa",
      spec: { ...specOf("development"), config: { maxQueue: 100, maxConcurrentRequests: 20 } },
      imageTag: "1.0.0",
    });
    const alerts = rulesOf(Testing.synth(chart) as Manifest[]).alerts;
    expect(thresholdOf(alerts.find((a) => a.alert === "PyramidNetInferenceQueueNearFull")!)).toBe(80);
    expect(thresholdOf(alerts.find((a) => a.alert === "PyramidNetInflightNearLimit")!)).toBe(16);
  });

  test("stricter objectives lower the burn thresholds; another latency bucket changes the SLI's bucket", () => {
    const alerts = alertsOf({ ...base, objectives: { availability: 0.999, latency: { target: 0.95, thresholdSeconds: 0.5 } } });
    expect(thresholdOf(alerts.find((a) => a.alert === "PyramidNetAvailabilityFastBurn")!)).toBe(0.0144);
    expect(thresholdOf(alerts.find((a) => a.alert === "PyramidNetLatencyFastBurn")!)).toBe(0.72);
    const slow = monitoringRuleGroups({ ...base, objectives: { ...SLO_DEFAULTS, latency: { target: 0.99, thresholdSeconds: 1 } } })
      .flatMap((group) => group.rules)
      .find((rule) => "record" in rule && rule.record === RECORDED.latencySlowRatio("1h"))!;
    // "1" or "1.0", whichever the exposition wrote.
    expect(slow.expr).toContain('le=~"1(\\\\.0)?"');
  });

  test("pod and HPA alerts watch every track's workload, and nothing else's", () => {
    const production = rulesOf(synthEnvironment("production")).alerts;
    const rollout = rulesOf(synthRolloutEnvironment("production", releaseOf("production")!)).alerts;
    const podMatcher = (alerts: AlertingRule[]) => /pod=~"([^"]+)"/.exec(alerts.find((a) => a.alert === "PyramidNetPodNotReady")!.expr)![1];
    const hpaMatcher = (alerts: AlertingRule[]) =>
      /horizontalpodautoscaler=~"([^"]+)"/.exec(alerts.find((a) => a.alert === "PyramidNetAutoscalerAtMaximum")!.expr)![1];
    // PromQL regex matchers are anchored at both ends.
    const matches = (pattern: string, value: string) => new RegExp(`^(?:${pattern})$`).test(value);
    const twoTracks = podMatcher(production);
    expect(twoTracks).toBe("(pyramidnet-stable|pyramidnet-canary)-.+");
    expect(["pyramidnet-stable-5d8f9-abcde", "pyramidnet-canary-7c4b2-xyz12"].every((pod) => matches(twoTracks, pod))).toBe(true);
    expect(["pyramidnet-5d8f9-abcde", "other-stable-5d8f9-abcde", "loadtest-1"].some((pod) => matches(twoTracks, pod))).toBe(false);
    expect(hpaMatcher(production)).toBe("(pyramidnet-stable|pyramidnet-canary)");
    // The Rollout names its pods after itself, and its HPA scales the Rollout.
    expect(podMatcher(rollout)).toBe("pyramidnet-.+");
    expect(hpaMatcher(rollout)).toBe("pyramidnet");
  });

  test("without an HPA there is no HPA alert", () => {
    expect(alertsOf({ ...base, autoscalerNames: [] }).map((a) => a.alert)).not.toContain("PyramidNetAutoscalerAtMaximum");
    expect(alertsOf(base).map((a) => a.alert)).toContain("PyramidNetAutoscalerAtMaximum");
  });

  test("timeScale shortens windows and `for` only; the expressions are otherwise the same", () => {
    const production = monitoringRuleGroups(base);
    const fast = monitoringRuleGroups({ ...base, timing: { timeScale: 60, requestRateWindow: "10s" } });
    const fastBurn = fast[2].rules.find((rule) => "alert" in rule && rule.alert === "PyramidNetAvailabilityFastBurn") as AlertingRule;
    expect(fastBurn.for).toBe("2s");
    const ratio1h = fast[1].rules.find((rule) => "record" in rule && rule.record === RECORDED.availabilityErrorRatio("1h")) as RecordingRule;
    expect(ratio1h.expr).toContain("[1m]");
    const undo: Record<string, string> = { "5s": "5m", "30s": "30m", "1m": "1h", "2m": "2h", "6m": "6h", "24m": "1d", "72m": "3d", "10s": "2m" };
    const restore = (expr: string) => expr.replace(/\[(\w+)\]/g, (_m, window: string) => `[${undo[window] ?? window}]`);
    const exprs = (groups: typeof production) => groups.flatMap((group) => group.rules.map((rule) => rule.expr));
    const productionExprs = exprs(production);
    // The 5m windows of the dashboard recordings are not burn-rate windows and stay as they are.
    expect(exprs(fast).map((expr, index) => (expr === productionExprs[index] ? expr : restore(expr)))).toEqual(productionExprs);
  });
});
