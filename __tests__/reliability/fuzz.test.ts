/**
 * Seeded fuzzing (fast-check) of the compiled service in its own process, so a native crash in a decoder shows
 * as the process dying rather than taking the test runner with it. Four properties, each bounded in runs and
 * time: corrupted fixture JPEG/PNG bytes on /predict, random multipart bodies on both prediction routes, random
 * raw HTTP requests, and random Open Inference Protocol JSON requests. For every case: an answer (or a close) within the per-request deadline, a status
 * from the contract and never a 5xx, the JSON error shape, and the process still alive.
 *
 * Reproduce a failure with the seed printed in the table: FUZZ_SEED=<seed> npm run test:reliability.
 * FUZZ_RUNS scales the run counts (default 1).
 */
import http from "node:http";
import fc from "fast-check";
import sharp from "sharp";
import { fixtureJpegs, testPicture } from "./support/images";
import { isErrorEnvelope, multipart, outcome, rawExchange, send, type Part, type Reply } from "./support/http";
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
};
/** A case not answered within this is a hang. */
const REQUEST_DEADLINE_MS = 10_000;

const table = new CaseTable(`fuzzing (fast-check seed ${SEED})`);
table.printAfterAll();

let service: ChildService;
let agent: http.Agent;
let bases: { name: string; bytes: Buffer }[];

beforeAll(async () => {
  service = await spawnReadyService({ CLASSIFIER_HEADERS_TIMEOUT_MS: "2000", CLASSIFIER_REQUEST_TIMEOUT_MS: "4000" });
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
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
    const pixels = 3 * 32 * 32;
    // Placeholders the generator picks, expanded to real tensors and images when the body is built.
    const expand = (data: unknown): unknown => {
      switch (data) {
        case "<fp32 flat>":
          return Array.from({ length: pixels }, (_, i) => ((i % 97) - 48) / 40);
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

  it("afterwards: alive, ready, and every log line one JSON object", async () => {
    const ready = await send(service.port, { path: "/health/ready" });
    table.check("after fuzzing: process alive, ready", "alive, 200", `${alive() ? "alive" : "dead"}, ${ready.status}`);
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
