/**
 * Seeded fuzzing (fast-check) of the compiled service in its own process, so a native crash in a decoder shows
 * as the process dying rather than taking the test runner with it. Both ports, each property bounded in runs and
 * time, loopback only. HTTP: corrupted fixture JPEG/PNG bytes on /predict, random multipart bodies on both
 * prediction routes, random raw HTTP requests, and random Open Inference Protocol JSON requests; for every case
 * an answer (or a close) within the per-request deadline, a status from the contract and never a 5xx, the JSON
 * error shape, and the process still alive. gRPC: random ModelInferRequest messages (wrong shapes, datatypes and
 * names, raw_input_contents that lie about their size), mutated and random protobuf bytes for every RPC,
 * messages just over and just under CLASSIFIER_MAX_REQUEST_SIZE, and random bytes on the port's socket; for every
 * case the status code the contract gives (never INTERNAL from the service, never UNKNOWN), and the process still
 * alive. Afterwards both ports still serve.
 *
 * Reproduce a failure with the seed printed in the table: FUZZ_SEED=<seed> npm run test:reliability.
 * FUZZ_RUNS scales the run counts (default 1).
 */
import http from "node:http";
import fc from "fast-check";
import sharp from "sharp";
import { fixtureJpegs, testPicture } from "./support/images";
import { GrpcInferenceClient } from "../../service/protocols/grpc/client";
import { ProtoCodec, RawGrpcClient, Status } from "./support/grpc";
import { LOOPBACK, isErrorEnvelope, multipart, outcome, rawExchange, send, type Part, type Reply } from "./support/http";
import { killChildren, spawnReadyService, type ChildService } from "./support/service";
import { CaseTable } from "./support/table";

jest.setTimeout(150_000);

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const RUNS = {
  images: Math.round(1500 * SCALE),
  multipart: Math.round(1200 * SCALE),
  raw: Math.round(400 * SCALE),
  v2: Math.round(500 * SCALE),
  grpcInfer: Math.round(400 * SCALE),
  grpcBytes: Math.round(500 * SCALE),
  grpcOversized: Math.round(12 * SCALE),
  grpcSocket: Math.round(150 * SCALE),
};
const MODEL_NAME = "pyramidnet";
const PIXELS = 3 * 32 * 32;
/** CLASSIFIER_MAX_REQUEST_SIZE's default, the gRPC server's receive limit too. */
const MAX_REQUEST_SIZE = 10 * 2 ** 20;
/** A case not answered within this is a hang. */
const REQUEST_DEADLINE_MS = 10_000;

const table = new CaseTable(`fuzzing (fast-check seed ${SEED})`);
table.printAfterAll();

let service: ChildService;
let agent: http.Agent;
let bases: { name: string; bytes: Buffer }[];
let grpc: RawGrpcClient;
let typedClient: GrpcInferenceClient;
const codec = new ProtoCodec();

beforeAll(async () => {
  service = await spawnReadyService({ CLASSIFIER_HEADERS_TIMEOUT_MS: "2000", CLASSIFIER_REQUEST_TIMEOUT_MS: "4000" });
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  grpc = new RawGrpcClient(`${LOOPBACK}:${service.grpcPort}`);
  typedClient = new GrpcInferenceClient(`${LOOPBACK}:${service.grpcPort}`);
  const jpegs = fixtureJpegs();
  const picks = [jpegs[0], jpegs[31], jpegs[57], jpegs[93]];
  bases = [
    ...picks.map((fixture) => ({ name: `jpeg ${fixture.file}`, bytes: fixture.bytes })),
    { name: "png", bytes: await sharp(picks[0].bytes).png().toBuffer() },
    { name: "interlaced png", bytes: await sharp(picks[1].bytes).png({ progressive: true }).toBuffer() },
    { name: "progressive jpeg", bytes: await testPicture(96, 64).jpeg({ progressive: true }).toBuffer() },
    { name: "16-bit png with alpha", bytes: await testPicture(40, 40).ensureAlpha(0.5).toColourspace("rgb16").png().toBuffer() },
  ];
  console.log(`fuzzing with fast-check seed ${SEED} (FUZZ_SEED=${SEED} reproduces this run)`);
});

afterAll(() => {
  agent?.destroy();
  grpc?.close();
  typedClient?.close();
  killChildren();
});

function alive(): boolean {
  return service.child.exitCode === null && service.child.signalCode === null;
}

/** Runs a property under the seed, at most `numRuns` cases or `timeLimitMs`; fails with fast-check's report. */
async function run<T>(property: fc.IAsyncProperty<T>, numRuns: number, timeLimitMs: number): Promise<number> {
  const details = await fc.check(property, {
    seed: SEED,
    numRuns,
    // A crashed service fails every later case alike; the first failing input is the one worth reporting.
    endOnFailure: true,
    plugins: [fc.interruptAfterTimeLimit(timeLimitMs)],
  });
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${fc.defaultReportMessage(details) ?? "property failed"}\nFailure: ${cause}`);
  }
  return details.numRuns;
}

class Tally {
  private readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  toString(): string {
    return [...this.counts.entries()].sort().map(([key, n]) => `${key}×${n}`).join(", ");
  }
}

/** Checks one HTTP answer against the contract; returns a failure description or undefined. */
function contractProblem(reply: Reply, allowed: readonly number[]): string | undefined {
  if (!allowed.includes(reply.status)) return `status ${reply.status} not in ${allowed.join(",")}: ${reply.text.slice(0, 200)}`;
  if (reply.status >= 400 && !isErrorEnvelope(reply.json)) return `error body is not the envelope: ${reply.text.slice(0, 200)}`;
  if (typeof reply.headers["x-request-id"] !== "string") return "no X-Request-Id";
  return undefined;
}

/** FP32 values as raw little-endian bytes. */
function float32Bytes(values: readonly number[]): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes;
}

/** Triton's raw BYTES layout: a 4-byte little-endian length before each element. */
function lengthPrefixedImages(images: readonly Buffer[]): Buffer {
  return Buffer.concat(
    images.flatMap((image) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(image.length);
      return [length, image];
    }),
  );
}

/** A gRPC error's details are a sentence for people: no stack trace, no server path. */
function humanDetails(details: string): boolean {
  return details.length > 10 && !/\bat .+\.(js|ts):\d+|\/work\/|node_modules/.test(details);
}

// ---- corrupted images -------------------------------------------------------------------------------------

type Mutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "set"; readonly at: number; readonly value: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "delete"; readonly at: number; readonly length: number }
  | { readonly kind: "repeat"; readonly at: number; readonly length: number; readonly times: number };

/** Half the positions fall in the first 256 bytes, where headers (sizes, markers, chunk lengths) live. */
const position = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 1_000_000 }));
const byteValue = fc.oneof(fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe), fc.integer({ min: 0, max: 255 }));

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: position, value: byteValue }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({ kind: fc.constant("insert" as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("repeat" as const),
    at: position,
    length: fc.integer({ min: 1, max: 64 }),
    times: fc.integer({ min: 2, max: 40 }),
  }),
);

function mutate(source: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(source);
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case "flip":
        if (at < bytes.length) bytes[at] ^= 1 << m.bit;
        break;
      case "set":
        if (at < bytes.length) bytes[at] = m.value;
        break;
      case "truncate":
        bytes = bytes.subarray(0, at);
        break;
      case "insert":
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case "delete":
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
        break;
      case "repeat": {
        const piece = bytes.subarray(at, at + m.length);
        bytes = Buffer.concat([bytes.subarray(0, at), ...Array<Buffer>(m.times).fill(piece), bytes.subarray(at)]);
        break;
      }
    }
  }
  return bytes;
}

/** Stands for the route's own file field ("file" or "files") in generated multipart parts. */
const RIGHT_FIELD = "<the route's field>";

const corruptedImage = () =>
  fc.record({ base: fc.integer({ min: 0, max: 7 }), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 6 }) });

describe("fuzzing", () => {
  it(`corrupted fixture JPEG/PNG bytes on /predict (up to ${RUNS.images} cases)`, async () => {
    const statuses = new Tally();
    const property = fc.asyncProperty(corruptedImage(), async ({ base, mutations }) => {
      const source = bases[base % bases.length];
      const bytes = mutate(source.bytes, mutations);
      const { body, contentType } = multipart([{ name: "file", data: bytes, filename: "fuzz.jpg", contentType: "image/jpeg" }]);
      const reply = await send(service.port, {
        method: "POST",
        path: "/predict",
        body,
        headers: { "Content-Type": contentType, "Content-Length": body.length },
        agent,
        timeoutMs: REQUEST_DEADLINE_MS,
      });
      statuses.add(outcome(reply));
      const problem = contractProblem(reply, [200, 415, 422]);
      if (problem !== undefined) throw new Error(`${source.name}: ${problem}`);
      if (!alive()) throw new Error(`the service died on a mutation of ${source.name}`);
    });
    const runs = await run(property, RUNS.images, 40_000);
    table.note(`corrupted images: ${runs} cases`, "200/415/422 only, no hang, alive", statuses.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.images, 300));
  });

  it(`random multipart bodies on /predict and /predict/batch (up to ${RUNS.multipart} cases)`, async () => {
    const statuses = new Tally();
    const images = bases.map((b) => b.bytes);
    const part = fc.record({
      // Mostly the route's own field with a filename, so the fuzzing reaches the decoder as well as the parser.
      name: fc.oneof(
        { arbitrary: fc.constant(RIGHT_FIELD), weight: 6 },
        { arbitrary: fc.constantFrom("file", "files", "image", "", "FILE"), weight: 1 },
        { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
      ),
      filename: fc.option(
        fc.oneof(
          { arbitrary: fc.constantFrom("a.jpg", "photo.png", "../../x.png", "x".repeat(300), ""), weight: 2 },
          { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 1 },
        ),
        { nil: undefined, freq: 6 },
      ),
      filenameStar: fc.option(fc.string({ unit: "binary", maxLength: 20 }), { nil: undefined }),
      contentType: fc.option(fc.constantFrom("image/jpeg", "image/png", "text/plain", "application/octet-stream", "", "multipart/mixed; boundary=inner"), { nil: undefined }),
      data: fc.oneof(
        fc.constantFrom(...images),
        fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
        fc.constant(Buffer.alloc(0)),
        corruptedImage().map(({ base, mutations }) => mutate(images[base % images.length], mutations)),
      ),
    });
    const request = fc.record({
      parts: fc.oneof({ arbitrary: fc.tuple(part), weight: 2 }, { arbitrary: fc.array(part, { minLength: 1, maxLength: 5 }), weight: 1 }),
      boundary: fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/),
      route: fc.constantFrom("/predict", "/predict/batch"),
      topK: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 3 },
        { arbitrary: fc.oneof(fc.integer({ min: -2, max: 12 }).map(String), fc.string({ maxLength: 4 })), weight: 1 },
      ),
      header: fc.oneof(
        { arbitrary: fc.constant("exact" as const), weight: 4 },
        { arbitrary: fc.constantFrom("no boundary", "other boundary", "unquoted", "upper case", "with charset"), weight: 2 },
      ),
      damage: fc.oneof(
        { arbitrary: fc.constant({ kind: "none" as const }), weight: 6 },
        fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
        fc.constant({ kind: "bare LF" as const }),
        fc.constant({ kind: "no closing boundary" as const }),
        fc.record({ kind: fc.constant("garbage" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
      ),
    });
    const property = fc.asyncProperty(request, async (r) => {
      const field = r.route === "/predict" ? "file" : "files";
      const parts: Part[] = r.parts.map((p) => ({ ...p, name: p.name === RIGHT_FIELD ? field : p.name }));
      const { body: clean, contentType } = multipart(parts, r.boundary);
      let body = clean;
      switch (r.damage.kind) {
        case "truncate":
          body = body.subarray(0, r.damage.at % (body.length + 1));
          break;
        case "bare LF":
          body = Buffer.from(body.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
          break;
        case "no closing boundary":
          body = body.subarray(0, body.length - r.boundary.length - 6);
          break;
        case "garbage": {
          const at = r.damage.at % (body.length + 1);
          body = Buffer.concat([body.subarray(0, at), r.damage.bytes, body.subarray(at)]);
          break;
        }
      }
      const header = {
        exact: contentType,
        "no boundary": "multipart/form-data",
        "other boundary": "multipart/form-data; boundary=not-the-one",
        unquoted: `multipart/form-data; boundary=${r.boundary}`,
        "upper case": `MULTIPART/FORM-DATA; BOUNDARY=${r.boundary}`,
        "with charset": `${contentType}; charset=utf-8`,
      }[r.header];
      const query = r.topK === undefined ? "" : `?top_k=${encodeURIComponent(r.topK)}`;
      const reply = await send(service.port, {
        method: "POST",
        path: `${r.route}${query}`,
        body,
        headers: { "Content-Type": header, "Content-Length": body.length },
        agent,
        timeoutMs: REQUEST_DEADLINE_MS,
      });
      statuses.add(`${r.route === "/predict" ? "single" : "batch"} ${outcome(reply)}`);
      const problem = contractProblem(reply, [200, 400, 415, 422]);
      if (problem !== undefined) throw new Error(problem);
      if (reply.status === 200) {
        const json = reply.json as { prediction?: unknown; results?: { filename?: unknown; prediction?: unknown; error?: unknown }[] };
        const ok =
          r.route === "/predict"
            ? typeof json.prediction === "object"
            : Array.isArray(json.results) &&
              json.results.length > 0 &&
              json.results.every((entry) => typeof entry.filename === "string" && (entry.prediction !== undefined) !== (entry.error !== undefined));
        if (!ok) throw new Error(`200 without the contract's shape: ${reply.text.slice(0, 300)}`);
      }
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.multipart, 30_000);
    table.note(`random multipart bodies: ${runs} cases`, "200/400/415/422 only, no hang, alive", statuses.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.multipart, 300));
  });

  it(`random raw HTTP requests (up to ${RUNS.raw} cases)`, async () => {
    const statuses = new Tally();
    const token = fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 12 });
    // Mostly well-formed request lines with a Host, so the fuzzing reaches routing and the app, not only the parser.
    const request = fc.record({
      method: fc.oneof(
        { arbitrary: fc.constantFrom("GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"), weight: 4 },
        { arbitrary: fc.constantFrom("TRACE", "CONNECT", "PRI", "FOO", "get"), weight: 1 },
        { arbitrary: token, weight: 1 },
      ),
      target: fc.oneof(
        {
          arbitrary: fc.constantFrom("/predict", "/predict/batch", "/health/ready", "/livez", "/metrics", "/openapi.json", "/docs", "/docs/assets/index.css", "*", "http://127.0.0.1/predict", "/%00", "/..%2f..%2fetc/passwd", "/predict?top_k=%ff", "//predict", "/predict/", "/v2", "/v2/models/pyramidnet/infer", "/v2/models/pyramidnet/versions/0/ready", "/"),
          weight: 3,
        },
        { arbitrary: fc.webPath(), weight: 2 },
        { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 1 },
      ),
      version: fc.oneof(
        { arbitrary: fc.constant("HTTP/1.1"), weight: 5 },
        { arbitrary: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1x", ""), weight: 1 },
      ),
      host: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, { arbitrary: fc.constant(false), weight: 1 }),
      headers: fc.array(
        fc.tuple(
          fc.oneof(
            { arbitrary: fc.constantFrom("Content-Type", "Content-Length", "Transfer-Encoding", "X-Request-Id", "Expect", "Connection", "Origin", "Upgrade", "Host"), weight: 2 },
            { arbitrary: fc.stringMatching(/^[A-Za-z0-9-]{1,16}$/), weight: 2 },
            { arbitrary: token, weight: 1 },
          ),
          fc.oneof(
            { arbitrary: fc.string({ maxLength: 60 }), weight: 3 },
            { arbitrary: fc.constantFrom("multipart/form-data; boundary=x", "0", "5", "-1", "chunked", "100-continue", "close", "https://app.example.com"), weight: 2 },
            { arbitrary: fc.string({ unit: "binary", maxLength: 60 }), weight: 1 },
          ),
        ),
        { maxLength: 4 },
      ),
      // Bytes after the head: without a Content-Length they are a second, pipelined request.
      body: fc.oneof({ arbitrary: fc.constant(new Uint8Array(0)), weight: 3 }, { arbitrary: fc.uint8Array({ maxLength: 256 }), weight: 1 }),
      newline: fc.oneof({ arbitrary: fc.constant("\r\n"), weight: 4 }, { arbitrary: fc.constant("\n"), weight: 1 }),
    });
    const property = fc.asyncProperty(request, async (r) => {
      const head = [
        `${r.method} ${r.target} ${r.version}`,
        ...(r.host ? ["Host: 127.0.0.1"] : []),
        ...r.headers.map(([name, value]) => `${name}: ${value}`),
      ].join(r.newline);
      const bytes = Buffer.concat([Buffer.from(head + r.newline + r.newline, "utf8"), r.body]);
      const result = await rawExchange(service.port, {
        timeoutMs: REQUEST_DEADLINE_MS,
        // Everything at once, then end of input: the server must answer or close, not wait for more.
        drive: (socket) => void socket.end(bytes),
      });
      statuses.add(result.status === undefined ? "closed without answer" : outcome({ status: result.status, json: result.json }));
      if (!result.closedByServer) throw new Error(`connection left open: ${JSON.stringify(head.slice(0, 200))}`);
      if (result.status !== undefined && result.status >= 500) throw new Error(`${result.status} for ${JSON.stringify(head.slice(0, 200))}: ${result.body.slice(0, 200)}`);
      const hasBody = result.body.length > 0 && r.method !== "HEAD";
      // /v2 answers errors in the Open Inference Protocol's shape, {"error": "<message>"}.
      const protocolShape = typeof (result.json as { error?: unknown } | undefined)?.error === "string";
      if (result.status !== undefined && result.status >= 400 && hasBody && !isErrorEnvelope(result.json) && !protocolShape) {
        throw new Error(`${result.status} without the JSON envelope for ${JSON.stringify(head.slice(0, 200))}: ${result.raw.slice(0, 300)}`);
      }
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.raw, 12_000);
    table.note(`random raw HTTP requests: ${runs} cases`, "no 5xx, JSON errors, closed, alive", statuses.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.raw, 100));
  });

  it(`random Open Inference Protocol v2 requests on /v2/models/pyramidnet/infer (up to ${RUNS.v2} cases)`, async () => {
    const statuses = new Tally();
    // Placeholders the generator picks, expanded to real tensors and images when the body is built.
    const expand = (data: unknown): unknown => {
      switch (data) {
        case "<fp32 flat>":
          return Array.from({ length: PIXELS }, (_, i) => ((i % 97) - 48) / 40);
        case "<fp32 nested>":
          return [Array.from({ length: 3 }, () => Array.from({ length: 32 }, () => Array<number>(32).fill(0.25)))];
        case "<image>":
          return [bases[0].bytes.toString("base64")];
        case "<corrupted image>":
          return [mutate(bases[1].bytes, [{ kind: "truncate", at: 200 }]).toString("base64")];
        case "<not base64>":
          return ["!!not base64!!"];
        default:
          return data;
      }
    };
    // A coherent input (FP32 tensor, flat or nested, or a base64 image), then at most one field perturbed.
    const coherent = fc.constantFrom(
      { name: "input", datatype: "FP32", shape: [1, 3, 32, 32], data: "<fp32 flat>" },
      { name: "input", datatype: "FP32", shape: [1, 3, 32, 32], data: "<fp32 nested>" },
      { name: "image", datatype: "BYTES", shape: [1], data: "<image>" },
      { name: "image", datatype: "BYTES", shape: [1], data: "<corrupted image>" },
      { name: "image", datatype: "BYTES", shape: [1], data: "<not base64>" },
    );
    const perturbation = fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 4 },
      fc.record({ field: fc.constant("name"), value: fc.oneof(fc.constantFrom("input", "image", ""), fc.string({ maxLength: 10 })) }),
      fc.record({ field: fc.constant("datatype"), value: fc.constantFrom("FP32", "BYTES", "FP64", "INT8", "fp32", "", 7) }),
      fc.record({
        field: fc.constant("shape"),
        value: fc.oneof(
          fc.constantFrom([1], [2, 3, 32, 32], [1, 3, 32, 32, 1], [1e9, 3, 32, 32], [0, 3, 32, 32], [-1, 3, 32, 32], [33]),
          fc.array(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.double(), fc.string({ maxLength: 3 })), { maxLength: 5 }),
        ),
      }),
      fc.record({
        field: fc.constant("data"),
        value: fc.oneof(
          fc.constantFrom("<fp32 flat>", "<fp32 nested>", "<image>", "<corrupted image>", "<not base64>"),
          fc.array(fc.oneof(fc.double(), fc.constant(null), fc.string({ maxLength: 4 }), fc.boolean()), { maxLength: 40 }),
          fc.jsonValue({ maxDepth: 3 }),
        ),
      }),
      fc.record({
        field: fc.constant("parameters"),
        value: fc.dictionary(fc.constantFrom("binary_data_output", "classification", "top_k", "x"), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
      }),
    );
    const input = fc.tuple(coherent, perturbation).map(([base, change]) => (change === undefined ? base : { ...base, [change.field]: change.value }));
    // Mostly valid optional fields, so that most requests reach the pipeline; the rest probe the parser.
    const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) =>
      fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: other, weight: 1 });
    const request = fc.record({
      body: fc.record(
        {
          id: mostly(fc.option(fc.string({ maxLength: 12 }), { nil: undefined }), fc.integer()),
          inputs: mostly(fc.tuple(input), fc.oneof(fc.array(input, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 }))),
          outputs: mostly(
            fc.constantFrom(undefined, [{ name: "probabilities" }], [{ name: "logits" }, { name: "probabilities" }]),
            fc.oneof(fc.array(fc.record({ name: fc.string({ maxLength: 12 }) }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
          ),
          parameters: mostly(fc.constant(undefined), fc.jsonValue({ maxDepth: 1 })),
        },
        { requiredKeys: ["id", "inputs", "outputs", "parameters"] },
      ),
      damage: fc.oneof(
        { arbitrary: fc.constant({ kind: "none" as const }), weight: 8 },
        fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
        fc.record({ kind: fc.constant("garbage" as const), at: fc.nat(), text: fc.string({ unit: "binary", minLength: 1, maxLength: 8 }) }),
      ),
    });
    const property = fc.asyncProperty(request, async (r) => {
      const body = r.body as Record<string, unknown>;
      const inputs = Array.isArray(body.inputs)
        ? (body.inputs as Record<string, unknown>[]).map((i) => (typeof i === "object" && i !== null ? { ...i, data: expand(i.data) } : i))
        : body.inputs;
      let text = JSON.stringify({ ...body, inputs });
      if (r.damage.kind === "truncate") text = text.slice(0, r.damage.at % (text.length + 1));
      if (r.damage.kind === "garbage") {
        const at = r.damage.at % (text.length + 1);
        text = text.slice(0, at) + r.damage.text + text.slice(at);
      }
      const reply = await send(service.port, {
        method: "POST",
        path: "/v2/models/pyramidnet/infer",
        body: text,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) },
        agent,
        timeoutMs: REQUEST_DEADLINE_MS,
      });
      statuses.add(String(reply.status));
      if (![200, 400].includes(reply.status)) throw new Error(`status ${reply.status}: ${reply.text.slice(0, 200)} for ${text.slice(0, 200)}`);
      const json = reply.json as { error?: unknown; outputs?: unknown } | undefined;
      const shaped = reply.status === 200 ? Array.isArray(json?.outputs) : typeof json?.error === "string" && Object.keys(json).length === 1;
      if (!shaped) throw new Error(`${reply.status} not in the protocol's shape: ${reply.text.slice(0, 200)}`);
      if (typeof reply.headers["x-request-id"] !== "string") throw new Error("no X-Request-Id");
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.v2, 20_000);
    table.note(`random v2 inference requests: ${runs} cases`, "200/400 only, protocol's shapes, alive", statuses.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.v2, 100));
  });

  // ---- the gRPC port ---------------------------------------------------------------------------------------

  it(`random ModelInferRequest messages on the gRPC port: wrong shapes, lying raw sizes (up to ${RUNS.grpcInfer} cases)`, async () => {
    const codes = new Tally();
    const imageBytes = (base: number) => bases[base % 4].bytes;
    // A coherent input and its contents, then at most one thing about it perturbed.
    const coherent = fc.record({
      kind: fc.constantFrom("fp32 raw", "fp32 typed", "bytes raw", "bytes typed"),
      batch: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 4 }, { arbitrary: fc.integer({ min: 4, max: 32 }), weight: 1 }),
      base: fc.nat(),
    });
    const perturbation = fc.oneof(
      { arbitrary: fc.constant({ what: "none" as const }), weight: 4 },
      fc.record({ what: fc.constant("name" as const), value: fc.oneof(fc.constantFrom("input", "image", ""), fc.string({ maxLength: 10 })) }),
      fc.record({ what: fc.constant("datatype" as const), value: fc.constantFrom("FP32", "BYTES", "FP64", "FP16", "INT8", "UINT8", "BOOL", "fp32", "") }),
      fc.record({
        what: fc.constant("shape" as const),
        value: fc.oneof(
          fc.constantFrom([1], [1, 32, 32, 3], [1, 3, 32, 32, 1], [0, 3, 32, 32], [-1, 3, 32, 32], [33, 3, 32, 32], [2 ** 31, 3, 32, 32], [2 ** 53, 3, 32, 32], []),
          fc.array(fc.integer({ min: -3, max: 70 }), { maxLength: 6 }),
        ),
      }),
      // The raw bytes lie about the shape: some cut off, or some added.
      fc.record({ what: fc.constant("raw size" as const), delta: fc.oneof(fc.integer({ min: -64, max: 64 }), fc.constantFrom(-12_288, 12_288, -1, 1, -4, 4)) }),
      fc.record({ what: fc.constant("raw entries" as const), count: fc.constantFrom(0, 2, 3) }),
      fc.record({ what: fc.constant("raw and typed" as const) }),
      fc.record({ what: fc.constant("nan" as const), at: fc.nat() }),
      fc.record({ what: fc.constant("garbage raw" as const), bytes: fc.uint8Array({ maxLength: 256 }) }),
    );
    const parameter = fc.oneof(
      fc.record({ bool_param: fc.boolean() }),
      fc.record({ int64_param: fc.integer({ min: -5, max: 50 }) }),
      fc.record({ string_param: fc.string({ maxLength: 8 }) }),
    );
    const request = fc.record({
      model: fc.oneof({ arbitrary: fc.constant(MODEL_NAME), weight: 8 }, { arbitrary: fc.constantFrom("", "resnet50", "PYRAMIDNET"), weight: 1 }),
      version: fc.oneof({ arbitrary: fc.constant(""), weight: 6 }, { arbitrary: fc.constantFrom("1.1.0", "1.0.0", "9.9.9", "latest"), weight: 1 }),
      input: coherent,
      perturbation,
      extraInputs: fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.constantFrom(1, 2), weight: 1 }),
      outputs: fc.oneof(
        { arbitrary: fc.constantFrom([], ["probabilities"], ["logits"], ["logits", "probabilities"]), weight: 4 },
        { arbitrary: fc.array(fc.oneof(fc.constantFrom("probabilities", "logits", "embeddings"), fc.string({ maxLength: 8 })), { maxLength: 3 }), weight: 1 },
      ),
      parameters: fc.oneof(
        { arbitrary: fc.constant({}), weight: 4 },
        { arbitrary: fc.dictionary(fc.constantFrom("binary_data_output", "classification", "priority", "timeout", "x"), parameter, { maxKeys: 2 }), weight: 1 },
      ),
    });
    const property = fc.asyncProperty(request, async (r) => {
      const fp32 = r.input.kind.startsWith("fp32");
      const raw = r.input.kind.endsWith("raw");
      const batch = r.input.batch;
      const values = Array.from({ length: batch * PIXELS }, (_, i) => ((i % 97) - 48) / 40);
      let rawBytes = fp32 ? float32Bytes(values) : lengthPrefixedImages(Array.from({ length: batch }, (_, i) => imageBytes(r.input.base + i)));
      const tensor: Record<string, unknown> = {
        name: fp32 ? "input" : "image",
        datatype: fp32 ? "FP32" : "BYTES",
        shape: fp32 ? [batch, 3, 32, 32] : [batch],
      };
      if (!raw) tensor.contents = fp32 ? { fp32_contents: values } : { bytes_contents: Array.from({ length: batch }, (_, i) => imageBytes(r.input.base + i)) };
      let rawEntries = raw ? [rawBytes] : [];
      const p = r.perturbation;
      switch (p.what) {
        case "name":
          tensor.name = p.value;
          break;
        case "datatype":
          tensor.datatype = p.value;
          break;
        case "shape":
          tensor.shape = p.value;
          break;
        case "raw size":
          rawBytes = p.delta < 0 ? rawBytes.subarray(0, Math.max(0, rawBytes.length + p.delta)) : Buffer.concat([rawBytes, Buffer.alloc(p.delta, 7)]);
          rawEntries = [rawBytes];
          break;
        case "raw entries":
          rawEntries = Array.from({ length: p.count }, () => rawBytes);
          break;
        case "raw and typed":
          tensor.contents = { fp32_contents: values.slice(0, 8) };
          rawEntries = [rawBytes];
          break;
        case "nan": {
          if (fp32) {
            const bytes = Buffer.from(rawBytes);
            bytes.writeFloatLE(Number.NaN, 4 * (p.at % Math.max(1, Math.floor(bytes.length / 4))));
            rawEntries = [bytes];
            delete tensor.contents;
          }
          break;
        }
        case "garbage raw":
          rawEntries = [Buffer.from(p.bytes)];
          delete tensor.contents;
          break;
        case "none":
          break;
      }
      const message = {
        model_name: r.model,
        model_version: r.version,
        id: "fuzz",
        inputs: [tensor, ...Array.from({ length: r.extraInputs }, () => ({ ...tensor }))],
        outputs: (r.outputs as readonly string[]).map((name) => ({ name })),
        parameters: r.parameters,
        raw_input_contents: rawEntries,
      };
      const result = await grpc.call("ModelInfer", codec.request("ModelInfer", message), REQUEST_DEADLINE_MS);
      codes.add(Status[result.code] ?? String(result.code));
      if (![Status.OK, Status.INVALID_ARGUMENT, Status.NOT_FOUND].includes(result.code)) {
        throw new Error(`${Status[result.code]} (${result.details}) for ${JSON.stringify({ ...r.input, perturbation: p, model: r.model, version: r.version })}`);
      }
      if (result.code !== Status.OK && !humanDetails(result.details)) throw new Error(`details not for people: ${result.details}`);
      if (result.code === Status.OK) {
        const answer = codec.response("ModelInfer", result.response!) as { outputs: { shape: number[] }[] };
        if (answer.outputs.length === 0 || !answer.outputs.every((o) => o.shape.length === 2 && o.shape[1] === 10)) {
          throw new Error(`OK without [N, 10] outputs: ${JSON.stringify(answer.outputs.map((o) => o.shape))}`);
        }
      }
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.grpcInfer, 30_000);
    table.note(`random gRPC ModelInfer messages: ${runs} cases`, "OK/INVALID_ARGUMENT/NOT_FOUND only, alive", codes.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.grpcInfer, 100));
  });

  it(`mutated and random protobuf bytes for every RPC (up to ${RUNS.grpcBytes} cases)`, async () => {
    const codes = new Tally();
    const valid: { method: string; bytes: Buffer }[] = [
      { method: "ModelInfer", bytes: codec.request("ModelInfer", { model_name: MODEL_NAME, inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 32, 32] }], raw_input_contents: [float32Bytes(Array<number>(PIXELS).fill(0.5))] }) },
      { method: "ModelInfer", bytes: codec.request("ModelInfer", { model_name: MODEL_NAME, inputs: [{ name: "image", datatype: "BYTES", shape: [1] }], raw_input_contents: [lengthPrefixedImages([bases[0].bytes])] }) },
      { method: "ModelInfer", bytes: codec.request("ModelInfer", { model_name: MODEL_NAME, inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 32, 32], contents: { fp32_contents: Array<number>(PIXELS).fill(0.25) } }], outputs: [{ name: "logits" }] }) },
      { method: "ModelMetadata", bytes: codec.request("ModelMetadata", { name: MODEL_NAME }) },
      { method: "ModelReady", bytes: codec.request("ModelReady", { name: MODEL_NAME, version: "1.1.0" }) },
      { method: "ServerMetadata", bytes: codec.request("ServerMetadata", {}) },
      { method: "ServerLive", bytes: codec.request("ServerLive", {}) },
      { method: "ServerReady", bytes: codec.request("ServerReady", {}) },
    ];
    const request = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("mutated" as const), base: fc.nat(), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 6 }) }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant("random" as const), base: fc.nat(), bytes: fc.uint8Array({ maxLength: 512 }) }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant("unknown method" as const), method: fc.constantFrom("ModelLoad", "RepositoryIndex", "modelinfer", "", "ModelInfer/extra") }), weight: 1 },
    );
    const property = fc.asyncProperty(request, async (r) => {
      let method: string;
      let bytes: Buffer;
      if (r.kind === "unknown method") {
        method = r.method;
        bytes = Buffer.alloc(0);
      } else {
        const base = valid[r.base % valid.length];
        method = base.method;
        bytes = r.kind === "mutated" ? mutate(base.bytes, r.mutations) : Buffer.from(r.bytes);
      }
      const result = await grpc.call(method, bytes, REQUEST_DEADLINE_MS);
      codes.add(`${r.kind} ${Status[result.code] ?? result.code}`);
      // INTERNAL only from grpc-js itself, for bytes that are no protobuf of the method's request; never the service's.
      const undecodable = result.code === Status.INTERNAL && result.details === "Error deserializing request";
      const allowed = r.kind === "unknown method" ? [Status.UNIMPLEMENTED] : [Status.OK, Status.INVALID_ARGUMENT, Status.NOT_FOUND];
      if (!allowed.includes(result.code) && !undecodable) {
        throw new Error(`${Status[result.code]} (${result.details}) for ${r.kind} ${method} (${bytes.length} bytes)`);
      }
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.grpcBytes, 20_000);
    table.note(`mutated/random protobuf bytes: ${runs} cases`, "OK/INVALID_ARGUMENT/NOT_FOUND, grpc-js's INTERNAL for undecodable bytes, UNIMPLEMENTED for unknown methods, alive", codes.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.grpcBytes, 100));
  });

  it(`oversized messages: RESOURCE_EXHAUSTED above CLASSIFIER_MAX_REQUEST_SIZE, read up to it (up to ${RUNS.grpcOversized} cases)`, async () => {
    const codes = new Tally();
    // A ModelInfer message of exactly `size` bytes whose raw tensor lies about its shape (one image).
    const messageOfSize = (size: number): Buffer => {
      const encode = (rawLength: number) =>
        codec.request("ModelInfer", { model_name: MODEL_NAME, inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 32, 32] }], raw_input_contents: [Buffer.alloc(rawLength, 1)] });
      let rawLength = size;
      for (let i = 0; i < 4; i++) rawLength -= encode(rawLength).length - size;
      const bytes = encode(rawLength);
      if (bytes.length !== size) throw new Error(`built ${bytes.length} bytes for ${size}`);
      return bytes;
    };
    const over = fc.oneof(fc.constantFrom(1, 2, 4096), fc.integer({ min: 1, max: 2 * 2 ** 20 }));
    const property = fc.asyncProperty(fc.tuple(fc.boolean(), over), async ([above, by]) => {
      const size = above ? MAX_REQUEST_SIZE + by : MAX_REQUEST_SIZE - (by % 4096);
      const result = await grpc.call("ModelInfer", messageOfSize(size), REQUEST_DEADLINE_MS);
      codes.add(`${above ? "above" : "at or under"} ${Status[result.code]}`);
      const expected = above ? Status.RESOURCE_EXHAUSTED : Status.INVALID_ARGUMENT;
      if (result.code !== expected) throw new Error(`${size} bytes (limit ${MAX_REQUEST_SIZE}): ${Status[result.code]} (${result.details}), not ${Status[expected]}`);
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.grpcOversized, 20_000);
    table.note(`oversized gRPC messages: ${runs} cases`, "RESOURCE_EXHAUSTED above the limit, INVALID_ARGUMENT at it, alive", codes.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.grpcOversized, 8));
  });

  it(`random bytes on the gRPC port's TCP socket (up to ${RUNS.grpcSocket} cases)`, async () => {
    const outcomes = new Tally();
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const request = fc.record({
      start: fc.constantFrom("none", "preface", "http/1.1"),
      bytes: fc.uint8Array({ maxLength: 512 }),
    });
    const property = fc.asyncProperty(request, async (r) => {
      const head = { none: Buffer.alloc(0), preface, "http/1.1": Buffer.from("POST /inference.GRPCInferenceService/ModelInfer HTTP/1.1\r\nHost: x\r\n\r\n") }[r.start];
      const result = await rawExchange(service.grpcPort, { timeoutMs: REQUEST_DEADLINE_MS, drive: (socket) => void socket.end(Buffer.concat([head, r.bytes])) });
      outcomes.add(`${r.start} ${result.closedByServer ? "closed" : "left open"}`);
      if (!result.closedByServer) throw new Error(`connection left open after ${r.start} and ${r.bytes.length} bytes`);
      if (!alive()) throw new Error("the service died");
    });
    const runs = await run(property, RUNS.grpcSocket, 10_000);
    table.note(`random bytes on the gRPC socket: ${runs} cases`, "closed by the server, alive", outcomes.toString());
    expect(runs).toBeGreaterThanOrEqual(Math.min(RUNS.grpcSocket, 50));
  });

  it("afterwards: alive, ready, and every log line one JSON object", async () => {
    const ready = await send(service.port, { path: "/health/ready" });
    table.check("after fuzzing: process alive, ready", "alive, 200", `${alive() ? "alive" : "dead"}, ${ready.status}`);
    // The gRPC port still serves: liveness, the health service, and a real inference.
    const live = codec.response("ServerLive", (await grpc.call("ServerLive", codec.request("ServerLive", {}), REQUEST_DEADLINE_MS)).response ?? Buffer.alloc(0));
    const health = await typedClient.check("");
    const infer = await grpc.call(
      "ModelInfer",
      codec.request("ModelInfer", { model_name: MODEL_NAME, inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 32, 32] }], raw_input_contents: [float32Bytes(Array<number>(PIXELS).fill(0.5))] }),
      REQUEST_DEADLINE_MS,
    );
    const grpcState = `live ${String(live.live)}, health ${health.response?.status ?? health.error?.code}, ModelInfer ${Status[infer.code]}`;
    table.check("after fuzzing: the gRPC port", "live true, health SERVING, ModelInfer OK", grpcState);
    expect(grpcState).toBe("live true, health SERVING, ModelInfer OK");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const unparsable = service.stdoutLines.filter((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        return typeof parsed !== "object" || parsed === null || Array.isArray(parsed);
      } catch {
        return true;
      }
    });
    table.check(`log lines during fuzzing (${service.stdoutLines.length})`, "all JSON objects", unparsable.length === 0 ? "all JSON objects" : `${unparsable.length} not JSON: ${unparsable[0].slice(0, 80)}`);
    expect(service.logs.filter((line) => line.level === "fatal" || line.level === "error")).toEqual([]);
  });
});
