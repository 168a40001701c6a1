/**
 * The rules and the dashboard against a real Prometheus: the test starts the service in-process on 127.0.0.1 and a
 * Prometheus server on a free loopback port (scrape and evaluation every second; relabelling adds the namespace, pod
 * and track labels that the ServiceMonitor's Kubernetes discovery would), loads development's rule groups, and sends
 * a fixed number of requests at a fixed rate. Then:
 * - the per-pod request rate recording and prometheus-adapter's query both come within 15% of the rate sent;
 * - a burst of injected inference failures fires the fast-burn availability alert, which resolves once the
 *   failures stop;
 * - every dashboard query parses, evaluates and returns data.
 *
 * The rules are the chart's own builder output with RuleTiming { timeScale: 60, requestRateWindow: "10s" }: burn-rate
 * windows and `for` durations divided by 60 (1h becomes 1m, 5m becomes 5s, `for: 2m` becomes 2s) and the request-rate
 * window 10 s instead of 2 m, for both the recording and the adapter query. Everything else is the same expression.
 * Prometheus is killed by the PID this test spawned. Skips loudly without `prometheus` (`.ci/run` installs it).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Testing } from "cdk8s";
import { stringify } from "yaml";
import { adapterValues } from "../../charts/app";
import { ENVIRONMENTS } from "../../charts/environments";
import { PyramidNetChart } from "../../charts/pyramidnet-chart";
import {
  CANARY_THRESHOLDS,
  RECORDED,
  dashboardQueries,
  errorRatioQuery,
  formatRatio,
  formatSeconds,
  p99LatencyQuery,
  renderAdapterQuery,
} from "../../infra";
import { DEFAULT_REQUEST_RATE_WINDOW, requestRateRule } from "../../infra/prometheus-adapter";
import { METRIC_NAMES } from "../../infra/service-contract";
import type { OnnxModel } from "../../service/model/onnx-model";
import { CARD_PATH, ControllableModel, FIXTURES, buildService, loadModelCard, loadRealModel } from "../service/helpers";
import { measureTracks } from "../../scripts/release";

const HAS_PROMETHEUS = spawnSync("prometheus", ["--version"], { encoding: "utf8" }).status === 0;
if (!HAS_PROMETHEUS) {
  console.warn(
    "SKIPPED the Prometheus end-to-end test: prometheus is not on PATH (apt-get install prometheus; .ci/run installs it)",
  );
}
const withPrometheus = HAS_PROMETHEUS ? describe : describe.skip;
if (!HAS_PROMETHEUS && process.env.PROMETHEUS_REQUIRED === "1") {
  test("has a Prometheus server, which PROMETHEUS_REQUIRED=1 (.ci/run) demands", () => {
    throw new Error("prometheus is not on PATH: apt-get install prometheus");
  });
}

const ENVIRONMENT = "development";
const NAMESPACE = ENVIRONMENTS[ENVIRONMENT].namespace;
const POD = "pyramidnet-5f7c9d-e2e01";
const TRACK = "stable";
const TIMING = { timeScale: 60, requestRateWindow: "10s" } as const;
/** The bounded load: this many requests at this rate, then the failure burst, then healthy traffic. */
const RATE_PER_SECOND = 20;
const STEADY_REQUESTS = 300;
const BURST_REQUESTS = 200;
const FAST_BURN = "PyramidNetAvailabilityFastBurn";

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PromResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

withPrometheus("a real Prometheus", () => {
  const chart = new PyramidNetChart(Testing.app(), ENVIRONMENT, {
    environmentName: ENVIRONMENT,
    spec: ENVIRONMENTS[ENVIRONMENT],
    imageTag: "1.0.0",
    ruleTiming: TIMING,
  });
  const image = fs.readFileSync(path.join(FIXTURES, "cifar10", "ship", "0001.jpg"));
  let workdir: string;
  let model: OnnxModel;
  let controllable: ControllableModel;
  let server: ReturnType<ReturnType<typeof buildService>["app"]["listen"]>;
  let servicePort: number;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = "";
  let base: string;

  async function api<T>(pathAndQuery: string): Promise<T> {
    const response = await fetch(`${base}${pathAndQuery}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? response.status}`);
    return body.data;
  }

  async function query(expr: string, time?: number): Promise<PromResult[]> {
    const at = time === undefined ? "" : `&time=${time}`;
    const data = await api<{ resultType: string; result: PromResult[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}${at}`);
    return data.result;
  }

  async function alertState(name: string): Promise<string | undefined> {
    const data = await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>("/api/v1/alerts");
    return data.alerts.find((alert) => alert.labels.alertname === name)?.state;
  }

  async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${prometheusLog}`);
      await sleep(250);
    }
  }

  /** `count` predictions at `RATE_PER_SECOND`, each sent on its own schedule; resolves with their statuses. */
  async function load(count: number): Promise<number[]> {
    const started = Date.now();
    const sends: Array<Promise<number>> = [];
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / RATE_PER_SECOND;
      await sleep(Math.max(0, due - Date.now()));
      const form = new FormData();
      form.append("file", new Blob([image], { type: "image/jpeg" }), "ship.jpg");
      sends.push(
        fetch(`http://127.0.0.1:${servicePort}/predict`, { method: "POST", body: form }).then(async (response) => {
          await response.arrayBuffer();
          return response.status;
        }),
      );
    }
    return Promise.all(sends);
  }

  beforeAll(async () => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-prometheus-"));
    const card = await loadModelCard(CARD_PATH);
    model = await loadRealModel(card);
    controllable = new ControllableModel(model);
    const { app } = buildService(card, controllable, { CLASSIFIER_LOG_LEVEL: "silent" });
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    servicePort = (server.address() as AddressInfo).port;

    fs.writeFileSync(path.join(workdir, "rules.yaml"), stringify({ groups: chart.rules.groups }));
    // What the ServiceMonitor's Kubernetes discovery relabels from __meta_kubernetes_*; `track` is its target label.
    const relabel = Object.entries({ namespace: NAMESPACE, pod: POD, track: TRACK }).map(([label, value]) => ({
      target_label: label,
      replacement: value,
    }));
    fs.writeFileSync(
      path.join(workdir, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: ["rules.yaml"],
        scrape_configs: [
          {
            job_name: "pyramidnet",
            metrics_path: "/metrics",
            static_configs: [{ targets: [`127.0.0.1:${servicePort}`] }],
            relabel_configs: relabel,
          },
        ],
      }),
    );
    const prometheusPort = await freePort();
    base = `http://127.0.0.1:${prometheusPort}`;
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${path.join(workdir, "prometheus.yml")}`,
        `--storage.tsdb.path=${path.join(workdir, "data")}`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    prometheus.stderr!.setEncoding("utf8").on("data", (chunk: string) => (prometheusLog = (prometheusLog + chunk).slice(-4000)));
    await until("Prometheus to be ready", 30_000, async () => {
      const ready = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
      return ready ? true : undefined;
    });
    await until("the service target to be up", 20_000, async () => {
      const up = await query('up{job="pyramidnet"} == 1');
      return up.length === 1 ? true : undefined;
    });
  }, 90_000);

  afterAll(async () => {
    if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once("exit", resolve));
      process.kill(prometheus.pid, "SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
      if (prometheus.exitCode === null && prometheus.signalCode === null) process.kill(prometheus.pid, "SIGKILL");
    }
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await model?.close();
    if (workdir !== undefined) fs.rmSync(workdir, { recursive: true, force: true });
  }, 30_000);

  test("rules load: every group is evaluated without error", async () => {
    const data = await until("every rule group to have run", 10_000, async () => {
      const rules = await api<{ groups: Array<{ name: string; rules: Array<{ health: string; lastError?: string; name: string }> }> }>(
        "/api/v1/rules",
      );
      const evaluated = rules.groups.every((group) => group.rules.every((rule) => rule.health !== "unknown"));
      return evaluated ? rules : undefined;
    });
    expect(data.groups.map((group) => group.name).sort()).toEqual(chart.rules.groups.map((group) => group.name).sort());
    const unhealthy = data.groups.flatMap((group) => group.rules.filter((rule) => rule.health !== "ok"));
    expect(unhealthy).toEqual([]);
  });

  test(
    "a known load: the per-pod RPS recording and the adapter's query come within 15% of the rate sent; a failure burst fires the fast-burn alert, which resolves",
    async () => {
      const sent = await load(STEADY_REQUESTS);
      const steadyEnd = Date.now() / 1000;
      expect(sent.every((status) => status === 200)).toBe(true);
      // Let the last scrape and evaluation land, then read both at the end of the steady phase, when the whole
      // 10 s window lies inside it.
      await sleep(2500);
      const at = steadyEnd - 0.5;
      const [recorded] = await query(`${RECORDED.podRequestRate}{namespace="${NAMESPACE}",pod="${POD}"}`, at);
      const adapterRule = requestRateRule({
        counter: METRIC_NAMES.httpRequestsTotal,
        rateMetric: METRIC_NAMES.requestsPerSecond,
        window: TIMING.requestRateWindow,
      });
      // Production's adapter rule is this builder's output with the default window.
      expect(adapterRule.metricsQuery.replace(`[${TIMING.requestRateWindow}]`, `[${DEFAULT_REQUEST_RATE_WINDOW}]`)).toBe(
        adapterValues().rules[0].metricsQuery,
      );
      const adapterQuery = renderAdapterQuery(adapterRule, {
        series: METRIC_NAMES.httpRequestsTotal,
        labelMatchers: `namespace="${NAMESPACE}",pod=~"${POD}"`,
        groupBy: "pod",
      });
      const [adapter] = await query(adapterQuery, at);
      const recordedRps = Number(recorded.value[1]);
      const adapterRps = Number(adapter.value[1]);
      console.log(
        `sent ${STEADY_REQUESTS} predictions at ${RATE_PER_SECOND}/s (+1 scrape/s of /metrics, which http_requests_total ` +
          `also counts): recorded ${RECORDED.podRequestRate} = ${recordedRps.toFixed(2)}/s ` +
          `(${(((recordedRps - RATE_PER_SECOND) / RATE_PER_SECOND) * 100).toFixed(1)}%), adapter query = ` +
          `${adapterRps.toFixed(2)}/s (${(((adapterRps - RATE_PER_SECOND) / RATE_PER_SECOND) * 100).toFixed(1)}%)`,
      );
      expect(Math.abs(recordedRps - RATE_PER_SECOND) / RATE_PER_SECOND).toBeLessThan(0.15);
      expect(Math.abs(adapterRps - RATE_PER_SECOND) / RATE_PER_SECOND).toBeLessThan(0.15);
      expect(await alertState(FAST_BURN)).toBeUndefined();

      // Every inference fails for the burst; the alert must fire while it lasts.
      controllable.failWith = new Error("injected inference failure");
      const burstStarted = Date.now();
      const burst = load(BURST_REQUESTS);
      const firedAfterMs = await until(`${FAST_BURN} to fire`, 20_000, async () =>
        (await alertState(FAST_BURN)) === "firing" ? Date.now() - burstStarted : undefined,
      );
      const burstStatuses = await burst;
      controllable.failWith = undefined;
      expect(burstStatuses.filter((status) => status === 500).length).toBeGreaterThan(BURST_REQUESTS / 2);
      const [firing] = await query(`ALERTS{alertname="${FAST_BURN}",alertstate="firing"}`);
      expect(firing.metric).toMatchObject({ namespace: NAMESPACE, track: TRACK, severity: "critical", slo: "availability" });

      // Healthy traffic again: the 5 s window clears and the alert resolves.
      const recoveryStarted = Date.now();
      let recovered = false;
      const recovery = (async () => {
        while (!recovered && Date.now() - recoveryStarted < 30_000) await load(RATE_PER_SECOND);
      })();
      const resolvedAfterMs = await until(`${FAST_BURN} to resolve`, 30_000, async () =>
        (await alertState(FAST_BURN)) === undefined ? Date.now() - recoveryStarted : undefined,
      );
      recovered = true;
      await recovery;
      console.log(
        `${FAST_BURN}: firing ${(firedAfterMs / 1000).toFixed(1)} s after the failure burst began, resolved ` +
          `${(resolvedAfterMs / 1000).toFixed(1)} s after it ended`,
      );
    },
    120_000,
  );

  test("after the burst, the release analysis (`npm run release -- status`) judges the track unhealthy, and its recorded series read the same", async () => {
    const [status] = await measureTracks(base, NAMESPACE, [TRACK]);
    const at = Date.now() / 1000;
    expect(status.verdict.outcome).toBe("unhealthy");
    expect(status.measurement.errorRatio).toBeGreaterThan(CANARY_THRESHOLDS.maxErrorRatio);
    const [recordedErrors] = await query(`${RECORDED.releaseErrorRatio}{namespace="${NAMESPACE}",track="${TRACK}"}`, at);
    const [recordedP99] = await query(`${RECORDED.releaseP99Latency}{namespace="${NAMESPACE}",track="${TRACK}"}`, at);
    // The recording was last evaluated up to a second ago: the analysis' raw queries at that evaluation's timestamp
    // give the same numbers, up to a scrape stamped before the evaluation but stored after it (1% apart here, as
    // traffic changes fast right after the burst).
    const selector = { namespace: NAMESPACE, track: TRACK } as const;
    const [rawErrors] = await query(errorRatioQuery(selector), recordedErrors.value[0]);
    const [rawP99] = await query(p99LatencyQuery(selector), recordedP99.value[0]);
    const relative = (a: number, b: number) => Math.abs(a - b) / b;
    expect(relative(Number(recordedErrors.value[1]), Number(rawErrors.value[1]))).toBeLessThan(0.05);
    expect(relative(Number(recordedP99.value[1]), Number(rawP99.value[1]))).toBeLessThan(0.1);
    const p99 = status.measurement.p99LatencySeconds!;
    console.log(
      `release analysis of track ${TRACK}: error ratio ${formatRatio(status.measurement.errorRatio!)} ` +
        `(recorded ${formatRatio(Number(recordedErrors.value[1]))}), p99 ${formatSeconds(p99)} ` +
        `(recorded ${formatSeconds(Number(recordedP99.value[1]))}): ${status.verdict.outcome}`,
    );
  });

  test("every dashboard query parses, evaluates and returns data", async () => {
    const queries = dashboardQueries(chart.dashboard.dashboard);
    const variables: Record<string, string> = { namespace: NAMESPACE, track: ".*", model_version: ".*" };
    const empty: string[] = [];
    for (const { panel, expr } of queries) {
      const concrete = expr.replace(/\$(\w+)/g, (_match, name: string) => variables[name] ?? `$${name}`);
      const result = await query(concrete);
      if (result.length === 0) empty.push(`${panel}: ${concrete}`);
    }
    expect(queries.length).toBeGreaterThanOrEqual(20);
    expect(empty).toEqual([]);
  });
});
