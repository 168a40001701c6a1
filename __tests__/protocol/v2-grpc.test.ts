/**
 * Open Inference Protocol (KServe v2) gRPC API, through a real @grpc/grpc-js client on loopback: every RPC of
 * inference.GRPCInferenceService and the standard health service, the status code of every failure, hostile
 * messages (oversized, wrong shapes, lying raw sizes), the limits and the deadline it shares with REST, and the
 * graceful drain. Answers are checked against the golden PyTorch logits and against the REST protocol's.
 */
import { ServerCredentials, status as Status, type Server } from "@grpc/grpc-js";
import pino from "pino";
import request from "supertest";
import { createShutdown } from "../../service/lifecycle/shutdown";
import type { ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import { GrpcInferenceClient, type Message } from "../../service/protocols/grpc/client";
import type { ModelInferResponse } from "../../service/protocols/grpc/definition";
import { grpcDrain } from "../../service/protocols/grpc/server";
import {
  CARD_PATH,
  ControllableModel,
  PREVIOUS_CARD_PATH,
  buildService,
  buildVersionedService,
  loadGolden,
  loadModelCard,
  loadRealModel,
  type Golden,
  type TestService,
} from "../service/helpers";
import { ONNX_PLATFORM, PROTOCOL_DATATYPES } from "./helpers";

let card: ModelCard;
let golden: Golden;
let model: OnnxModel;
let itemSize: number;

/** Servers and clients this file started, stopped in afterAll whatever happens. */
const started: { server: Server; client: GrpcInferenceClient }[] = [];

interface Bound {
  readonly service: TestService;
  readonly client: GrpcInferenceClient;
  readonly server: Server;
}

/** A composed service with its gRPC server bound on an ephemeral loopback port, and a client of it. */
async function serve(service: TestService): Promise<Bound> {
  const server = service.grpc;
  if (server === undefined) throw new Error("gRPC is disabled in this service");
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  const client = new GrpcInferenceClient(`127.0.0.1:${port}`);
  started.push({ server, client });
  return { service, client, server };
}

let main: Bound;
let notReady: Bound;

beforeAll(async () => {
  card = await loadModelCard(CARD_PATH);
  golden = loadGolden();
  model = await loadRealModel(card);
  itemSize = card.input.shape.slice(1).reduce((a, b) => a * b, 1);
  main = await serve(buildService(card, model));
  notReady = await serve(buildService(card, model, {}, { ready: false }));
});

afterAll(async () => {
  for (const { client, server } of started) {
    client.close();
    server.forceShutdown();
  }
  await model.close();
});

const itemShape = () => card.input.shape.slice(1);

/** Golden inputs [from, to) as little-endian FP32 bytes. */
function rawTensor(from: number, to: number): Buffer {
  const slice = golden.inputs.subarray(from * itemSize, to * itemSize);
  const bytes = Buffer.alloc(slice.length * 4);
  slice.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes;
}

function fp32Request(from: number, to: number, extra: Message = {}): Message {
  return {
    model_name: card.name,
    inputs: [{ name: card.input.name, datatype: "FP32", shape: [to - from, ...itemShape()], contents: { fp32_contents: Array.from(golden.inputs.subarray(from * itemSize, to * itemSize)) } }],
    ...extra,
  };
}

function rawRequest(from: number, to: number, extra: Message = {}): Message {
  return {
    model_name: card.name,
    inputs: [{ name: card.input.name, datatype: "FP32", shape: [to - from, ...itemShape()] }],
    raw_input_contents: [rawTensor(from, to)],
    ...extra,
  };
}

/** Triton's raw BYTES layout: a 4-byte little-endian length before each element. */
function lengthPrefixed(elements: readonly Buffer[]): Buffer {
  return Buffer.concat(elements.flatMap((element) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(element.length);
    return [length, element];
  }));
}

function outputValues(response: ModelInferResponse, name: string): Float32Array {
  const index = response.outputs.findIndex((output) => output.name === name);
  expect(index).toBeGreaterThanOrEqual(0);
  if (response.raw_output_contents.length > 0) {
    const bytes = response.raw_output_contents[index];
    return Float32Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
  }
  return Float32Array.from(response.outputs[index].contents?.fp32_contents ?? []);
}

/** The call failed with `code` and a message for people: no stack trace, no server path. */
function expectStatus(outcome: { error?: { code: number; details: string } }, code: Status): void {
  expect([outcome.error?.code, Status[outcome.error?.code ?? 0]]).toEqual([code, Status[code]]);
  expect(outcome.error?.details.length).toBeGreaterThan(10);
  expect(outcome.error?.details).not.toMatch(/\bat .+\.(js|ts):\d+|\/work\/|node_modules/);
}

const argmax = (row: ArrayLike<number>) => Array.prototype.indexOf.call(row, Math.max(...Array.from(row)));

describe("health and metadata RPCs", () => {
  it("ServerLive is true ready or not; ServerReady says whether the model serves", async () => {
    expect((await main.client.call("ServerLive", {})).response).toEqual({ live: true });
    expect((await notReady.client.call("ServerLive", {})).response).toEqual({ live: true });
    expect((await main.client.call("ServerReady", {})).response).toEqual({ ready: true });
    expect((await notReady.client.call("ServerReady", {})).response).toEqual({ ready: false });
  });

  it("ModelReady for the model, with and without its version; NOT_FOUND for another model or version", async () => {
    expect((await main.client.call("ModelReady", { name: card.name })).response).toEqual({ ready: true });
    expect((await main.client.call("ModelReady", { name: card.name, version: card.version })).response).toEqual({ ready: true });
    expect((await notReady.client.call("ModelReady", { name: card.name })).response).toEqual({ ready: false });
    expectStatus(await main.client.call("ModelReady", { name: "resnet50" }), Status.NOT_FOUND);
    expectStatus(await main.client.call("ModelReady", { name: card.name, version: "0.0.0-nope" }), Status.NOT_FOUND);
  });

  it("ServerMetadata is the REST protocol's GET /v2", async () => {
    const rest = await request(main.service.app).get("/v2");
    const { response } = await main.client.call("ServerMetadata", {});
    expect(response).toEqual(rest.body);
    expect(response).toEqual({ name: "pyramidnet-k8s", version: expect.any(String), extensions: ["image_bytes_input", "binary_tensor_data"] });
  });

  it("ModelMetadata is the REST protocol's model metadata, int64 shapes included; NOT_FOUND otherwise", async () => {
    const rest = await request(main.service.app).get(`/v2/models/${card.name}`);
    for (const version of ["", card.version]) {
      const { response } = await main.client.call("ModelMetadata", { name: card.name, version });
      expect(response).toEqual(rest.body);
    }
    const { response } = await main.client.call<{ platform: string; inputs: { datatype: string; shape: number[] }[] }>("ModelMetadata", { name: card.name });
    expect(response?.platform).toBe(ONNX_PLATFORM);
    expect(response?.inputs[0].shape).toEqual([-1, ...itemShape()]);
    expect(PROTOCOL_DATATYPES).toContain(response?.inputs[0].datatype);
    expectStatus(await main.client.call("ModelMetadata", { name: "resnet50" }), Status.NOT_FOUND);
    expectStatus(await main.client.call("ModelMetadata", { name: card.name, version: "9" }), Status.NOT_FOUND);
  });
});

describe("ModelInfer", () => {
  it("typed fp32_contents: logits match PyTorch within 1e-3 and probabilities sum to 1, all outputs by default", async () => {
    const { response, trailers } = await main.client.infer(fp32Request(0, 4, { id: "typed-1" }), { requestId: "grpc-test-1" });
    expect(response?.model_name).toBe(card.name);
    expect(response?.model_version).toBe(card.version);
    expect(response?.id).toBe("typed-1");
    expect(trailers?.get("x-request-id")).toEqual(["grpc-test-1"]);
    expect(response?.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      [card.output.name, "FP32", [4, 10]],
      ["probabilities", "FP32", [4, 10]],
    ]);
    expect(response?.raw_output_contents).toEqual([]);
    const logits = outputValues(response as ModelInferResponse, card.output.name);
    const probabilities = outputValues(response as ModelInferResponse, "probabilities");
    for (let i = 0; i < 4 * 10; i++) expect(Math.abs(logits[i] - golden.logits[i])).toBeLessThan(1e-3);
    for (let row = 0; row < 4; row++) {
      const p = probabilities.subarray(row * 10, row * 10 + 10);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(argmax(p)).toBe(argmax(golden.logits.subarray(row * 10, row * 10 + 10)));
    }
  });

  it("raw_input_contents at batch 32: raw_output_contents, identical to the typed answer and to REST's", async () => {
    const raw = await main.client.infer(rawRequest(0, 32));
    const typed = await main.client.infer(fp32Request(0, 32));
    expect(raw.response?.outputs.map((o) => [o.name, o.shape, o.contents ?? null])).toEqual([
      [card.output.name, [32, 10], null],
      ["probabilities", [32, 10], null],
    ]);
    expect(raw.response?.raw_output_contents.map((b) => b.length)).toEqual([32 * 10 * 4, 32 * 10 * 4]);
    for (const name of [card.output.name, "probabilities"]) {
      expect(Array.from(outputValues(raw.response as ModelInferResponse, name))).toEqual(Array.from(outputValues(typed.response as ModelInferResponse, name)));
    }
    const rest = await request(main.service.app)
      .post(`/v2/models/${card.name}/infer`)
      .set("Content-Type", "application/json")
      .send({ inputs: [{ name: card.input.name, datatype: "FP32", shape: [32, ...itemShape()], data: Array.from(golden.inputs.subarray(0, 32 * itemSize)) }] });
    expect(rest.status).toBe(200);
    const restLogits = rest.body.outputs.find((o: { name: string }) => o.name === card.output.name).data as number[];
    expect(Array.from(outputValues(raw.response as ModelInferResponse, card.output.name))).toEqual(restLogits);
  });

  it("BYTES image files, typed and raw (length-prefixed): the same probabilities as REST's image input", async () => {
    const images = golden.images.slice(0, 3).map((image) => image.bytes);
    const imageInput = { name: "image", datatype: "BYTES", shape: [3] };
    const typed = await main.client.infer({ model_name: card.name, inputs: [{ ...imageInput, contents: { bytes_contents: images } }] });
    const raw = await main.client.infer({ model_name: card.name, inputs: [imageInput], raw_input_contents: [lengthPrefixed(images)] });
    const rest = await request(main.service.app)
      .post(`/v2/models/${card.name}/infer`)
      .set("Content-Type", "application/json")
      .send({ inputs: [{ ...imageInput, data: images.map((b) => b.toString("base64")) }] });
    expect(typed.response?.outputs.map((o) => o.name)).toEqual(["probabilities"]);
    const expected = rest.body.outputs[0].data as number[];
    expect(Array.from(outputValues(typed.response as ModelInferResponse, "probabilities"))).toEqual(expected);
    expect(Array.from(outputValues(raw.response as ModelInferResponse, "probabilities"))).toEqual(expected);
    golden.images.slice(0, 3).forEach((image, row) => {
      expect(argmax(expected.slice(row * 10, row * 10 + 10))).toBe(image.index);
    });
  });

  it("answers the requested outputs only, in the order asked, under the x-request-id when the request has no id", async () => {
    const { response } = await main.client.infer(fp32Request(0, 1, { outputs: [{ name: "probabilities" }] }), { requestId: "no-id-42" });
    expect(response?.outputs.map((o) => o.name)).toEqual(["probabilities"]);
    expect(response?.id).toBe("no-id-42");
  });
});

describe("model versions", () => {
  it("serves the default version when none is named, the named loaded one otherwise; NOT_FOUND for one not loaded", async () => {
    const previous = await loadModelCard(PREVIOUS_CARD_PATH);
    const previousModel = await loadRealModel(previous);
    try {
      const both = await serve(
        buildVersionedService(
          [
            { card: previous, model: previousModel },
            { card, model },
          ],
          { CLASSIFIER_MODEL_VERSION_POLICY: "all" },
        ),
      );
      const byDefault = await both.client.infer(fp32Request(0, 1));
      expect(byDefault.response?.model_version).toBe(card.version);
      const named = await both.client.infer(fp32Request(0, 1, { model_version: previous.version }));
      expect(named.response?.model_version).toBe(previous.version);
      const metadata = await both.client.call("ModelMetadata", { name: card.name, version: previous.version });
      const rest = await request(both.service.app).get(`/v2/models/${card.name}/versions/${previous.version}`);
      expect(metadata.response).toEqual(rest.body);
      expect((metadata.response as { versions: string[] }).versions).toEqual([previous.version, card.version]);
      expectStatus(await main.client.infer(fp32Request(0, 1, { model_version: previous.version })), Status.NOT_FOUND);
    } finally {
      await previousModel.close();
    }
  });
});

describe("ModelInfer errors: the status code of each, and the server keeps serving", () => {
  const tensor = (overrides: Message) => ({ name: card.input.name, datatype: "FP32", shape: [1, ...itemShape()], ...overrides });
  const cases: [string, () => Message, Status][] = [
    ["unknown model", () => fp32Request(0, 1, { model_name: "resnet50" }), Status.NOT_FOUND],
    ["unknown version", () => fp32Request(0, 1, { model_version: "0.0.0-nope" }), Status.NOT_FOUND],
    ["no inputs", () => ({ model_name: card.name, inputs: [] }), Status.INVALID_ARGUMENT],
    ["two inputs", () => ({ model_name: card.name, inputs: [tensor({}), tensor({})], raw_input_contents: [rawTensor(0, 1), rawTensor(1, 2)] }), Status.INVALID_ARGUMENT],
    ["unknown input name", () => ({ model_name: card.name, inputs: [tensor({ name: "pixels" })], raw_input_contents: [rawTensor(0, 1)] }), Status.INVALID_ARGUMENT],
    ["wrong datatype", () => ({ model_name: card.name, inputs: [tensor({ datatype: "FP64" })], raw_input_contents: [rawTensor(0, 1)] }), Status.INVALID_ARGUMENT],
    ["wrong shape (NHWC)", () => ({ model_name: card.name, inputs: [tensor({ shape: [1, 32, 32, 3] })], raw_input_contents: [rawTensor(0, 1)] }), Status.INVALID_ARGUMENT],
    ["zero images", () => ({ model_name: card.name, inputs: [tensor({ shape: [0, ...itemShape()] })], raw_input_contents: [Buffer.alloc(0)] }), Status.INVALID_ARGUMENT],
    ["more images than CLASSIFIER_MAX_BATCH_FILES", () => ({ model_name: card.name, inputs: [tensor({ shape: [33, ...itemShape()] })], raw_input_contents: [Buffer.alloc(33 * itemSize * 4)] }), Status.INVALID_ARGUMENT],
    ["a shape of 2^53 images", () => ({ model_name: card.name, inputs: [tensor({ shape: [2 ** 53, ...itemShape()] })], raw_input_contents: [rawTensor(0, 1)] }), Status.INVALID_ARGUMENT],
    ["raw size lies: one byte short", () => ({ model_name: card.name, inputs: [tensor({})], raw_input_contents: [rawTensor(0, 1).subarray(1)] }), Status.INVALID_ARGUMENT],
    ["raw size lies: shape says 2, bytes hold 1", () => ({ model_name: card.name, inputs: [tensor({ shape: [2, ...itemShape()] })], raw_input_contents: [rawTensor(0, 1)] }), Status.INVALID_ARGUMENT],
    ["raw size lies: bytes hold 2, shape says 1", () => ({ model_name: card.name, inputs: [tensor({})], raw_input_contents: [rawTensor(0, 2)] }), Status.INVALID_ARGUMENT],
    ["raw and typed contents at once", () => ({ model_name: card.name, inputs: [tensor({ contents: { fp32_contents: [1] } })], raw_input_contents: [rawTensor(0, 1)] }), Status.INVALID_ARGUMENT],
    ["no data at all", () => ({ model_name: card.name, inputs: [tensor({})] }), Status.INVALID_ARGUMENT],
    ["typed data of another datatype", () => ({ model_name: card.name, inputs: [tensor({ contents: { int_contents: [1, 2, 3] } })] }), Status.INVALID_ARGUMENT],
    ["typed element count lies", () => ({ model_name: card.name, inputs: [tensor({ contents: { fp32_contents: [0.5, 0.25] } })] }), Status.INVALID_ARGUMENT],
    ["NaN in raw FP32", () => ({ model_name: card.name, inputs: [tensor({})], raw_input_contents: [Buffer.alloc(itemSize * 4, 0xff)] }), Status.INVALID_ARGUMENT],
    // 0x7effffff is 1.7e38: finite, but the network overflows it to infinite logits (found by fuzzing).
    ["huge finite raw FP32 that overflows the logits", () => ({ model_name: card.name, inputs: [tensor({})], raw_input_contents: [Buffer.alloc(itemSize * 4, Buffer.from([0xff, 0xff, 0xff, 0x7e]))] }), Status.INVALID_ARGUMENT],
    ["raw BYTES length prefix claims more than follows", () => {
      const lying = lengthPrefixed([golden.images[0].bytes]);
      lying.writeUInt32LE(10_000_000, 0);
      return { model_name: card.name, inputs: [{ name: "image", datatype: "BYTES", shape: [1] }], raw_input_contents: [lying] };
    }, Status.INVALID_ARGUMENT],
    ["raw BYTES with trailing garbage", () => ({ model_name: card.name, inputs: [{ name: "image", datatype: "BYTES", shape: [1] }], raw_input_contents: [Buffer.concat([lengthPrefixed([golden.images[0].bytes]), Buffer.from([1, 2])])] }), Status.INVALID_ARGUMENT],
    ["BYTES that are no image", () => ({ model_name: card.name, inputs: [{ name: "image", datatype: "BYTES", shape: [1], contents: { bytes_contents: [Buffer.from("not an image at all")] } }] }), Status.INVALID_ARGUMENT],
    ["logits for image input", () => ({ model_name: card.name, inputs: [{ name: "image", datatype: "BYTES", shape: [1], contents: { bytes_contents: [golden.images[0].bytes] } }], outputs: [{ name: card.output.name }] }), Status.INVALID_ARGUMENT],
    ["unknown output", () => rawRequest(0, 1, { outputs: [{ name: "embeddings" }] }), Status.INVALID_ARGUMENT],
    ["an output twice", () => rawRequest(0, 1, { outputs: [{ name: "probabilities" }, { name: "probabilities" }] }), Status.INVALID_ARGUMENT],
    ["the classification extension", () => rawRequest(0, 1, { outputs: [{ name: "probabilities", parameters: { classification: { int64_param: 3 } } }] }), Status.INVALID_ARGUMENT],
  ];

  it.each(cases)("%s", async (_name, build, code) => {
    expectStatus(await main.client.infer(build()), code);
  });

  it("counts each call in grpc_requests_total by method and code, and still serves afterwards", async () => {
    const text = await main.service.metrics.registry.metrics();
    expect(text).toMatch(/grpc_requests_total\{method="inference.GRPCInferenceService\/ModelInfer",code="INVALID_ARGUMENT"\} \d+/);
    expect(text).toMatch(/grpc_requests_total\{method="inference.GRPCInferenceService\/ModelInfer",code="OK"\} \d+/);
    expect((await main.client.infer(rawRequest(5, 6))).response?.outputs).toHaveLength(2);
  });

  it("a message over CLASSIFIER_MAX_REQUEST_SIZE is RESOURCE_EXHAUSTED before it is decoded; the server keeps serving", async () => {
    const small = await serve(buildService(card, model, { CLASSIFIER_MAX_REQUEST_SIZE: String(64 * 1024) }));
    expectStatus(await small.client.infer(rawRequest(0, 8)), Status.RESOURCE_EXHAUSTED);
    expect((await small.client.infer(rawRequest(0, 1))).response?.outputs).toHaveLength(2);
  });

  it("UNAVAILABLE with a retry hint while not ready and while draining", async () => {
    const loading = await notReady.client.infer(rawRequest(0, 1));
    expectStatus(loading, Status.UNAVAILABLE);
    expect(loading.error?.metadata.get("retry-after")).toEqual(["5"]);
    expect(loading.error?.metadata.get("grpc-retry-pushback-ms")).toEqual(["5000"]);
    const draining = await serve(buildService(card, model));
    draining.service.lifecycle.startDraining();
    const outcome = await draining.client.infer(rawRequest(0, 1));
    expectStatus(outcome, Status.UNAVAILABLE);
    expect(outcome.error?.details).toMatch(/shutting down/);
  });
});

describe("limits and deadlines shared with REST", () => {
  it("over CLASSIFIER_MAX_CONCURRENT_REQUESTS is RESOURCE_EXHAUSTED with a retry hint, and gRPC and HTTP share the budget", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 400;
    const limited = await serve(buildService(card, slow, { CLASSIFIER_MAX_CONCURRENT_REQUESTS: "1" }));
    const first = limited.client.infer(rawRequest(0, 1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await limited.client.infer(rawRequest(0, 1));
    expectStatus(second, Status.RESOURCE_EXHAUSTED);
    expect(second.error?.metadata.get("grpc-retry-pushback-ms")).toEqual(["1000"]);
    expect(second.error?.metadata.get("retry-after")).toEqual(["1"]);
    // The gRPC call holds the one slot: REST's prediction routes are refused too.
    const rest = await request(limited.service.app).post(`/v2/models/${card.name}/infer`).set("Content-Type", "application/json").send("{}");
    expect(rest.status).toBe(503);
    expect((await first).response?.outputs).toHaveLength(2);
    expect((await limited.client.infer(rawRequest(0, 1))).response?.outputs).toHaveLength(2);
  });

  it("past CLASSIFIER_PREDICTION_TIMEOUT_MS, or the client's own deadline, is DEADLINE_EXCEEDED", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 600;
    const timed = await serve(buildService(card, slow, { CLASSIFIER_PREDICTION_TIMEOUT_MS: "150" }));
    expectStatus(await timed.client.infer(rawRequest(0, 1)), Status.DEADLINE_EXCEEDED);
    const patient = await serve(buildService(card, slow));
    const outcome = await patient.client.infer(rawRequest(0, 1), { deadlineMs: 150 });
    expect(outcome.error?.code).toBe(Status.DEADLINE_EXCEEDED);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await patient.client.call("ServerLive", {})).response).toEqual({ live: true });
  });
});

describe("grpc.health.v1.Health", () => {
  it("Check: SERVING when ready, NOT_SERVING when not, for the server and the inference service; NOT_FOUND otherwise", async () => {
    expect((await main.client.check("")).response).toEqual({ status: "SERVING" });
    expect((await main.client.check("inference.GRPCInferenceService")).response).toEqual({ status: "SERVING" });
    expect((await notReady.client.check("")).response).toEqual({ status: "NOT_SERVING" });
    expect((await main.client.check("other.Service")).error?.code).toBe(Status.NOT_FOUND);
  });

  it("Watch: the status at once, NOT_SERVING when draining starts, then the stream ends", async () => {
    const watched = await serve(buildService(card, model));
    const stream = watched.client.watch("");
    const statuses: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      stream.on("data", (message: { status: string }) => {
        statuses.push(message.status);
        if (statuses.length === 1) watched.service.lifecycle.startDraining();
      });
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    await ended;
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
  });
});

describe("graceful shutdown drains gRPC calls with HTTP", () => {
  it("an in-flight call finishes OK, new calls are refused, and the shutdown exits 0", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 300;
    const draining = await serve(buildService(card, slow));
    const http = (await import("node:http")).createServer(draining.service.app);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const exits: number[] = [];
    const shutdown = createShutdown({
      server: http,
      others: [grpcDrain(draining.server)],
      lifecycle: draining.service.lifecycle,
      logger: pino({ level: "silent" }),
      graceMs: 5000,
      exit: (code) => exits.push(code),
    });
    const inflight = draining.client.infer(rawRequest(0, 1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const code = shutdown("test");
    const refused = await draining.client.infer(rawRequest(0, 1));
    expect(refused.error?.code).toBe(Status.UNAVAILABLE);
    expect((await inflight).response?.outputs).toHaveLength(2);
    expect(await code).toBe(0);
    expect(exits).toEqual([0]);
  });
});
