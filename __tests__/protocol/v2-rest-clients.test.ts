/**
 * What standard Open Inference Protocol clients (Triton's tritonclient.http, KServe's REST client, curl) send
 * that a hand-written JSON POST does not: no Content-Type (or a non-JSON one), the binary tensor data
 * extension, compressed bodies, and Accept-Encoding. Each rule with valid, edge and hostile cases, over a real
 * loopback socket with the client side written from the documented format (binary-client.ts).
 */
import zlib from "node:zlib";
import fc from "fast-check";
import { itemShape, itemSize, type ModelCard } from "../../service/model/card";
import type { OnnxModel } from "../../service/model/onnx-model";
import { CARD_PATH, buildService, loadGolden, loadModelCard, loadRealModel, type Golden } from "../service/helpers";
import {
  HEADER_LENGTH,
  type ClientInput,
  type ClientRequest,
  type RawReply,
  bytesTensor,
  decodeResponse,
  encodeRequest,
  fp32Tensor,
  fp32Values,
  listen,
  post,
} from "./binary-client";

let card: ModelCard;
let golden: Golden;
let model: OnnxModel;
/** The default service, and one with a 64 KiB body limit; both listening on loopback. */
let port: number;
let smallPort: number;
const closers: (() => Promise<void>)[] = [];

const SMALL_LIMIT = 64 * 1024;
/** Floats per image and logits per image, from the card. */
let itemFloats: number;
let classes: number;

beforeAll(async () => {
  card = await loadModelCard(CARD_PATH);
  itemFloats = itemSize(card.input);
  classes = card.labels.length;
  golden = loadGolden();
  model = await loadRealModel(card);
  const main = await listen(buildService(card, model).app);
  const small = await listen(buildService(card, model, { CLASSIFIER_MAX_REQUEST_SIZE: String(SMALL_LIMIT) }).app);
  port = main.port;
  smallPort = small.port;
  closers.push(main.close, small.close);
});

afterAll(async () => {
  for (const close of closers) await close();
  await model.close();
});

const inferPath = () => `/v2/models/${card.name}/infer`;

/** Golden images [from, to) as the FP32 input, JSON data. */
function fp32Json(from: number, to: number): ClientInput {
  return { name: "input", datatype: "FP32", shape: [to - from, ...itemShape(card.input)], data: Array.from(golden.inputs.subarray(from * itemFloats, to * itemFloats)) };
}

/** The same, as binary data. */
function fp32Binary(from: number, to: number): ClientInput {
  return { name: "input", datatype: "FP32", shape: [to - from, ...itemShape(card.input)], binary: fp32Tensor(golden.inputs.subarray(from * itemFloats, to * itemFloats)) };
}

/** Sends a request as tritonclient.http does: binary framing, Inference-Header-Content-Length, no Content-Type. */
function sendBinary(request: ClientRequest, headers: Record<string, string> = {}, to = port): Promise<RawReply> {
  const { body, headerLength } = encodeRequest(request);
  return post(to, inferPath(), body, { [HEADER_LENGTH]: String(headerLength), ...headers });
}

function sendJson(request: unknown, headers: Record<string, string> = { "Content-Type": "application/json" }, to = port): Promise<RawReply> {
  return post(to, inferPath(), Buffer.from(JSON.stringify(request)), headers);
}

/** The body as the server meant it: decompressed per Content-Encoding. */
function decoded(reply: RawReply): Buffer {
  const coding = reply.headers["content-encoding"];
  if (coding === "gzip") return zlib.gunzipSync(reply.body);
  if (coding === "deflate") return zlib.inflateSync(reply.body);
  expect(coding).toBeUndefined();
  return reply.body;
}

function jsonOf(reply: RawReply): { outputs: { name: string; shape: number[]; datatype: string; data: number[]; parameters?: Record<string, unknown> }[]; error?: string } {
  return JSON.parse(decoded(reply).toString("utf8"));
}

/** The protocol's error object: {"error": "<message>"} and nothing else, never a stack trace. */
function expectError(reply: RawReply, status: number, message?: RegExp): void {
  const text = decoded(reply).toString("utf8");
  expect([reply.status, text.slice(0, 300)]).toEqual([status, expect.any(String)]);
  expect(reply.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error).toBe("string");
  expect(body.error).not.toMatch(/\bat .+\.(js|ts):\d+|\/work\/|node_modules/);
  if (message !== undefined) expect(body.error).toMatch(message);
}

/** The JSON path's answer for golden images [from, to): what every other encoding must reproduce exactly. */
async function jsonAnswer(from: number, to: number): Promise<Map<string, number[]>> {
  const reply = await sendJson({ inputs: [fp32Json(from, to)] });
  expect(reply.status).toBe(200);
  return new Map(jsonOf(reply).outputs.map((o) => [o.name, o.data]));
}

describe("Content-Type: the body decides, not the header", () => {
  it("accepts JSON sent without any Content-Type (what tritonclient sends), with the same answer", async () => {
    const expected = await jsonAnswer(0, 2);
    const reply = await sendJson({ inputs: [fp32Json(0, 2)] }, {});
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(new Map(jsonOf(reply).outputs.map((o) => [o.name, o.data]))).toEqual(expected);
  });

  it.each([
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.kserve+json",
    "text/plain",
    "application/octet-stream",
    // curl -d without -H sends this.
    "application/x-www-form-urlencoded",
  ])("accepts JSON sent as %s", async (type) => {
    const reply = await sendJson({ inputs: [fp32Json(0, 1)], outputs: [{ name: "probabilities" }] }, { "Content-Type": type });
    expect([type, reply.status]).toEqual([type, 200]);
    expect(jsonOf(reply).outputs[0].shape).toEqual([1, classes]);
  });

  it.each([
    ["multipart/form-data; boundary=x", /not the protocol's JSON.*\/predict/],
    ["image/jpeg", /not the protocol's JSON.*"image" BYTES/],
    ["video/mp4", /not the protocol's JSON/],
  ])("refuses a body declared as %s with 400, before reading it", async (type, message) => {
    expectError(await post(port, inferPath(), golden.images[0].bytes, { "Content-Type": type }), 400, message);
  });

  it("refuses a charset other than UTF-8, and a body that is not JSON whatever its type", async () => {
    expectError(await sendJson({ inputs: [fp32Json(0, 1)] }, { "Content-Type": "application/json; charset=latin1" }), 400, /UTF-8/);
    expectError(await post(port, inferPath(), Buffer.from("inputs=1")), 400, /not valid JSON/);
    expectError(await post(port, inferPath(), Buffer.alloc(0)), 400, /not valid JSON/);
  });
});

describe("Binary tensor data extension: requests", () => {
  it("FP32 input as binary data gives exactly the JSON path's outputs (JSON outputs)", async () => {
    const expected = await jsonAnswer(0, 3);
    const reply = await sendBinary({ inputs: [fp32Binary(0, 3)] });
    expect(reply.status).toBe(200);
    // No binary output was asked for: a plain JSON answer, no Inference-Header-Content-Length.
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(reply.headers[HEADER_LENGTH.toLowerCase()]).toBeUndefined();
    const outputs = jsonOf(reply).outputs;
    expect(outputs.map((o) => o.name)).toEqual(["logits", "probabilities"]);
    for (const output of outputs) expect([output.name, output.data]).toEqual([output.name, expected.get(output.name)]);
  });

  it("the golden logits through binary in and binary out, every fixture image, within 1e-3 of PyTorch", async () => {
    const total = golden.logits.length / classes;
    for (let from = 0; from < total; from += 25) {
      const to = Math.min(total, from + 25);
      // tritonclient's default: binary inputs, and binary_data_output when it names no outputs.
      const reply = await sendBinary({ parameters: { binary_data_output: true }, inputs: [fp32Binary(from, to)] });
      expect(reply.status).toBe(200);
      const logits = decodeResponse(decoded(reply), reply.headers[HEADER_LENGTH.toLowerCase()] as string).outputs[0];
      expect(logits.name).toBe("logits");
      const values = fp32Values(logits.binary as Buffer);
      expect(values).toHaveLength((to - from) * classes);
      const expected = golden.logits.subarray(from * classes, to * classes);
      expect(Math.max(...values.map((v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-3);
    }
  });

  it("BYTES input as binary data: the image files themselves, length-prefixed, same probabilities as base64 JSON", async () => {
    const images = [0, 33, 77].map((i) => golden.images[i].bytes);
    const viaJson = await sendJson({ inputs: [{ name: "image", datatype: "BYTES", shape: [3], data: images.map((b) => b.toString("base64")) }] });
    const viaBinary = await sendBinary({ inputs: [{ name: "image", datatype: "BYTES", shape: [3], binary: bytesTensor(images) }] });
    expect([viaJson.status, viaBinary.status]).toEqual([200, 200]);
    expect(jsonOf(viaBinary).outputs).toEqual(jsonOf(viaJson).outputs);
    expect(jsonOf(viaBinary).outputs[0].shape).toEqual([3, classes]);
  });

  it("the documented example's framing: Content-Type application/octet-stream, model_name in the JSON", async () => {
    const expected = await jsonAnswer(5, 7);
    const { body, headerLength } = encodeRequest({ inputs: [fp32Binary(5, 7)], outputs: [{ name: "logits", parameters: { binary_data: true } }] });
    const withModelName = Buffer.concat([Buffer.from(`{"model_name":"${card.name}",`), body.subarray(1)]);
    const reply = await post(port, inferPath(), withModelName, {
      "Content-Type": "application/octet-stream",
      [HEADER_LENGTH]: String(headerLength + withModelName.length - body.length),
    });
    expect(reply.status).toBe(200);
    const { outputs } = decodeResponse(decoded(reply), reply.headers[HEADER_LENGTH.toLowerCase()] as string);
    expect(fp32Values(outputs[0].binary as Buffer)).toEqual(expected.get("logits"));
  });

  it("accepts the header with JSON-only inputs (the JSON is the whole body)", async () => {
    const expected = await jsonAnswer(4, 5);
    const reply = await sendBinary({ inputs: [fp32Json(4, 5)] });
    expect(reply.status).toBe(200);
    expect(jsonOf(reply).outputs[1].data).toEqual(expected.get("probabilities"));
  });

  it("works on the versioned path and with an X-Request-Id echoed", async () => {
    const { body, headerLength } = encodeRequest({ inputs: [fp32Binary(0, 1)], outputs: [{ name: "probabilities" }] });
    const reply = await post(port, `/v2/models/${card.name}/versions/${card.version}/infer`, body, {
      [HEADER_LENGTH]: String(headerLength),
      "X-Request-Id": "binary-1",
    });
    expect(reply.status).toBe(200);
    expect(reply.headers["x-request-id"]).toBe("binary-1");
    expect(JSON.parse(decoded(reply).toString()).id).toBe("binary-1");
  });
});

describe("Binary tensor data extension: responses", () => {
  it("binary_data on one output: that output after the JSON with binary_data_size, the other in JSON", async () => {
    const expected = await jsonAnswer(0, 2);
    const reply = await sendBinary({
      inputs: [fp32Json(0, 2)],
      outputs: [{ name: "probabilities" }, { name: "logits", parameters: { binary_data: true } }],
    });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/octet-stream");
    const headerLength = reply.headers[HEADER_LENGTH.toLowerCase()] as string;
    expect(Number(headerLength)).toBeGreaterThan(0);
    const { json, outputs } = decodeResponse(decoded(reply), headerLength);
    expect(json).toMatchObject({ model_name: card.name, model_version: card.version });
    expect(outputs.map((o) => o.name)).toEqual(["probabilities", "logits"]);
    expect(outputs[0].data).toEqual(expected.get("probabilities"));
    expect(outputs[0].parameters).toBeUndefined();
    // The binary output: shape and datatype in the JSON, no data, its size in parameters.
    expect(outputs[1]).toMatchObject({ shape: [2, classes], datatype: "FP32", parameters: { binary_data_size: 2 * classes * 4 } });
    expect(outputs[1].data).toBeUndefined();
    expect(fp32Values(outputs[1].binary as Buffer)).toEqual(expected.get("logits"));
  });

  it("binary_data_output for every output, unless an output says binary_data: false", async () => {
    const expected = await jsonAnswer(1, 2);
    const all = await sendBinary({ parameters: { binary_data_output: true }, inputs: [fp32Binary(1, 2)] });
    const allOutputs = decodeResponse(decoded(all), all.headers[HEADER_LENGTH.toLowerCase()] as string).outputs;
    expect(allOutputs.map((o) => [o.name, o.parameters?.binary_data_size])).toEqual([
      ["logits", 40],
      ["probabilities", 40],
    ]);
    expect(allOutputs.map((o) => fp32Values(o.binary as Buffer))).toEqual([expected.get("logits"), expected.get("probabilities")]);

    const except = await sendBinary({
      parameters: { binary_data_output: true },
      inputs: [fp32Binary(1, 2)],
      outputs: [{ name: "logits", parameters: { binary_data: false } }, { name: "probabilities" }],
    });
    const exceptOutputs = decodeResponse(decoded(except), except.headers[HEADER_LENGTH.toLowerCase()] as string).outputs;
    expect(exceptOutputs[0]).toMatchObject({ name: "logits", data: expected.get("logits") });
    expect(exceptOutputs[1].binary).toBeDefined();
  });

  it("binary_data: false and binary_data_output: false answer plain JSON", async () => {
    const reply = await sendBinary({
      parameters: { binary_data_output: false },
      inputs: [fp32Binary(0, 1)],
      outputs: [{ name: "probabilities", parameters: { binary_data: false } }],
    });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(reply.headers[HEADER_LENGTH.toLowerCase()]).toBeUndefined();
    expect(jsonOf(reply).outputs[0].data).toHaveLength(classes);
  });
});

describe("Binary tensor data extension: sizes that lie (400, a clear message)", () => {
  const oneImage = () => encodeRequest({ inputs: [fp32Binary(0, 1)] });
  const sendFramed = (body: Buffer, headerLength: string, to = port) => post(to, inferPath(), body, { [HEADER_LENGTH]: headerLength });

  it("Inference-Header-Content-Length past the end of the body", async () => {
    const { body } = oneImage();
    expectError(await sendFramed(body, String(body.length + 1)), 400, /Inference-Header-Content-Length is \d+, but the whole body is only/);
  });

  it("Inference-Header-Content-Length shorter than the JSON, or overlapping the tensor data", async () => {
    const { body, headerLength } = oneImage();
    expectError(await sendFramed(body, String(headerLength - 1)), 400, /first \d+ bytes .* not valid JSON/);
    expectError(await sendFramed(body, String(headerLength + 4)), 400, /first \d+ bytes .* not valid JSON/);
  });

  it.each(["", "abc", "-5", "0", "1e3", "12.5", "0x20", "99999999999999999999"])("Inference-Header-Content-Length %j", async (value) => {
    const { body } = oneImage();
    expectError(await sendFramed(body, value), 400, /Inference-Header-Content-Length/);
  });

  it("a binary_data_size that runs past the body", async () => {
    const { body, headerLength } = encodeRequest({ inputs: [fp32Binary(0, 1)] });
    expectError(await sendFramed(body.subarray(0, body.length - 4), String(headerLength)), 400, /binary_data_size is 12288, which runs past the body/);
  });

  it("bytes left over after the last binary input", async () => {
    const { body, headerLength } = oneImage();
    expectError(await sendFramed(Buffer.concat([body, Buffer.alloc(4)]), String(headerLength)), 400, /4 bytes after the JSON are claimed by no input/);
  });

  it("binary bytes with neither the header nor binary_data_size", async () => {
    const json = Buffer.from(JSON.stringify({ inputs: [fp32Json(0, 1)] }));
    expectError(await post(port, inferPath(), Buffer.concat([json, fp32Tensor([1, 2])])), 400, /not valid JSON/);
  });

  it("binary_data_size without Inference-Header-Content-Length, with or without the bytes", async () => {
    const { body, headerLength } = oneImage();
    expectError(await post(port, inferPath(), body), 400, /binary tensor data after the JSON needs the Inference-Header-Content-Length header/);
    const jsonOnly = body.subarray(0, headerLength);
    expectError(await post(port, inferPath(), jsonOnly), 400, /binary_data_size is set, but the request has no Inference-Header-Content-Length/);
  });

  it("a size that matches the body but not the shape (4 bytes per FP32 element)", async () => {
    const input: ClientInput = { name: "input", datatype: "FP32", shape: [1, ...itemShape(card.input)], binary: fp32Tensor(golden.inputs.subarray(0, 2 * itemFloats)) };
    expectError(await sendBinary({ inputs: [input] }), 400, /holds 24576 bytes of binary data; 3072 FP32 elements need 12288/);
    const odd: ClientInput = { ...input, binary: Buffer.alloc(itemFloats * 4 - 1) };
    expectError(await sendBinary({ inputs: [odd] }), 400, /3072 FP32 elements need 12288/);
  });

  it.each([
    ["negative", -1],
    ["fractional", 1.5],
    ["a string", "12288"],
    ["beyond 2^53", 2 ** 60],
  ])("a binary_data_size that is %s", async (_case, size) => {
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, ...itemShape(card.input)], parameters: { binary_data_size: size } }] }));
    expectError(await sendFramed(Buffer.concat([json, fp32Tensor(golden.inputs.subarray(0, itemFloats))]), String(json.length)), 400, /binary_data_size must be a non-negative integer/);
  });

  it("an input with both JSON data and binary data", async () => {
    const input = { ...fp32Binary(0, 1), data: Array.from(golden.inputs.subarray(0, itemFloats)) };
    expectError(await sendBinary({ inputs: [input] }), 400, /both JSON "data" and binary data/);
  });

  it("binary FP32 holding NaN or infinity (JSON cannot, so binary may not either)", async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const values = Float32Array.from(golden.inputs.subarray(0, itemFloats));
      values[7] = bad;
      expectError(await sendBinary({ inputs: [{ ...fp32Binary(0, 1), binary: fp32Tensor(values) }] }), 400, /element 7 must be a finite number/);
    }
  });

  it("a shape claiming 10^9 images with a few bytes: refused at once, nothing allocated", async () => {
    const started = Date.now();
    const input: ClientInput = { name: "input", datatype: "FP32", shape: [1e9, ...itemShape(card.input)], binary: fp32Tensor([1, 2, 3]) };
    expectError(await sendBinary({ inputs: [input] }), 400, /at most \d+ are accepted/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it.each([
    ["a length prefix that claims more bytes than remain", () => Buffer.concat([bytesTensor([golden.images[0].bytes]).subarray(0, 100)]), 1, /claims \d+ bytes at byte 4, but only 96 remain/],
    ["fewer elements than the shape", () => bytesTensor([golden.images[0].bytes]), 2, /ends after 1 of 2 BYTES elements/],
    ["bytes after the last element", () => Buffer.concat([bytesTensor([golden.images[0].bytes]), Buffer.from([1, 2])]), 1, /2 bytes after its 1 BYTES elements/],
    ["a truncated length prefix", () => Buffer.from([5, 0]), 1, /needs a 4-byte length prefix at byte 0, but only 2 bytes remain/],
    ["an empty element (not an image)", () => bytesTensor([Buffer.alloc(0)]), 1, /inputs\[0\]\.data\[0\]/],
  ])("BYTES binary data with %s", async (_case, binary, count, message) => {
    const input: ClientInput = { name: "image", datatype: "BYTES", shape: [count as number], binary: (binary as () => Buffer)() };
    expectError(await sendBinary({ inputs: [input] }), 400, message as RegExp);
  });

  it("a binary body over CLASSIFIER_MAX_REQUEST_SIZE gets 413 and the connection closes", async () => {
    const count = Math.ceil(SMALL_LIMIT / (itemFloats * 4)) + 1;
    const input: ClientInput = { name: "input", datatype: "FP32", shape: [count, ...itemShape(card.input)], binary: Buffer.alloc(count * itemFloats * 4) };
    const reply = await sendBinary({ inputs: [input] }, {}, smallPort);
    expectError(reply, 413);
    expect(reply.headers.connection).toBe("close");
  });
});

describe("Binary framing, fuzzed", () => {
  const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
  const RUNS = 120;

  it(`random header lengths, binary sizes and trailing bytes: only 200 or 400, always in the protocol's shape (seed ${SEED}, ${RUNS} runs)`, async () => {
    const statuses = new Map<number, number>();
    const tensor = fp32Tensor(golden.inputs.subarray(0, itemFloats));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          headerDelta: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.integer({ min: -40, max: 40 })),
          sizeDelta: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.integer({ min: -8, max: 8 })),
          kept: fc.oneof({ arbitrary: fc.constant(itemFloats * 4), weight: 3 }, fc.nat({ max: itemFloats * 4 })),
          trailing: fc.uint8Array({ maxLength: 6 }),
          binaryOutput: fc.boolean(),
          coding: fc.constantFrom("identity", "gzip", "deflate"),
        }),
        async (c) => {
          const json = Buffer.from(
            JSON.stringify({
              parameters: { binary_data_output: c.binaryOutput },
              inputs: [{ name: "input", datatype: "FP32", shape: [1, ...itemShape(card.input)], parameters: { binary_data_size: itemFloats * 4 + c.sizeDelta } }],
            }),
          );
          const body = Buffer.concat([json, tensor.subarray(0, c.kept), c.trailing]);
          const sent = c.coding === "gzip" ? zlib.gzipSync(body) : c.coding === "deflate" ? zlib.deflateSync(body) : body;
          const reply = await post(port, inferPath(), sent, { [HEADER_LENGTH]: String(json.length + c.headerDelta), "Content-Encoding": c.coding });
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          const exact = c.headerDelta === 0 && c.sizeDelta === 0 && c.kept === itemFloats * 4 && c.trailing.length === 0;
          if (exact) {
            expect(reply.status).toBe(200);
            const { outputs } = decodeResponse(decoded(reply), reply.headers[HEADER_LENGTH.toLowerCase()] as string | undefined);
            expect(outputs.map((o) => o.name)).toEqual(["logits", "probabilities"]);
          } else {
            expectError(reply, 400);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(`binary framing fuzz (seed ${SEED}): statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });
});

describe("Content-Encoding: compressed requests, capped after inflating too", () => {
  const gzip = (data: Buffer) => zlib.gzipSync(data);

  it.each([
    ["gzip", (b: Buffer) => zlib.gzipSync(b)],
    ["x-gzip", (b: Buffer) => zlib.gzipSync(b)],
    ["deflate", (b: Buffer) => zlib.deflateSync(b)],
    ["GZIP", (b: Buffer) => zlib.gzipSync(b)],
    ["identity", (b: Buffer) => b],
  ])("a JSON body with Content-Encoding %s gives the uncompressed answer", async (coding, compress) => {
    const expected = await jsonAnswer(2, 4);
    const reply = await post(port, inferPath(), compress(Buffer.from(JSON.stringify({ inputs: [fp32Json(2, 4)] }))), { "Content-Encoding": coding });
    expect([coding, reply.status]).toEqual([coding, 200]);
    expect(new Map(jsonOf(reply).outputs.map((o) => [o.name, o.data]))).toEqual(expected);
  });

  it("a gzip-compressed binary-extension body: the header gives the uncompressed JSON's size", async () => {
    const expected = await jsonAnswer(0, 2);
    const { body, headerLength } = encodeRequest({ parameters: { binary_data_output: true }, inputs: [fp32Binary(0, 2)] });
    const reply = await post(port, inferPath(), gzip(body), { [HEADER_LENGTH]: String(headerLength), "Content-Encoding": "gzip" });
    expect(reply.status).toBe(200);
    const outputs = decodeResponse(decoded(reply), reply.headers[HEADER_LENGTH.toLowerCase()] as string).outputs;
    expect(fp32Values(outputs[0].binary as Buffer)).toEqual(expected.get("logits"));
  });

  it.each([
    ["br", "br"],
    ["two codings", "gzip, gzip"],
    ["compress", "compress"],
  ])("400 for an unsupported coding (%s)", async (_case, coding) => {
    expectError(await post(port, inferPath(), gzip(Buffer.from("{}")), { "Content-Encoding": coding }), 400, /Content-Encoding .* is not supported/);
  });

  it("400 for a body that is not what its coding says: corrupt, truncated, or not compressed at all", async () => {
    const compressed = gzip(Buffer.from(JSON.stringify({ inputs: [fp32Json(0, 1)] })));
    const corrupt = Buffer.from(compressed);
    corrupt.fill(0x55, 20, 60);
    expectError(await post(port, inferPath(), corrupt, { "Content-Encoding": "gzip" }), 400, /not valid gzip data/);
    expectError(await post(port, inferPath(), compressed.subarray(0, compressed.length - 20), { "Content-Encoding": "gzip" }), 400, /not valid gzip data/);
    expectError(await post(port, inferPath(), Buffer.from('{"inputs": []}'), { "Content-Encoding": "deflate" }), 400, /not valid deflate data/);
    expectError(await post(port, inferPath(), Buffer.alloc(0), { "Content-Encoding": "gzip" }), 400, /not valid gzip data/);
  });

  it("413 for a small compressed body that inflates past the limit", async () => {
    // 8 images of JSON is about 120 KB, over the 64 KiB limit; gzip makes it well under 8 KB.
    const body = gzip(Buffer.from(JSON.stringify({ inputs: [{ ...fp32Json(0, 8), data: Array<number>(8 * itemFloats).fill(0.25) }] })));
    expect(body.length).toBeLessThan(SMALL_LIMIT / 8);
    const reply = await post(smallPort, inferPath(), body, { "Content-Encoding": "gzip" });
    expectError(reply, 413);
    expect(reply.headers.connection).toBe("close");
  });

  it("413 for a decompression bomb (64 MiB of zeros in 64 KB of gzip) under the default 10 MiB limit", async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(100 * 1024);
    const reply = await post(port, inferPath(), bomb, { "Content-Encoding": "gzip" });
    expectError(reply, 413, /larger than 10485760 bytes/);
  });

  it("a streamed bomb is refused while inflating: the answer comes before the client has sent its body", async () => {
    // Concatenated gzip members are one valid gzip stream: each 1 KB member inflates to 1 MiB of zeros, so the
    // 32 MB offered would inflate to 32 GiB. Far more than loopback socket buffers hold, so an answer before
    // the end proves the server stopped reading.
    const member = zlib.gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    expect(member.length).toBeLessThan(1100);
    const total = 32 * 1024 * 1024;
    let sent = 0;
    const nextChunk = () => {
      if (sent >= total) return undefined;
      sent += member.length;
      return member;
    };
    const reply = await post(smallPort, inferPath(), nextChunk, { "Content-Encoding": "gzip" });
    expectError(reply, 413);
    expect(reply.headers.connection).toBe("close");
    // The server stopped after inflating about the limit: the client had sent a small part of the bomb.
    expect(reply.bytesWritten).toBeLessThan(total / 2);
  });
});

describe("Accept-Encoding: compressed responses", () => {
  const request = () => ({ inputs: [fp32Json(0, 2)] });

  it.each([
    ["gzip", "gzip"],
    ["deflate", "deflate"],
    ["gzip, deflate", "gzip"],
    ["deflate;q=1, gzip;q=0.5", "deflate"],
    ["gzip;q=0, deflate", "deflate"],
    ["br", undefined],
    ["identity", undefined],
    ["*", "gzip"],
  ])("Accept-Encoding %j answers %s, the same JSON once decoded", async (accept, coding) => {
    const plain = await sendJson(request());
    const reply = await sendJson(request(), { "Accept-Encoding": accept });
    expect([accept, reply.status, reply.headers["content-encoding"]]).toEqual([accept, 200, coding]);
    expect(reply.headers.vary).toMatch(/Accept-Encoding/i);
    expect(Number(reply.headers["content-length"])).toBe(reply.body.length);
    expect(jsonOf(reply).outputs).toEqual(jsonOf(plain).outputs);
  });

  it("without Accept-Encoding the answer is not compressed", async () => {
    const reply = await sendJson(request());
    expect(reply.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(reply.body.toString()).outputs).toHaveLength(2);
  });

  it("a binary response compressed whole: Inference-Header-Content-Length counts the uncompressed JSON", async () => {
    const expected = await jsonAnswer(0, 1);
    const reply = await sendBinary({ parameters: { binary_data_output: true }, inputs: [fp32Binary(0, 1)] }, { "Accept-Encoding": "gzip" });
    expect(reply.headers["content-encoding"]).toBe("gzip");
    expect(reply.headers["content-type"]).toBe("application/octet-stream");
    const { outputs } = decodeResponse(zlib.gunzipSync(reply.body), reply.headers[HEADER_LENGTH.toLowerCase()] as string);
    expect(outputs.map((o) => fp32Values(o.binary as Buffer))).toEqual([expected.get("logits"), expected.get("probabilities")]);
  });
});
