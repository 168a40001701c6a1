/**
 * Two model versions side by side (the committed 1.0.0 and 1.1.0): a request picks one with `model_version`
 * (/predict, /predict/batch) or the path (/v2/models/{m}/versions/{v}), the answer names the version that served
 * it in the body and X-Model-Version, versions never share a batch, every prediction metric carries
 * model_version, and a version that is unknown or in the repository but not loaded answers 404, differently.
 */
import request from "supertest";
import { itemShape, itemSize, type ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import { expectErrorObject } from "../protocol/helpers";
import {
  CARD_PATH,
  ControllableModel,
  PREVIOUS_CARD_PATH,
  buildVersionedService,
  loadGolden,
  loadModelCard,
  loadRealModel,
  type Golden,
  type TestService,
} from "./helpers";

let golden: Golden;
let current: ModelCard;
let previous: ModelCard;
let currentModel: OnnxModel;
let previousModel: OnnxModel;
/** 1.0.0 and 1.1.0 loaded, 1.1.0 the default. */
let both: TestService;
/** Only 1.1.0 loaded, from a repository that also holds 1.0.0. */
let newestOnly: TestService;

beforeAll(async () => {
  golden = loadGolden();
  current = await loadModelCard(CARD_PATH);
  previous = await loadModelCard(PREVIOUS_CARD_PATH);
  currentModel = await loadRealModel(current);
  previousModel = await loadRealModel(previous);
  both = buildVersionedService(
    [
      { card: previous, model: previousModel },
      { card: current, model: currentModel },
    ],
    { CLASSIFIER_MODEL_VERSION_POLICY: "all" },
  );
  newestOnly = buildVersionedService([{ card: current, model: currentModel }], {}, { repositoryVersions: [previous.version, current.version] });
});

afterAll(async () => {
  await Promise.all([currentModel.close(), previousModel.close()]);
});

const ship = () => golden.images.filter((image) => image.label === "ship");

function predict(service: TestService, query: string, image = ship()[0]) {
  return request(service.app).post(`/predict${query}`).attach("file", image.bytes, "ship.jpg");
}

/** The value of one series in the service's /metrics exposition, 0 when absent. */
async function sample(service: TestService, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await request(service.app).get("/metrics")).text;
  const wanted = Object.entries(labels);
  for (const line of text.split("\n")) {
    const match = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (wanted.every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

describe("the committed versions", () => {
  it("are two different networks with the same labels and input", () => {
    expect([previous.version, current.version]).toEqual(["1.0.0", "1.1.0"]);
    expect(previous.sha256).toBe("2fe162ffe46036ad246ccca54854f7faa78884a6f6233ca2b1c6cb1bf3b14718");
    expect(previous.sha256).not.toBe(current.sha256);
    expect(previous.labels).toEqual(current.labels);
    expect(previous.input).toEqual(current.input);
    expect(previous.evaluatedTop1).toBe(0.8908);
    expect(current.evaluatedTop1).toBe(0.9028);
  });
});

describe("POST /predict and /predict/batch with model_version", () => {
  it("serves the default version without model_version, and says so in the body and X-Model-Version", async () => {
    const res = await predict(both, "");
    expect(res.status).toBe(200);
    expect(res.body.model).toEqual({ name: "pyramidnet", version: "1.1.0" });
    expect(res.headers["x-model-version"]).toBe("1.1.0");
  });

  it("serves each loaded version when asked, with that version's own answer", async () => {
    const image = ship()[3];
    const newer = await predict(both, "?model_version=1.1.0&top_k=10", image);
    const older = await predict(both, "?model_version=1.0.0&top_k=10", image);
    expect([newer.status, older.status]).toEqual([200, 200]);
    expect(newer.body.model.version).toBe("1.1.0");
    expect(older.body.model.version).toBe("1.0.0");
    expect(older.headers["x-model-version"]).toBe("1.0.0");
    // Another network, so other probabilities for the same image.
    expect(older.body.prediction.confidence).not.toBeCloseTo(newer.body.prediction.confidence, 3);
    // The default version's answer is the same as naming it.
    const byDefault = await predict(both, "?top_k=10", image);
    expect(byDefault.body.top_k).toEqual(newer.body.top_k);
  });

  it("classifies the ship fixtures with 1.0.0 too (it scored 89% on the test set)", async () => {
    let req = request(both.app).post("/predict/batch?model_version=1.0.0");
    for (const image of ship()) req = req.attach("files", image.bytes, image.file);
    const res = await req;
    expect(res.status).toBe(200);
    expect(res.body.model).toEqual({ name: "pyramidnet", version: "1.0.0" });
    expect(res.headers["x-model-version"]).toBe("1.0.0");
    const correct = res.body.results.filter((r: { prediction: { label: string } }) => r.prediction.label === "ship").length;
    expect(correct).toBeGreaterThanOrEqual(8);
  });

  it("answers 404 unknown_model_version for a version the repository does not hold, before reading the upload", async () => {
    const res = await predict(both, "?model_version=9.9.9");
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({
      code: "unknown_model_version",
      message: 'Model "pyramidnet" has no version "9.9.9"; loaded versions: 1.0.0, 1.1.0.',
    });
    const batch = await request(both.app).post("/predict/batch?model_version=latest").attach("files", ship()[0].bytes, "a.jpg");
    expect(batch.status).toBe(404);
    expect(batch.body.error.code).toBe("unknown_model_version");
  });

  it("answers 404 model_version_not_loaded for a version in the repository that this server does not load", async () => {
    const res = await predict(newestOnly, "?model_version=1.0.0");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("model_version_not_loaded");
    expect(res.body.error.message).toBe(
      'Version "1.0.0" of model "pyramidnet" is in the model repository but not loaded by this server ' +
        "(version policy latest:1); loaded versions: 1.1.0.",
    );
    expect(res.headers["x-model-version"]).toBeUndefined();
    // The same version name on a server that loads it is served.
    expect((await predict(both, "?model_version=1.0.0")).status).toBe(200);
  });

  it("checks top_k against the version asked for, and still refuses a bad one", async () => {
    const res = await predict(both, "?model_version=1.0.0&top_k=11");
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_top_k");
  });
});

describe("one batcher per version", () => {
  it("never puts two versions' images in one batch", async () => {
    const older = new ControllableModel(previousModel);
    const newer = new ControllableModel(currentModel);
    older.delayMs = newer.delayMs = 150;
    const service = buildVersionedService(
      [
        { card: previous, model: older },
        { card: current, model: newer },
      ],
      { CLASSIFIER_MODEL_VERSION_POLICY: "all", CLASSIFIER_BATCH_MAX_DELAY_MS: "50" },
    );
    const images = ship();
    const answers = await Promise.all([
      ...[0, 1, 2].map((i) => predict(service, "?model_version=1.0.0", images[i])),
      ...[3, 4].map((i) => predict(service, "?model_version=1.1.0", images[i])),
    ]);
    expect(answers.map((a) => a.headers["x-model-version"])).toEqual(["1.0.0", "1.0.0", "1.0.0", "1.1.0", "1.1.0"]);
    // Each model ran exactly its own version's images, however they were grouped.
    expect(older.batchSizes.reduce((a, b) => a + b, 0)).toBe(3);
    expect(newer.batchSizes.reduce((a, b) => a + b, 0)).toBe(2);
    expect(await sample(service, "inference_batch_size_sum", { model_version: "1.0.0" })).toBe(3);
    expect(await sample(service, "inference_batch_size_sum", { model_version: "1.1.0" })).toBe(2);
  });
});

describe("metrics per version", () => {
  it("labels every prediction metric with model_version, and has one model_info series per loaded version", async () => {
    const service = buildVersionedService(
      [
        { card: previous, model: previousModel },
        { card: current, model: currentModel },
      ],
      { CLASSIFIER_MODEL_VERSION_POLICY: "all" },
    );
    await predict(service, "?model_version=1.0.0");
    await predict(service, "?model_version=1.0.0");
    await predict(service, "");
    await request(service.app).post("/predict?model_version=1.0.0").attach("file", Buffer.from("not an image"), "x.txt");

    const success = (model_version: string) => sample(service, "predictions_total", { model_name: "pyramidnet", model_version, status: "success" });
    expect([await success("1.0.0"), await success("1.1.0")]).toEqual([2, 1]);
    expect(await sample(service, "predictions_total", { model_version: "1.0.0", status: "unsupported_media" })).toBe(1);
    expect(await sample(service, "prediction_latency_seconds_count", { model_version: "1.0.0" })).toBe(3);
    expect(await sample(service, "prediction_latency_seconds_count", { model_version: "1.1.0" })).toBe(1);
    expect(await sample(service, "prediction_confidence_count", { model_version: "1.0.0" })).toBe(2);
    expect(await sample(service, "predicted_class_total", { model_version: "1.1.0", label: "ship" })).toBe(1);
    expect(await sample(service, "pipeline_stage_duration_seconds_count", { model_version: "1.0.0", stage: "decode" })).toBe(3);
    expect(await sample(service, "inference_queue_wait_seconds_count", { model_version: "1.1.0" })).toBe(1);

    const text = (await request(service.app).get("/metrics")).text;
    const depth = text.split("\n").filter((l) => l.startsWith("inference_queue_depth{"));
    expect(depth.sort()).toEqual(['inference_queue_depth{model_version="1.0.0"} 0', 'inference_queue_depth{model_version="1.1.0"} 0']);
    const info = text.split("\n").filter((l) => l.startsWith("model_info{"));
    expect(info.sort()).toEqual([
      `model_info{name="pyramidnet",version="1.0.0",sha256="${previous.sha256}"} 1`,
      `model_info{name="pyramidnet",version="1.1.0",sha256="${current.sha256}"} 1`,
    ]);
  });
});

describe("Open Inference Protocol, per version", () => {
  const base = "/v2/models/pyramidnet";
  const tensor = (n: number) => ({
    inputs: [{ name: "input", shape: [n, ...itemShape(current.input)], datatype: "FP32", data: Array.from(golden.inputs.subarray(0, n * itemSize(current.input))) }],
    outputs: [{ name: "logits" }],
  });

  it("lists every loaded version in the model metadata, with and without a version in the path", async () => {
    for (const path of [base, `${base}/versions/1.0.0`, `${base}/versions/1.1.0`]) {
      const res = await request(both.app).get(path);
      expect(res.status).toBe(200);
      expect(res.body.versions).toEqual(["1.0.0", "1.1.0"]);
    }
  });

  it("answers ready for every loaded version", async () => {
    for (const version of ["1.0.0", "1.1.0"]) {
      const res = await request(both.app).get(`${base}/versions/${version}/ready`);
      expect([res.status, res.body]).toEqual([200, { name: "pyramidnet", ready: true }]);
    }
  });

  it("infers with the version in the path, naming it in model_version and X-Model-Version", async () => {
    const newer = await request(both.app).post(`${base}/versions/1.1.0/infer`).send(tensor(2));
    const older = await request(both.app).post(`${base}/versions/1.0.0/infer`).send(tensor(2));
    const byDefault = await request(both.app).post(`${base}/infer`).send(tensor(2));
    expect([newer.status, older.status, byDefault.status]).toEqual([200, 200, 200]);
    expect([newer.body.model_version, older.body.model_version, byDefault.body.model_version]).toEqual(["1.1.0", "1.0.0", "1.1.0"]);
    expect([newer.headers["x-model-version"], older.headers["x-model-version"]]).toEqual(["1.1.0", "1.0.0"]);
    // 1.1.0 gives the golden logits (PyTorch's, for 1.1.0); 1.0.0 is another network.
    const classes = current.labels.length;
    const golden11 = Array.from(golden.logits.subarray(0, 2 * classes));
    const maxDiff = (data: number[]) => Math.max(...data.map((v, i) => Math.abs(v - golden11[i])));
    expect(maxDiff(newer.body.outputs[0].data as number[])).toBeLessThan(1e-3);
    expect(maxDiff(older.body.outputs[0].data as number[])).toBeGreaterThan(0.1);
  });

  it.each(["", "/ready", "/infer"])("answers 404 with different messages for an unknown and a not-loaded version (%s)", async (suffix) => {
    const call = (service: TestService, version: string) => {
      const path = `${base}/versions/${version}${suffix}`;
      return suffix === "/infer" ? request(service.app).post(path).send(tensor(1)) : request(service.app).get(path);
    };
    const unknown = await call(newestOnly, "2.0.0");
    const notLoaded = await call(newestOnly, "1.0.0");
    expectErrorObject(unknown, 404);
    expectErrorObject(notLoaded, 404);
    expect(unknown.body.error).toBe('Model "pyramidnet" has no version "2.0.0"; loaded versions: 1.1.0.');
    expect(notLoaded.body.error).toContain('Version "1.0.0" of model "pyramidnet" is in the model repository but not loaded by this server');
  });

  it("documents the loaded versions in /openapi.json: the path parameter and model_version", async () => {
    const doc = (await request(both.app).get("/openapi.json")).body;
    const versionParameter = doc.paths["/v2/models/{model}/versions/{version}/infer"].post.parameters.find((p: { name: string }) => p.name === "version");
    expect(versionParameter.schema.enum).toEqual(["1.0.0", "1.1.0"]);
    const query = doc.paths["/predict"].post.parameters.find((p: { name: string }) => p.name === "model_version");
    expect(query).toMatchObject({ in: "query", required: false, schema: { type: "string", enum: ["1.0.0", "1.1.0"], default: "1.1.0" } });
    expect(doc.paths["/predict"].post.responses["200"].headers).toHaveProperty(["X-Model-Version"]);
    expect(doc.paths["/predict/batch"].post.responses["404"]).toEqual({ $ref: "#/components/responses/UnknownModelVersion" });
  });
});
