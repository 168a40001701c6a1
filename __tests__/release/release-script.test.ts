/**
 * `npm run release` against a fake Prometheus on 127.0.0.1: status reads both tracks and judges them with the
 * AnalysisTemplate's thresholds; promote and rollback rewrite a copy of the release file, re-synthesize into a
 * temporary directory and print the kubectl commands. The server is this test's own and is closed after it.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { RELEASES_PATH, readReleaseTable } from "../../charts/release-table";
import { errorRatioQuery, p99LatencyQuery } from "../../infra/canary-analysis";
import { queryNumber } from "../../scripts/prometheus-query";
import { runRelease } from "../../scripts/release";

/** What the fake answers: a value per track and measurement; undefined = empty vector, "NaN" = Prometheus's NaN. */
type Answers = Record<"stable" | "canary", { errorRatio?: string; p99?: string }>;

let answers: Answers;
const received: string[] = [];
let server: http.Server;
let prometheusUrl: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query = url.searchParams.get("query") ?? "";
    res.setHeader("content-type", "application/json");
    if (url.pathname !== "/api/v1/query") {
      res.statusCode = 404;
      res.end(JSON.stringify({ status: "error", error: "not found" }));
      return;
    }
    received.push(query);
    if (query.includes("bad(")) {
      res.statusCode = 400;
      res.end(JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }));
      return;
    }
    const track = query.includes('track="canary"') ? "canary" : "stable";
    const value = query.startsWith("histogram_quantile") ? answers[track].p99 : answers[track].errorRatio;
    const result = value === undefined ? [] : [{ metric: {}, value: [1_764_000_000, value] }];
    res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  prometheusUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  received.length = 0;
  answers = { stable: { errorRatio: "0.001", p99: "0.08" }, canary: { errorRatio: "0.002", p99: "0.09" } };
});

async function run(argv: string[], env: Record<string, string> = { PROMETHEUS_URL: prometheusUrl }) {
  const lines: string[] = [];
  const code = await runRelease(argv, { env, print: (line) => lines.push(line) });
  return { code, output: lines.join("\n") };
}

describe("status", () => {
  const argv = ["status", "--environment", "production"];

  test("a healthy canary: exit 0, both tracks measured with the AnalysisTemplate's own queries, advice to promote", async () => {
    const { code, output } = await run(argv);
    expect(code).toBe(0);
    const canary = { namespace: "pyramidnet-prod", track: "canary" } as const;
    const stable = { namespace: "pyramidnet-prod", track: "stable" } as const;
    expect([...received].sort()).toEqual(
      [errorRatioQuery(stable), p99LatencyQuery(stable), errorRatioQuery(canary), p99LatencyQuery(canary)].sort(),
    );
    expect(output).toContain("limits: error ratio ≤ 1.00%, p99 ≤ 500 ms");
    expect(output).toMatch(/stable +\| 1\.0\.0 +\| 0\.10% +\| 80 ms +\| healthy/);
    expect(output).toMatch(/canary +\| 1\.1\.0 +\| 0\.20% +\| 90 ms +\| healthy/);
    expect(output).toContain("verdict: promote (npm run release -- promote --environment production)");
  });

  test("a canary above a threshold: exit 1, advice to roll back, naming the breach", async () => {
    answers.canary = { errorRatio: "0.04", p99: "0.09" };
    const { code, output } = await run(argv);
    expect(code).toBe(1);
    expect(output).toContain("verdict: roll back (npm run release -- rollback --environment production): error ratio 4.00% is above 1.00%");
  });

  test("a slow canary: exit 1 on p99 alone", async () => {
    answers.canary = { errorRatio: "0", p99: "0.75" };
    const { code, output } = await run(argv);
    expect(code).toBe(1);
    expect(output).toContain("p99 latency 750 ms is above 500 ms");
  });

  test("a canary without traffic (empty vector, NaN): exit 1, wait", async () => {
    answers.canary = { errorRatio: undefined, p99: "NaN" };
    const { code, output } = await run(argv);
    expect(code).toBe(1);
    expect(output).toMatch(/canary +\| 1\.1\.0 +\| no data +\| no data +\| no-data/);
    expect(output).toContain("verdict: wait: the canary has served nothing in the window yet");
  });

  test("an unhealthy stable track does not block a healthy canary's verdict, but shows", async () => {
    answers.stable = { errorRatio: "0.2", p99: "2" };
    const { code, output } = await run(argv);
    expect(code).toBe(0);
    expect(output).toMatch(/stable +\| 1\.0\.0 +\| 20\.00% +\| 2000 ms +\| unhealthy/);
  });

  test("without PROMETHEUS_URL, or with Prometheus unreachable: exit 2 with the reason", async () => {
    const missing = await run(argv, {});
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("status needs PROMETHEUS_URL");
    const closed = await run(argv, { PROMETHEUS_URL: "http://127.0.0.1:1" });
    expect(closed.code).toBe(2);
    expect(closed.output).toMatch(/^release failed: cannot reach Prometheus at http:\/\/127\.0\.0\.1:1/);
  });

  test("an environment without a release entry: exit 2, nothing queried (its pods have no track label)", async () => {
    const { code, output } = await run(["status", "--environment", "development"]);
    expect(code).toBe(2);
    expect(received).toEqual([]);
    expect(output).toContain("development has no release entry in");
  });

  test("after a promotion (no canary): the stable track alone is judged", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-status-"));
    try {
      const file = path.join(dir, "releases.json");
      fs.writeFileSync(file, JSON.stringify({ production: { stable: { modelVersion: "1.1.0" } } }));
      const { code, output } = await run(["status", "--environment", "production", "--releases", file]);
      expect(code).toBe(0);
      expect(received.every((q) => q.includes('namespace="pyramidnet-prod",track="stable"'))).toBe(true);
      expect(received).toHaveLength(2);
      expect(output).toMatch(/stable +\| 1\.1\.0 +\| 0\.10% +\| 80 ms +\| healthy/);
      expect(output).toContain("verdict: no canary; the stable track is healthy");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a query Prometheus refuses fails with Prometheus's own error", async () => {
    await expect(queryNumber(prometheusUrl, "bad(")).rejects.toThrow("Prometheus refused the query (400): parse error");
    await expect(queryNumber(`${prometheusUrl}/`, "up")).resolves.toBeCloseTo(0.001);
  });
});

describe("promote and rollback", () => {
  let dir: string;
  let releases: string;
  let outdir: string;
  const committed = fs.readFileSync(RELEASES_PATH, "utf8");

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-"));
    releases = path.join(dir, "releases.json");
    outdir = path.join(dir, "dist");
    fs.writeFileSync(releases, committed);
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    // The committed file is never touched: every test works on its copy.
    expect(fs.readFileSync(RELEASES_PATH, "utf8")).toBe(committed);
  });

  const production = () =>
    parseAllDocuments(fs.readFileSync(path.join(outdir, "production.k8s.yaml"), "utf8")).map(
      (d) => d.toJSON() as { kind: string; metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string> },
    );

  test("promote: stable runs 1.1.0, the canary is gone from the file and the manifests, kubectl commands in order", async () => {
    const { code, output } = await run(["promote", "--environment", "production", "--releases", releases, "--outdir", outdir], {});
    expect(code).toBe(0);
    expect(readReleaseTable(releases)).toEqual({ production: { stable: { modelVersion: "1.1.0" } } });
    const objects = production();
    expect(objects.some((o) => o.metadata.labels?.track === "canary")).toBe(false);
    expect(objects.find((o) => o.metadata.name === "pyramidnet-stable-config")!.data!.CLASSIFIER_MODEL_VERSION).toBe("1.1.0");
    expect(fs.existsSync(path.join(outdir, "production-rollout.k8s.yaml"))).toBe(true);
    const commands = output.split("\n").filter((line) => line.startsWith("  kubectl"));
    expect(commands).toEqual([
      `  kubectl apply -f ${outdir}/production.k8s.yaml`,
      "  kubectl -n pyramidnet-prod rollout status deployment/pyramidnet-stable --timeout=10m",
      "  kubectl -n pyramidnet-prod delete ingress,configmap,deployment,service,horizontalpodautoscaler,poddisruptionbudget,networkpolicy,servicemonitor " +
        "-l app.kubernetes.io/instance=pyramidnet-production,track=canary",
    ]);
    expect(output).toContain("promoted: the stable track now runs model 1.1.0; the canary is gone");
    expect(output).toContain("kubectl argo rollouts promote --full pyramidnet -n pyramidnet-prod");
  });

  test("rollback: stable keeps 1.0.0, the canary's traffic is cut first", async () => {
    const { code, output } = await run(["rollback", "--environment", "production", "--releases", releases, "--outdir", outdir], {});
    expect(code).toBe(0);
    expect(readReleaseTable(releases)).toEqual({ production: { stable: { modelVersion: "1.0.0" } } });
    expect(production().find((o) => o.metadata.name === "pyramidnet-stable-config")!.data!.CLASSIFIER_MODEL_VERSION).toBe("1.0.0");
    const commands = output.split("\n").filter((line) => line.startsWith("  kubectl"));
    expect(commands[0]).toMatch(/^ {2}kubectl -n pyramidnet-prod delete ingress,.* -l app\.kubernetes\.io\/instance=pyramidnet-production,track=canary$/);
    expect(commands[1]).toBe(`  kubectl apply -f ${outdir}/production.k8s.yaml`);
    expect(output).toContain("rolled back: the stable track keeps model 1.0.0; the canary (1.1.0) is gone");
    expect(output).toContain("kubectl argo rollouts abort pyramidnet -n pyramidnet-prod");
  });

  test("a second promote finds no canary: exit 2, the file unchanged", async () => {
    const argv = ["promote", "--environment", "production", "--releases", releases, "--outdir", outdir];
    expect((await run(argv, {})).code).toBe(0);
    const after = fs.readFileSync(releases, "utf8");
    const again = await run(argv, {});
    expect(again.code).toBe(2);
    expect(again.output).toBe('release failed: environment "production" has no canary to promote or roll back');
    expect(fs.readFileSync(releases, "utf8")).toBe(after);
  });
});

test.each([
  [[], "name a command: status, promote, rollback"],
  [["status"], "--environment is required"],
  [["status", "--environment", "moon"], 'unknown environment "moon" (development, production)'],
  [["deploy", "--environment", "production"], 'unknown argument "deploy"'],
  [["status", "--environment"], "--environment needs a value"],
])("usage error %j: exit 2", async (argv, message) => {
  const { code, output } = await run(argv);
  expect(code).toBe(2);
  expect(output).toContain(message);
});
