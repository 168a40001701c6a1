/**
 * Open Inference Protocol (KServe v2) REST conformance, section by section of the protocol's text: health,
 * server metadata, model metadata, inference (request, response, tensor data, errors). The tests learn the
 * model's input and outputs from its metadata, as a generic client would; the only service-specific names
 * are the documented extension ("image", BYTES, base64 files) and the "probabilities" output.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import type { ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import {
  CARD_PATH,
  ControllableModel,
  buildService,
  loadGolden,
  loadModelCard,
  loadRealModel,
  type Golden,
  type TestService,
} from "../service/helpers";
import { ONNX_PLATFORM, expectErrorObject, expectMetadataTensor, expectResponseOutput, nest } from "./helpers";

let card: ModelCard;
let golden: Golden;
let model: OnnxModel;
let service: TestService;
let notReady: TestService;

/** What GET /v2/models/{model} told us. */
let inputName: string;
let itemShape: number[];
let itemSize: number;
let classes: number;
let logitsName: string;

const IMAGE_INPUT = "image";
const PROBABILITIES = "probabilities";

beforeAll(async () => {
  card = await loadModelCard(CARD_PATH);
  golden = loadGolden();
  model = await loadRealModel(card);
  service = buildService(card, model);
  notReady = buildService(card, model, {}, { ready: false });
  const metadata = (await request(service.app).get(`/v2/models/${card.name}`)).body;
  inputName = metadata.inputs[0].name;
  itemShape = metadata.inputs[0].shape.slice(1);
  itemSize = itemShape.reduce((a: number, b: number) => a * b, 1);
  logitsName = metadata.outputs[0].name;
  classes = metadata.outputs[0].shape[1];
});

afterAll(async () => {
  await model.close();
});

const bases = () => [`/v2/models/${card.name}`, `/v2/models/${card.name}/versions/${card.version}`];
const inferPath = () => `/v2/models/${card.name}/infer`;

/** Golden inputs [from, to) as one flat FP32 input tensor. */
function fp32Input(from: number, to: number, name = inputName) {
  return { name, shape: [to - from, ...itemShape], datatype: "FP32", data: Array.from(golden.inputs.subarray(from * itemSize, to * itemSize)) };
}

function imageInput(images: readonly Buffer[]) {
  return { name: IMAGE_INPUT, shape: [images.length], datatype: "BYTES", data: images.map((b) => b.toString("base64")) };
}

function infer(body: unknown, app = service.app, path = inferPath()) {
  return request(app).post(path).set("Content-Type", "application/json").send(JSON.stringify(body));
}

function outputNamed(res: request.Response, name: string): { name: string; shape: number[]; datatype: string; data: number[] } {
  const output = res.body.outputs.find((o: { name: string }) => o.name === name);
  expect(output).toBeDefined();
  return output;
}

const argmax = (row: ArrayLike<number>) => Array.prototype.indexOf.call(row, Math.max(...Array.from(row)));

describe("Health: 200 means true, 4xx means false", () => {
  it("GET /v2/health/live is 200 while the server can answer, ready or not", async () => {
    for (const app of [service.app, notReady.app]) {
      const res = await request(app).get("/v2/health/live");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ live: true });
    }
  });

  it("GET /v2/health/ready is 200 when ready, 4xx while loading or draining", async () => {
    expect((await request(service.app).get("/v2/health/ready")).status).toBe(200);
    const loading = await request(notReady.app).get("/v2/health/ready");
    expect(loading.status).toBeGreaterThanOrEqual(400);
    expect(loading.status).toBeLessThan(500);
    expect(loading.body).toEqual({ ready: false });
    const draining = buildService(card, model);
    draining.lifecycle.startDraining();
    const res = await request(draining.app).get("/v2/health/ready");
    expect(res.status >= 400 && res.status < 500).toBe(true);
  });

  it("GET /v2/models/{model}[/versions/{v}]/ready is 200 when the model is ready, 4xx when not", async () => {
    for (const base of bases()) {
      const ready = await request(service.app).get(`${base}/ready`);
      expect([base, ready.status]).toEqual([base, 200]);
      expect(ready.body).toEqual({ name: card.name, ready: true });
      const loading = await request(notReady.app).get(`${base}/ready`);
      expect(loading.status >= 400 && loading.status < 500).toBe(true);
      expect(loading.body).toEqual({ name: card.name, ready: false });
    }
  });

  it("model readiness of an unknown model or version is 404", async () => {
    expectErrorObject(await request(service.app).get("/v2/models/resnet50/ready"), 404);
    expectErrorObject(await request(service.app).get(`/v2/models/${card.name}/versions/0.0.0-nope/ready`), 404);
  });
});

describe("Server metadata: GET /v2", () => {
  it("answers {name, version, extensions} with strings", async () => {
    const res = await request(service.app).get("/v2");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: expect.any(String), version: expect.any(String), extensions: expect.any(Array) });
    expect(res.body.name.length).toBeGreaterThan(0);
    expect(res.body.version.length).toBeGreaterThan(0);
    for (const extension of res.body.extensions) expect(typeof extension).toBe("string");
    expect(res.body.extensions).toContain("image_bytes_input");
    // Exactly the extensions this server implements, and nothing more.
    expect([...res.body.extensions].sort()).toEqual(["binary_tensor_data", "image_bytes_input"]);
  });
});

describe("Model metadata: GET /v2/models/{model}[/versions/{version}]", () => {
  it("answers name, versions, platform and $metadata_tensor inputs and outputs, on both paths", async () => {
    for (const base of bases()) {
      const res = await request(service.app).get(base);
      expect([base, res.status]).toEqual([base, 200]);
      expect(Object.keys(res.body).sort()).toEqual(["inputs", "name", "outputs", "platform", "versions"]);
      expect(res.body.name).toBe(card.name);
      expect(res.body.versions).toEqual([card.version]);
      expect(res.body.platform).toBe(ONNX_PLATFORM);
      for (const tensor of [...res.body.inputs, ...res.body.outputs]) expectMetadataTensor(tensor);
    }
  });

  it("describes the model card's tensors, the variable batch dimension as -1", async () => {
    const { body } = await request(service.app).get(bases()[0]);
    expect(body.inputs).toEqual([{ name: card.input.name, datatype: "FP32", shape: [-1, ...card.input.shape.slice(1)] }]);
    expect(body.outputs).toEqual([
      { name: card.output.name, datatype: "FP32", shape: [-1, card.labels.length] },
      { name: PROBABILITIES, datatype: "FP32", shape: [-1, card.labels.length] },
    ]);
  });

  it("answers 404 with an error object for an unknown model or version", async () => {
    expectErrorObject(await request(service.app).get("/v2/models/resnet50"), 404);
    expectErrorObject(await request(service.app).get("/v2/models/resnet50/versions/1"), 404);
    expectErrorObject(await request(service.app).get(`/v2/models/${card.name}/versions/9.9.9`), 404);
  });
});

describe("Inference: POST /v2/models/{model}[/versions/{version}]/infer", () => {
  it("returns the golden logits for FP32 input (flattened), every fixture image, within 1e-3", async () => {
    const total = golden.logits.length / classes;
    for (let from = 0; from < total; from += 25) {
      const to = Math.min(total, from + 25);
      const res = await infer({ inputs: [fp32Input(from, to)], outputs: [{ name: logitsName }] });
      expect(res.status).toBe(200);
      const logits = outputNamed(res, logitsName);
      expect(logits.shape).toEqual([to - from, classes]);
      expect(logits.datatype).toBe("FP32");
      const expected = golden.logits.subarray(from * classes, to * classes);
      const worst = Math.max(...logits.data.map((v, i) => Math.abs(v - expected[i])));
      expect(worst).toBeLessThan(1e-3);
    }
  });

  it("accepts the same tensor nested in its natural shape, with the same result", async () => {
    const flat = await infer({ inputs: [fp32Input(3, 5)] });
    const input = fp32Input(3, 5);
    const nested = await infer({ inputs: [{ ...input, data: nest(input.data, input.shape) }] });
    expect(nested.status).toBe(200);
    expect(nested.body.outputs).toEqual(flat.body.outputs);
  });

  it("answers the $inference_response: model_name, model_version, the request's id, $response_output list", async () => {
    for (const base of bases()) {
      const res = await infer({ id: "42", inputs: [fp32Input(0, 2)] }, service.app, `${base}/infer`);
      expect([base, res.status]).toEqual([base, 200]);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(Object.keys(res.body).sort()).toEqual(["id", "model_name", "model_version", "outputs"]);
      expect(res.body).toMatchObject({ model_name: card.name, model_version: card.version, id: "42" });
      // Without "outputs" in the request, every output the model produces.
      expect(res.body.outputs.map((o: { name: string }) => o.name)).toEqual([logitsName, PROBABILITIES]);
      for (const output of res.body.outputs) {
        expectResponseOutput(output);
        expect(output.shape).toEqual([2, classes]);
        expect(output.datatype).toBe("FP32");
      }
    }
  });

  it("without an id, answers under the request's X-Request-Id", async () => {
    const res = await infer({ inputs: [fp32Input(0, 1)] });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(res.headers["x-request-id"]);
  });

  it("returns only the outputs requested, in the order requested", async () => {
    const one = await infer({ inputs: [fp32Input(0, 1)], outputs: [{ name: PROBABILITIES }] });
    expect(one.body.outputs.map((o: { name: string }) => o.name)).toEqual([PROBABILITIES]);
    const both = await infer({ inputs: [fp32Input(0, 1)], outputs: [{ name: PROBABILITIES }, { name: logitsName, parameters: {} }] });
    expect(both.body.outputs.map((o: { name: string }) => o.name)).toEqual([PROBABILITIES, logitsName]);
    const probabilities = both.body.outputs[0].data as number[];
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(argmax(probabilities)).toBe(argmax(both.body.outputs[1].data));
  });

  it("accepts request and input parameters ($parameters: string, number or boolean values)", async () => {
    const input = { ...fp32Input(0, 1), parameters: { note: "x" } };
    const res = await infer({ parameters: { priority: 1, trace: false, tag: "a" }, inputs: [input] });
    expect(res.status).toBe(200);
  });

  it("BYTES input of base64 image files gives the same probabilities and label as /predict", async () => {
    const images = [0, 33, 77].map((i) => golden.images[i]);
    const res = await infer({ id: "bytes", inputs: [imageInput(images.map((i) => i.bytes))] });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe("bytes");
    const probabilities = outputNamed(res, PROBABILITIES);
    expectResponseOutput(probabilities);
    expect(probabilities.shape).toEqual([3, classes]);
    for (const [row, image] of images.entries()) {
      const predicted = await request(service.app).post(`/predict?top_k=${classes}`).attach("file", image.bytes, "x.jpg");
      expect(predicted.status).toBe(200);
      const v2Row = probabilities.data.slice(row * classes, (row + 1) * classes);
      for (const score of predicted.body.top_k as { index: number; probability: number }[]) {
        expect(Math.abs(v2Row[score.index] - score.probability)).toBeLessThan(1e-6);
      }
      expect(card.labels[argmax(v2Row)]).toBe(predicted.body.prediction.label);
    }
  });

  it("BYTES and FP32 agree with /predict/batch for the same images", async () => {
    const images = golden.images.slice(10, 14).map((i) => i.bytes);
    const batch = await request(service.app).post("/predict/batch").attach("files", images[0], "a.jpg").attach("files", images[1], "b.jpg").attach("files", images[2], "c.jpg").attach("files", images[3], "d.jpg");
    const v2 = await infer({ inputs: [{ ...imageInput(images), shape: [4, 1] }] });
    expect(v2.status).toBe(200);
    const rows = outputNamed(v2, PROBABILITIES).data;
    const labels = batch.body.results.map((r: { prediction: { label: string } }) => r.prediction.label);
    expect(labels.map((_: string, i: number) => card.labels[argmax(rows.slice(i * classes, (i + 1) * classes))])).toEqual(labels);
  });
});

describe("Inference errors: HTTP error status and {\"error\": <message>}", () => {
  const validInput = () => fp32Input(0, 1);

  it.each([
    ["a body that is not JSON", "{\"inputs\": [", "application/json"],
    ["an empty body", "", "application/json"],
    ["a body that is not application/json", "inputs=1", "application/x-www-form-urlencoded"],
    ["a JSON array", "[]", "application/json"],
    ["a JSON string", "\"infer\"", "application/json"],
  ])("400 for %s", async (_case, body, type) => {
    expectErrorObject(await request(service.app).post(inferPath()).set("Content-Type", type).send(body), 400);
  });

  const cases: [string, () => unknown][] = [
    ["no inputs", () => ({})],
    ["inputs that is not an array", () => ({ inputs: validInput() })],
    ["an empty inputs array", () => ({ inputs: [] })],
    ["two inputs for a one-input model", () => ({ inputs: [validInput(), validInput()] })],
    ["an input without a name", () => ({ inputs: [{ ...validInput(), name: undefined }] })],
    ["an input without a shape", () => ({ inputs: [{ ...validInput(), shape: undefined }] })],
    ["an input without a datatype", () => ({ inputs: [{ ...validInput(), datatype: undefined }] })],
    ["an input without data", () => ({ inputs: [{ ...validInput(), data: undefined }] })],
    ["an input name the model does not have", () => ({ inputs: [{ ...validInput(), name: "pixels" }] })],
    ["an unknown datatype", () => ({ inputs: [{ ...validInput(), datatype: "FLOAT" }] })],
    ["datatype FP64 for an FP32 input", () => ({ inputs: [{ ...validInput(), datatype: "FP64" }] })],
    ["datatype FP16 for an FP32 input", () => ({ inputs: [{ ...validInput(), datatype: "FP16" }] })],
    ["datatype INT32 for an FP32 input", () => ({ inputs: [{ ...validInput(), datatype: "INT32" }] })],
    ["datatype BYTES for the FP32 input", () => ({ inputs: [{ ...validInput(), datatype: "BYTES" }] })],
    ["datatype FP32 for the BYTES image input", () => ({ inputs: [{ ...imageInput([golden.images[0].bytes]), datatype: "FP32" }] })],
    ["fewer elements than the shape holds", () => ({ inputs: [{ ...validInput(), data: validInput().data.slice(1) }] })],
    ["more elements than the shape holds", () => ({ inputs: [{ ...validInput(), data: [...validInput().data, 0] }] })],
    ["a shape that does not match the data's batch", () => ({ inputs: [{ ...validInput(), shape: [2, ...itemShape] }] })],
    ["a shape without the batch dimension", () => ({ inputs: [{ ...validInput(), shape: itemShape }] })],
    ["a shape of the wrong image size", () => ({ inputs: [{ ...validInput(), shape: [1, itemShape[0], itemShape[1] - 4, itemShape[2] - 4] }] })],
    ["a variable (-1) dimension in a request", () => ({ inputs: [{ ...validInput(), shape: [-1, ...itemShape] }] })],
    ["a fractional dimension", () => ({ inputs: [{ ...validInput(), shape: [1.5, ...itemShape] }] })],
    ["a batch of zero", () => ({ inputs: [{ ...validInput(), shape: [0, ...itemShape], data: [] }] })],
    ["a string element", () => ({ inputs: [{ ...validInput(), data: ["0.5", ...validInput().data.slice(1)] }] })],
    ["a null element", () => ({ inputs: [{ ...validInput(), data: [null, ...validInput().data.slice(1)] }] })],
    ["a boolean element", () => ({ inputs: [{ ...validInput(), data: [true, ...validInput().data.slice(1)] }] })],
    ["an element beyond the FP32 range", () => ({ inputs: [{ ...validInput(), data: [1e39, ...validInput().data.slice(1)] }] })],
    // Finite FP32, but the network overflows it to infinite logits: the request's fault, not a 500 (found by fuzzing).
    ["elements so large they overflow the logits", () => ({ inputs: [{ ...validInput(), data: validInput().data.map(() => 3e38) }] })],
    [
      "nested data whose rows do not match the shape",
      () => {
        const input = validInput();
        const nested = nest(input.data, input.shape) as number[][][][];
        nested[0][1][2] = nested[0][1][2].slice(1);
        return { inputs: [{ ...input, data: nested }] };
      },
    ],
    [
      "nested data deeper than the shape",
      () => {
        const input = validInput();
        const nested = nest(input.data, input.shape) as unknown[][][][];
        nested[0][0][0][0] = [0.5];
        return { inputs: [{ ...input, data: nested }] };
      },
    ],
    ["an id that is not a string", () => ({ id: 42, inputs: [validInput()] })],
    ["parameters that are not an object", () => ({ parameters: ["a"], inputs: [validInput()] })],
    ["a parameter value that is an object", () => ({ parameters: { a: { b: 1 } }, inputs: [validInput()] })],
    ["outputs that is not an array", () => ({ inputs: [validInput()], outputs: { name: "logits" } })],
    ["an output name the model does not have", () => ({ inputs: [validInput()], outputs: [{ name: "features" }] })],
    ["the same output twice", () => ({ inputs: [validInput()], outputs: [{ name: PROBABILITIES }, { name: PROBABILITIES }] })],
    // Binary outputs are supported now (v2-binary.test.ts); a non-boolean switch for them is still refused.
    ["binary_data_output that is not a boolean", () => ({ inputs: [validInput()], parameters: { binary_data_output: "yes" } })],
    ["an output's binary_data that is not a boolean", () => ({ inputs: [validInput()], outputs: [{ name: PROBABILITIES, parameters: { binary_data: 1 } }] })],
    ["the classification extension (not supported)", () => ({ inputs: [validInput()], outputs: [{ name: PROBABILITIES, parameters: { classification: 3 } }] })],
    ["BYTES that are not base64", () => ({ inputs: [{ ...imageInput([golden.images[0].bytes]), data: ["%%% not base64 %%%"] }] })],
    ["BYTES that are base64 but not an image", () => ({ inputs: [imageInput([Buffer.from("just some text, not an image at all")])] })],
    ["a BYTES element that is not a string", () => ({ inputs: [{ ...imageInput([golden.images[0].bytes]), data: [12] }] })],
    ["BYTES data that does not match the shape", () => ({ inputs: [{ ...imageInput([golden.images[0].bytes]), shape: [2] }] })],
    ["the logits output for BYTES input (only probabilities)", () => ({ inputs: [imageInput([golden.images[0].bytes])], outputs: [{ name: logitsName }] })],
  ];
  it.each(cases)("400 for %s", async (_case, body) => {
    expectErrorObject(await infer(body()), 400);
  });

  it("400 for a value that JSON reads as infinite (1e400)", async () => {
    const input = validInput();
    const body = JSON.stringify({ inputs: [{ ...input, data: [0] }] }).replace("[0]", `[1e400,${input.data.slice(1).join(",")}]`);
    expectErrorObject(await request(service.app).post(inferPath()).set("Content-Type", "application/json").send(body), 400);
  });

  it("400 for more images than CLASSIFIER_MAX_BATCH_FILES, as /predict/batch", async () => {
    const small = buildService(card, model, { CLASSIFIER_MAX_BATCH_FILES: "2" });
    expect((await infer({ inputs: [fp32Input(0, 2)] }, small.app)).status).toBe(200);
    expectErrorObject(await infer({ inputs: [fp32Input(0, 3)] }, small.app), 400);
    expectErrorObject(await infer({ inputs: [imageInput(golden.images.slice(0, 3).map((i) => i.bytes))] }, small.app), 400);
  });

  it("404 for an unknown model or version, and for an unknown /v2 path", async () => {
    expectErrorObject(await infer({ inputs: [validInput()] }, service.app, "/v2/models/resnet50/infer"), 404);
    expectErrorObject(await infer({ inputs: [validInput()] }, service.app, `/v2/models/${card.name}/versions/2.0.0/infer`), 404);
    expectErrorObject(await request(service.app).get("/v2/repository/index"), 404);
  });

  it("405 with Allow for a method the path does not support", async () => {
    const res = await request(service.app).get(inferPath());
    expectErrorObject(res, 405);
    expect(res.headers.allow).toBe("POST");
    const put = await request(service.app).put("/v2/health/ready");
    expectErrorObject(put, 405);
    expect(put.headers.allow).toBe("GET, HEAD");
  });

  it("503 with Retry-After while the model is not ready or the service drains", async () => {
    const loading = await infer({ inputs: [validInput()] }, notReady.app);
    expectErrorObject(loading, 503);
    expect(Number(loading.headers["retry-after"])).toBeGreaterThan(0);
    const draining = buildService(card, model);
    draining.lifecycle.startDraining();
    expectErrorObject(await infer({ inputs: [validInput()] }, draining.app), 503);
  });

  it("413 for a body over CLASSIFIER_MAX_REQUEST_SIZE, declared or streamed, and the connection closes", async () => {
    const small = buildService(card, model, { CLASSIFIER_MAX_REQUEST_SIZE: "4096" });
    const declared = await infer({ inputs: [validInput()] }, small.app);
    expectErrorObject(declared, 413);
    expect(declared.headers.connection).toBe("close");

    const streamed = await streamChunked(small.app, inferPath(), 8 * 1024 * 1024);
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toEqual({ error: expect.any(String) });
    // Refused while streaming: the server stopped reading long before the 8 MiB were sent.
    expect(streamed.bytesWritten).toBeLessThan(8 * 1024 * 1024);
  });
});

describe("Same batching, limits and metrics as /predict", () => {
  it("shares the concurrency limit with /predict (503 while /predict holds the only slot)", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 400;
    const limited = buildService(card, slow, { CLASSIFIER_MAX_CONCURRENT_REQUESTS: "1" });
    const holding = request(limited.app).post("/predict").attach("file", golden.images[0].bytes, "a.jpg").then((r) => r);
    await until(() => limited.metrics.inflightRequests.get().then((m) => m.values[0]?.value === 1));
    const refused = await infer({ inputs: [fp32Input(0, 1)] }, limited.app);
    expectErrorObject(refused, 503);
    expect(refused.headers["retry-after"]).toBeDefined();
    expect((await holding).status).toBe(200);
    slow.delayMs = 0;
    expect((await infer({ inputs: [fp32Input(0, 1)] }, limited.app)).status).toBe(200);
  });

  it("answers 504 with an error object when the prediction deadline passes", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 500;
    const hurried = buildService(card, slow, { CLASSIFIER_PREDICTION_TIMEOUT_MS: "50" });
    expectErrorObject(await infer({ inputs: [fp32Input(0, 1)] }, hurried.app), 504);
  });

  it("counts predictions, batches and HTTP requests under the route template", async () => {
    const counted = buildService(card, model);
    const images = golden.images.slice(20, 23).map((i) => i.bytes);
    expect((await infer({ inputs: [imageInput(images)] }, counted.app)).status).toBe(200);
    expect((await infer({ inputs: [fp32Input(0, 2)] }, counted.app, `/v2/models/${card.name}/versions/${card.version}/infer`)).status).toBe(200);
    const text = await counted.metrics.registry.metrics();
    expect(text).toContain(`predictions_total{model_name="${card.name}",model_version="${card.version}",status="success"} 5`);
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/v2\/models\/:model\/infer",status_code="200"\} 1/);
    expect(text).toMatch(/http_requests_total\{method="POST",route="\/v2\/models\/:model\/versions\/:version\/infer",status_code="200"\} 1/);
    expect(text).toContain(`inference_batch_size_sum{model_version="${card.version}"} 5`);
    // Failures are labelled by the same templates.
    expect((await infer({}, counted.app)).status).toBe(400);
    expect((await request(counted.app).get("/v2/models/resnet50")).status).toBe(404);
    const after = await counted.metrics.registry.metrics();
    expect(after).toMatch(/http_requests_total\{method="POST",route="\/v2\/models\/:model\/infer",status_code="400"\} 1/);
    expect(after).toMatch(/http_requests_total\{method="GET",route="\/v2\/models\/:model",status_code="404"\} 1/);
    expect(after).not.toMatch(/route="\/v2\/v2/);
    expect(text).toContain(`pipeline_stage_duration_seconds_count{model_version="${card.version}",stage="decode"} 3`);
  });

  it("carries an X-Request-Id on every answer, echoing a sane one", async () => {
    const res = await request(service.app).get("/v2").set("X-Request-Id", "trace-v2-1");
    expect(res.headers["x-request-id"]).toBe("trace-v2-1");
    const failed = await infer({}, service.app);
    expect(failed.headers["x-request-id"]).toEqual(expect.any(String));
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** POSTs `total` bytes of JSON-looking data with chunked encoding, as fast as the server reads, until it answers. */
async function streamChunked(app: http.RequestListener, path: string, total: number): Promise<{ status: number; body: string; bytesWritten: number }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      let bytesWritten = 0;
      let answered = false;
      const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked" } }, (res) => {
        answered = true;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, bytesWritten }));
      });
      req.on("error", (error) => (answered ? undefined : reject(error)));
      const chunk = Buffer.from(`[${"0.5,".repeat(4095)}0.5]`);
      const write = () => {
        while (!answered && bytesWritten < total) {
          bytesWritten += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", write);
        }
        if (!answered) req.end();
      };
      write();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
