/** /metrics: every metric of the contract, with route templates as labels, valid for promtool. */
import { spawnSync } from "node:child_process";
import request from "supertest";
import { METRIC_NAMES } from "../../service/contract/metrics";
import { PIPELINE_STAGES } from "../../service/metrics/metrics";
import type { ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import { CARD_PATH, buildService, loadGolden, loadModelCard, loadRealModel, type TestService } from "./helpers";

let card: ModelCard;
let model: OnnxModel;
let service: TestService;
let exposition: string;

beforeAll(async () => {
  card = await loadModelCard(CARD_PATH);
  model = await loadRealModel(card);
  service = buildService(card, model);
  const golden = loadGolden();
  const app = service.app;
  await request(app).post("/predict").attach("file", golden.images[0].bytes, "a.jpg").expect(200);
  await request(app)
    .post("/predict/batch")
    .attach("files", golden.images[1].bytes, "b.jpg")
    .attach("files", Buffer.from("nope"), "c.jpg")
    .expect(200);
  await request(app).post("/predict").attach("file", Buffer.from("nope"), "d.jpg").expect(415);
  await request(app).get("/no/such/route-12345").expect(404);
  await request(app).get("/health/ready").expect(200);
  const res = await request(app).get("/metrics").expect(200);
  expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
  exposition = res.text;
});

afterAll(async () => {
  await model.close();
});

/** The samples of one metric, as label sets and values. */
function samples(name: string): { labels: Record<string, string>; value: number }[] {
  const pattern = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, "gm");
  return [...exposition.matchAll(pattern)].map((m) => ({
    labels: Object.fromEntries([...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]])),
    value: Number(m[2]),
  }));
}

describe("GET /metrics", () => {
  it("exposes every metric of the contract with HELP and TYPE", () => {
    const types: Record<string, string> = {
      httpRequestsTotal: "counter",
      httpRequestDuration: "histogram",
      predictionsTotal: "counter",
      predictionLatency: "histogram",
      stageDuration: "histogram",
      predictedClassTotal: "counter",
      predictionConfidence: "histogram",
      modelInfo: "gauge",
      inflightRequests: "gauge",
      batchSize: "histogram",
      queueWait: "histogram",
      queueDepth: "gauge",
    };
    for (const [key, type] of Object.entries(types)) {
      const name = METRIC_NAMES[key as keyof typeof METRIC_NAMES];
      expect(exposition).toContain(`# TYPE ${name} ${type}`);
      expect(exposition).toMatch(new RegExp(`^# HELP ${name} \\S`, "m"));
    }
    expect(exposition).toContain("# TYPE process_cpu_user_seconds_total counter");
    expect(exposition).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
  });

  it("labels HTTP requests by route template, never by raw URL", () => {
    const requests = samples("http_requests_total");
    const find = (method: string, route: string, status: string) =>
      requests.find((s) => s.labels.method === method && s.labels.route === route && s.labels.status_code === status)?.value;
    expect(find("POST", "/predict", "200")).toBe(1);
    expect(find("POST", "/predict", "415")).toBe(1);
    expect(find("POST", "/predict/batch", "200")).toBe(1);
    expect(find("GET", "/health/ready", "200")).toBe(1);
    expect(find("GET", "unmatched", "404")).toBe(1);
    expect(exposition).not.toContain("route-12345");
    const durations = samples("http_request_duration_seconds_count");
    expect(durations.find((s) => s.labels.route === "/predict" && s.labels.status_code === "200")?.value).toBe(1);
  });

  it("counts predictions by outcome, class and confidence", () => {
    const predictions = samples("predictions_total");
    const byStatus = (status: string) => predictions.find((s) => s.labels.status === status && s.labels.model_name === card.name)?.value;
    expect(byStatus("success")).toBe(2);
    expect(byStatus("unsupported_media")).toBe(2);
    const classes = samples("predicted_class_total");
    expect(classes.map((s) => s.labels.label).sort()).toEqual([...card.labels].sort());
    expect(classes.reduce((sum, s) => sum + s.value, 0)).toBe(2);
    expect(samples("prediction_confidence_count")[0].value).toBe(2);
    expect(samples("prediction_latency_seconds_count").find((s) => s.labels.model_name === card.name)?.value).toBe(3);
  });

  it("times every pipeline stage and the batcher", () => {
    const stages = samples("pipeline_stage_duration_seconds_count");
    for (const stage of PIPELINE_STAGES) expect(stages.find((s) => s.labels.stage === stage)).toBeDefined();
    expect(stages.find((s) => s.labels.stage === "decode")?.value).toBe(4);
    expect(stages.find((s) => s.labels.stage === "inference")?.value).toBeGreaterThanOrEqual(1);
    expect(samples("inference_batch_size_sum")[0].value).toBe(2);
    expect(samples("inference_queue_wait_seconds_count")[0].value).toBe(2);
    expect(samples("inference_queue_depth")[0].value).toBe(0);
  });

  it("describes the model it serves", () => {
    expect(samples("model_info")).toEqual([
      { labels: { name: card.name, version: card.version, sha256: card.sha256 }, value: 1 },
    ]);
    // /metrics itself is the only request in flight while it renders.
    expect(samples("inflight_requests")[0].value).toBe(0);
  });

  it("passes promtool check metrics", () => {
    const which = spawnSync("promtool", ["--version"], { encoding: "utf8" });
    if (which.error !== undefined) {
      console.warn("SKIPPED promtool check: promtool is not on PATH (apt-get install prometheus; .ci/run installs it)");
      return;
    }
    const result = spawnSync("promtool", ["check", "metrics"], { input: exposition, encoding: "utf8" });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ status: 0, output: "" });
  });
});
