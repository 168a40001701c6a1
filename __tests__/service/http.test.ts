/**
 * The HTTP contract of issue 2, endpoint by endpoint and error by error, against the real model.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
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
} from "./helpers";

let card: ModelCard;
let golden: Golden;
let model: OnnxModel;
let service: TestService;

beforeAll(async () => {
  card = await loadModelCard(CARD_PATH);
  golden = loadGolden();
  model = await loadRealModel(card);
  service = buildService(card, model);
});

afterAll(async () => {
  await model.close();
});

const cat = () => golden.images.find((image) => image.label === "cat")!;
const argmax = (i: number) => {
  const row = golden.logits.subarray(i * card.labels.length, (i + 1) * card.labels.length);
  return row.indexOf(Math.max(...row));
};

function expectError(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
  expect(res.body.error.message.length).toBeGreaterThan(10);
  expect(res.headers["x-request-id"]).toEqual(expect.any(String));
  expect(res.text).not.toMatch(/\bat .+\.(js|ts):\d+|\/work\/|node_modules/);
}

describe("POST /predict", () => {
  it("classifies a JPEG with the exact response shape", async () => {
    const image = cat();
    const res = await request(service.app).post("/predict").attach("file", image.bytes, "cat.jpg");
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["latency_ms", "model", "prediction", "top_k"]);
    const expected = argmax(golden.images.indexOf(image));
    expect(res.body.prediction).toEqual({ label: card.labels[expected], index: expected, confidence: expect.any(Number) });
    expect(res.body.top_k).toHaveLength(5);
    expect(res.body.top_k[0]).toEqual({ label: res.body.prediction.label, index: expected, probability: res.body.prediction.confidence });
    const probabilities = res.body.top_k.map((s: { probability: number }) => s.probability);
    expect([...probabilities].sort((a, b) => b - a)).toEqual(probabilities);
    expect(res.body.model).toEqual({ name: card.name, version: card.version });
    expect(res.body.latency_ms).toBeGreaterThan(0);
  });

  it("returns top_k classes when asked", async () => {
    for (const k of [1, 3, 10]) {
      const res = await request(service.app).post(`/predict?top_k=${k}`).attach("file", cat().bytes, "cat.jpg");
      expect(res.status).toBe(200);
      expect(res.body.top_k).toHaveLength(k);
    }
  });

  it.each(["0", "11", "abc", "2.5", "-1", "1&top_k=2"])("refuses top_k=%s with 400", async (value) => {
    const res = await request(service.app).post(`/predict?top_k=${value}`).attach("file", cat().bytes, "cat.jpg");
    expectError(res, 400, "invalid_top_k");
  });

  it("refuses a multipart body without the file field", async () => {
    const res = await request(service.app).post("/predict").field("note", "no file here");
    expectError(res, 400, "missing_file");
  });

  it("refuses a file in another field", async () => {
    const res = await request(service.app).post("/predict").attach("image", cat().bytes, "cat.jpg");
    expectError(res, 400, "unexpected_file");
  });

  it("refuses two files", async () => {
    const res = await request(service.app)
      .post("/predict")
      .attach("file", cat().bytes, "a.jpg")
      .attach("file", cat().bytes, "b.jpg");
    expectError(res, 400, "unexpected_file");
  });

  it("refuses a body that is not multipart, and an empty body", async () => {
    expectError(await request(service.app).post("/predict").send({ file: "x" }), 400, "expected_multipart");
    expectError(await request(service.app).post("/predict"), 400, "expected_multipart");
  });

  it("refuses a malformed multipart body", async () => {
    const res = await request(service.app)
      .post("/predict")
      .set("Content-Type", "multipart/form-data; boundary=XYZ")
      .send("--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\nabc");
    expectError(res, 400, "malformed_multipart");
  });

  it("answers 415 for bytes that are not an image, and for SVG", async () => {
    expectError(await request(service.app).post("/predict").attach("file", Buffer.from("plain text"), "fake.jpg"), 415, "unsupported_image");
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><image href="http://example.com/x.png"/></svg>');
    expectError(await request(service.app).post("/predict").attach("file", svg, "x.svg"), 415, "unsupported_image");
  });

  it("accepts PNG, WebP, GIF, TIFF and AVIF", async () => {
    const source = sharp(cat().bytes);
    for (const format of ["png", "webp", "gif", "tiff", "avif"] as const) {
      const bytes = await source.clone().toFormat(format).toBuffer();
      const res = await request(service.app).post("/predict").attach("file", bytes, `cat.${format}`);
      expect([format, res.status]).toEqual([format, 200]);
    }
  });
});

describe("limits", () => {
  let small: TestService;
  beforeAll(() => {
    small = buildService(card, model, { CLASSIFIER_MAX_REQUEST_SIZE: "65536", CLASSIFIER_MAX_IMAGE_PIXELS: "1000" });
  });

  it("answers 422 for an image with more pixels than allowed", async () => {
    const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: "#888" } }).png().toBuffer();
    expectError(await request(small.app).post("/predict").attach("file", png, "big.png"), 422, "image_too_large");
  });

  it("answers 413 from Content-Length, before reading the body, and closes the connection", async () => {
    const { status, headers, body } = await rawUpload(small.app, { declaredLength: true, bodyBytes: 200_000 });
    expect(status).toBe(413);
    expect(headers.connection).toBe("close");
    expect(JSON.parse(body)).toEqual({ error: { code: "payload_too_large", message: expect.any(String) } });
  });

  it("answers 413 while a chunked body streams in, without reading it to the end", async () => {
    // 64 MiB offered in 64 KiB chunks; the service must stop after ~64 KiB, answer, and close.
    const result = await rawUpload(small.app, { declaredLength: false, bodyBytes: 64 * 1024 * 1024 });
    expect(result.status).toBe(413);
    expect(result.headers.connection).toBe("close");
    expect(JSON.parse(result.body).error.code).toBe("payload_too_large");
    expect(result.bytesWritten).toBeLessThan(16 * 1024 * 1024);
  });
});

describe("POST /predict/batch", () => {
  it("answers one result per file, in order, and a bad file does not fail the others", async () => {
    const [first, second] = [golden.images[0], golden.images[55]];
    const res = await request(service.app)
      .post("/predict/batch?top_k=2")
      .attach("files", first.bytes, "first.jpg")
      .attach("files", Buffer.from("not an image"), "notes.txt")
      .attach("files", second.bytes, "chat-é-猫.jpg");
    expect(res.status).toBe(200);
    expect(res.body.model).toEqual({ name: card.name, version: card.version });
    const [a, b, c] = res.body.results;
    expect(res.body.results).toHaveLength(3);
    expect(a.filename).toBe("first.jpg");
    expect(a.prediction.index).toBe(argmax(0));
    expect(a.top_k).toHaveLength(2);
    expect(b).toEqual({ filename: "notes.txt", error: { code: "unsupported_image", message: expect.any(String) } });
    expect(c.filename).toBe("chat-é-猫.jpg");
    expect(c.prediction.index).toBe(argmax(55));
  });

  it("refuses more files than the configured maximum", async () => {
    const few = buildService(card, model, { CLASSIFIER_MAX_BATCH_FILES: "2" });
    let req = request(few.app).post("/predict/batch");
    for (let i = 0; i < 3; i++) req = req.attach("files", cat().bytes, `${i}.jpg`);
    expectError(await req, 400, "unexpected_file");
  });

  it("refuses a request without files", async () => {
    expectError(await request(service.app).post("/predict/batch").field("x", "y"), 400, "missing_file");
  });
});

describe("probes", () => {
  it.each(["/health/live", "/livez", "/health/ready", "/readyz", "/health/startup", "/healthz"])("%s answers 200 when ready", async (path) => {
    const res = await request(service.app).get(path);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: expect.stringMatching(/^(alive|ready|started)$/) });
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it("before the model is ready: readiness, startup and predictions answer 503 with Retry-After; liveness 200", async () => {
    const starting = buildService(card, model, {}, { ready: false });
    for (const path of ["/health/ready", "/readyz", "/health/startup", "/healthz"]) {
      const res = await request(starting.app).get(path);
      expect(res.status).toBe(503);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      expect(res.body.status).toBe("starting");
    }
    expect((await request(starting.app).get("/health/live")).status).toBe(200);
    const res = await request(starting.app).post("/predict").attach("file", cat().bytes, "cat.jpg");
    expectError(res, 503, "not_ready");
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("while draining: readiness and predictions answer 503 with Retry-After and close connections", async () => {
    const draining = buildService(card, model);
    draining.lifecycle.startDraining();
    const ready = await request(draining.app).get("/health/ready");
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe("draining");
    expect((await request(draining.app).get("/health/startup")).status).toBe(200);
    const res = await request(draining.app).post("/predict").attach("file", cat().bytes, "cat.jpg");
    expectError(res, 503, "draining");
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.headers.connection).toBe("close");
  });
});

describe("overload, timeouts and faults", () => {
  it("answers 503 with Retry-After beyond the concurrency limit, before reading the upload", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 300;
    const limited = buildService(card, slow, { CLASSIFIER_MAX_CONCURRENT_REQUESTS: "1" });
    const first = request(limited.app).post("/predict").attach("file", cat().bytes, "a.jpg").then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The limit is one budget for every prediction route.
    const second = await request(limited.app).post("/predict/batch").attach("files", cat().bytes, "b.jpg");
    expectError(second, 503, "overloaded");
    expect(second.headers["retry-after"]).toBe("1");
    expect((await first).status).toBe(200);
  });

  it("answers 503 with Retry-After when the inference queue is full", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 300;
    const tiny = buildService(card, slow, {
      CLASSIFIER_MAX_QUEUE: "1",
      CLASSIFIER_MAX_BATCH_FILES: "1",
      CLASSIFIER_BATCH_MAX_SIZE: "1",
      CLASSIFIER_BATCH_MAX_DELAY_MS: "0",
    });
    const send = () => request(tiny.app).post("/predict").attach("file", cat().bytes, "a.jpg").then((r) => r);
    const running = send();
    await until(() => slow.batchSizes.length === 1);
    const queued = send();
    await until(() => tiny.pipeline.queueDepth === 1);
    const refused = await send();
    expectError(refused, 503, "overloaded");
    expect(refused.body.error.message).toMatch(/queue is full/);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
  });

  it("answers 504 when the prediction misses its deadline, queueing included", async () => {
    const slow = new ControllableModel(model);
    slow.delayMs = 500;
    const hurried = buildService(card, slow, { CLASSIFIER_PREDICTION_TIMEOUT_MS: "100" });
    const res = await request(hurried.app).post("/predict").attach("file", cat().bytes, "a.jpg");
    expectError(res, 504, "prediction_timeout");
    const counted = await hurried.metrics.predictionsTotal.get();
    expect(counted.values.find((v) => v.labels.status === "timeout")?.value).toBe(1);
  });

  it("answers 500 JSON when inference throws, counts it, and keeps serving", async () => {
    const faulty = new ControllableModel(model);
    faulty.failWith = new Error("ORT failure at /work/secret/path.cc:42");
    const broken = buildService(card, faulty);
    const res = await request(broken.app).post("/predict").attach("file", cat().bytes, "a.jpg");
    expectError(res, 500, "inference_failed");
    expect(res.text).not.toContain("secret");
    const counted = await broken.metrics.predictionsTotal.get();
    expect(counted.values.find((v) => v.labels.status === "internal")?.value).toBe(1);
    faulty.failWith = undefined;
    expect((await request(broken.app).post("/predict").attach("file", cat().bytes, "a.jpg")).status).toBe(200);
    expect(broken.logs.lines.some((l) => l.msg === "request failed" && l.level === 50)).toBe(true);
  });

  it("answers 429 with Retry-After beyond the per-client rate limit", async () => {
    const limited = buildService(card, model, { CLASSIFIER_RATE_LIMIT_PER_MINUTE: "2" });
    for (let i = 0; i < 2; i++) expect((await request(limited.app).post("/predict").attach("file", cat().bytes, "a.jpg")).status).toBe(200);
    const res = await request(limited.app).post("/predict").attach("file", cat().bytes, "a.jpg");
    expectError(res, 429, "rate_limited");
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    expect((await request(limited.app).get("/health/ready")).status).toBe(200);
  });
});

describe("routing", () => {
  it("answers 404 JSON for an unknown route", async () => {
    expectError(await request(service.app).get("/nope"), 404, "not_found");
    expectError(await request(service.app).post("/predict/nope"), 404, "not_found");
  });

  it.each([
    ["get", "/predict", "POST"],
    ["put", "/predict/batch", "POST"],
    ["post", "/health/ready", "GET, HEAD"],
    ["delete", "/metrics", "GET, HEAD"],
    ["post", "/openapi.json", "GET, HEAD"],
  ] as const)("answers 405 to %s %s with Allow: %s", async (method, path, allow) => {
    const res = await request(service.app)[method](path);
    expectError(res, 405, "method_not_allowed");
    expect(res.headers.allow).toBe(allow);
  });
});

describe("request ids, headers and logs", () => {
  it("echoes a sane X-Request-Id and replaces one that is not", async () => {
    const echoed = await request(service.app).get("/health/live").set("X-Request-Id", "trace-42.abc");
    expect(echoed.headers["x-request-id"]).toBe("trace-42.abc");
    for (const bad of ["has space", "x".repeat(200), "quote\"d"]) {
      const replaced = await request(service.app).get("/health/live").set("X-Request-Id", bad);
      expect(replaced.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("sends security headers", async () => {
    const res = await request(service.app).get("/health/live");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["x-powered-by"]).toBeUndefined();
  });

  it("answers CORS only for configured origins", async () => {
    const open = buildService(card, model, { CLASSIFIER_CORS_ORIGINS: "https://app.example.com" });
    const allowed = await request(open.app).get("/health/live").set("Origin", "https://app.example.com");
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    const other = await request(open.app).get("/health/live").set("Origin", "https://evil.example.com");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await request(open.app)
      .options("/predict")
      .set("Origin", "https://app.example.com")
      .set("Access-Control-Request-Method", "POST");
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-methods"]).toContain("POST");
    const closed = await request(service.app).get("/health/live").set("Origin", "https://app.example.com");
    expect(closed.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("logs one JSON line per request, which user input cannot break or forge", async () => {
    const logged = buildService(card, model);
    const forged = 'x.jpg"\n{"level":60,"msg":"forged"}';
    await request(logged.app).post("/predict/batch").attach("files", cat().bytes, forged);
    await request(logged.app).get("/nope%0A%7B%22level%22:60%7D").set("X-Request-Id", "req-1");
    await request(logged.app).get("/health/ready").set("X-Request-Id", "req-2");
    const requests = logged.logs.lines.filter((l) => l.msg === "request");
    expect(requests).toHaveLength(3);
    expect(logged.logs.lines.some((l) => l.msg === "forged" || l.level === 60)).toBe(false);
    expect(requests.map((l) => [l.method, l.route, l.status])).toEqual([
      ["POST", "/predict/batch", 200],
      ["GET", "unmatched", 404],
      ["GET", "/health/ready", 200],
    ]);
    expect(requests[2].request_id).toBe("req-2");
    for (const line of requests) expect(line.latency_ms).toEqual(expect.any(Number));
  });
});

describe("documentation", () => {
  it("serves an OpenAPI 3 document of every endpoint, errors included", async () => {
    const res = await request(service.app).get("/openapi.json");
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ["/predict", "/predict/batch", "/health/live", "/health/ready", "/health/startup", "/livez", "/readyz", "/healthz", "/metrics", "/openapi.json", "/docs"]) {
      expect(doc.paths).toHaveProperty([path]);
    }
    expect(Object.keys(doc.paths["/predict"].post.responses).sort()).toEqual(["200", "400", "404", "405", "413", "415", "422", "429", "500", "503", "504"]);
    expect(doc.components.schemas.Label.enum).toEqual(card.labels);
    // Every $ref resolves.
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/[^"]+"/g) ?? [];
    for (const ref of refs) {
      const target = ref.slice(9, -1).split("/").slice(1).reduce((node: Record<string, unknown> | undefined, key) => node?.[key] as Record<string, unknown>, doc);
      expect([ref, target !== undefined]).toEqual([ref, true]);
    }
  });

  it("serves Swagger UI from local assets, pointed at /openapi.json", async () => {
    const page = await request(service.app).get("/docs");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources.every((s) => s.startsWith("/docs/"))).toBe(true);
    for (const source of sources) {
      const asset = await request(service.app).get(source);
      expect([source, asset.status]).toEqual([source, 200]);
    }
    const init = await request(service.app).get("/docs/init.js");
    expect(init.text).toContain('url: "/openapi.json"');
    expect((await request(service.app).get("/docs/assets/index.html")).status).toBe(404);
    expect((await request(service.app).get("/docs/assets/..%2Fpackage.json")).status).toBe(404);
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  bytesWritten: number;
}

/**
 * Uploads a multipart body of `bodyBytes` through a real socket, with or without Content-Length, writing only
 * as fast as the server reads; stops writing once the response arrives or the socket closes.
 */
async function rawUpload(app: http.RequestListener, options: { declaredLength: boolean; bodyBytes: number }): Promise<RawResult> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const boundary = "----limit-test";
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const total = head.length + options.bodyBytes + tail.length;
  try {
    return await new Promise<RawResult>((resolve, reject) => {
      const req = http.request({
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/predict",
        headers: {
          "Content-Type": `multipart/form-data; boundary=${boundary}`,
          ...(options.declaredLength ? { "Content-Length": String(total) } : {}),
        },
      });
      let bytesWritten = 0;
      let stopped = false;
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        if (stopped) return;
        if (bytesWritten === 0) {
          bytesWritten += head.length;
          if (!req.write(head)) return void req.once("drain", pump);
        }
        while (!stopped && bytesWritten < head.length + options.bodyBytes) {
          bytesWritten += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        if (!stopped) req.end(tail);
      };
      req.on("response", (res) => {
        stopped = true;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, bytesWritten }));
        res.on("error", reject);
      });
      req.on("error", (error) => {
        if (!stopped) reject(error);
      });
      req.on("close", () => {
        stopped = true;
      });
      pump();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
