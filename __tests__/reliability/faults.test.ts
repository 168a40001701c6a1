/**
 * Faults: a missing, corrupt or tampered model stops the compiled service with a clear message and a non-zero
 * exit, and readiness is never true; ONNX Runtime throwing at inference (injected through createApp's
 * dependencies) is a 500 JSON, counted in the metrics, and the service stays up; SIGTERM during load lets
 * in-flight requests finish, refuses new connections and exits 0 within the grace period.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CONFIG_SCHEMA } from "../../service/config/schema";
import type { ModelCard } from "../../service/model/card";
import type { InferenceModel, OnnxModel } from "../../service/model/onnx-model";
import { CARD_PATH, ControllableModel, MODEL_PATH, loadModelCard, loadRealModel, writeModelVersion } from "../service/helpers";
import { fixtureJpegs, type Fixture } from "./support/images";
import { errorCode, isErrorEnvelope, multipart, outcome, send, sleep, startHalfSentUpload, upload, within } from "./support/http";
import { killChildren, spawnReadyService, spawnService, startInProcess, type ChildService } from "./support/service";
import { CaseTable } from "./support/table";

jest.setTimeout(90_000);

const table = new CaseTable("faults");
table.printAfterAll();

let scratch: string;
let cat: Fixture;

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), "reliability-faults-"));
  cat = fixtureJpegs().find((fixture) => fixture.label === "cat")!;
});

afterAll(() => {
  killChildren();
  rmSync(scratch, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/**
 * A model repository of its own in the scratch directory, holding the default version with a card that names
 * `<name>.onnx`; the card's sha256 is `cardSha` (the file's by default). Returns the service's environment.
 */
function deploy(name: string, model: Buffer | undefined, cardSha?: string): Record<string, string> {
  const repository = path.join(scratch, name);
  writeModelVersion(repository, {
    version: CONFIG_SCHEMA.modelVersion.default,
    onnx: model ?? null,
    card: { file: `${name}.onnx`, ...(cardSha === undefined ? {} : { sha256: cardSha }) },
  });
  return { CLASSIFIER_MODEL_REPOSITORY: repository };
}

/** Starts the service and polls readiness until it exits; resolves with its exit code, readiness answers and logs. */
async function startExpectingFailure(env: Record<string, string>) {
  const service = await spawnService(env);
  const readiness: string[] = [];
  let exited = false;
  void service.exited.then(() => (exited = true));
  const deadline = Date.now() + 60_000;
  while (!exited && Date.now() < deadline) {
    readiness.push(
      await send(service.port, { path: "/health/ready", timeoutMs: 1_000 }).then(
        (reply) => String(reply.status),
        (error: NodeJS.ErrnoException) => error.code ?? "error",
      ),
    );
    await sleep(25);
  }
  const code = await within(service.exited, 1_000, "still running");
  const fatal = service.logs.find((line) => line.level === "fatal");
  return { code, readiness, message: String(fatal?.msg ?? service.stderr()), service };
}

describe("a bad model stops the service, never ready", () => {
  const modelBytes = () => readFileSync(MODEL_PATH);

  // [case, how to make it, the message's gist for the table, the message exactly]
  it.each([
    [
      "model file missing",
      () => deploy("missing", undefined),
      "names the file, no such file",
      /cannot read the model file .*missing\.onnx \(no such file\)/,
    ],
    [
      "model file corrupt (random bytes, card matching them)",
      () => deploy("random", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))),
      "names the file, ONNX Runtime cannot load it",
      /ONNX Runtime cannot load .*random\.onnx: .+/,
    ],
    [
      "model file truncated to half (card matching it)",
      () => deploy("truncated", modelBytes().subarray(0, modelBytes().length >> 1)),
      "names the file, ONNX Runtime cannot load it",
      /ONNX Runtime cannot load .*truncated\.onnx: .+/,
    ],
    [
      "model sha256 does not match the card (one byte changed)",
      () => {
        const tampered = Buffer.from(modelBytes());
        tampered[tampered.length - 100] ^= 0x01;
        return deploy("tampered", tampered, sha256(modelBytes()));
      },
      "names the file, both sha256s",
      /sha256 mismatch: .*tampered\.onnx has sha256 [0-9a-f]{64}, but the model card says [0-9a-f]{64}/,
    ],
  ] as const)("%s", async (name, prepare, gist, expectedMessage) => {
    const result = await startExpectingFailure(prepare());
    const everReady = result.readiness.includes("200");
    table.check(name, "exit 1, never ready", `exit ${result.code}, ${everReady ? "was ready" : "never ready"}`);
    table.note(`  its fatal log line`, gist, result.message.replace(scratch, "$TMP").slice(0, 110));
    expect(result.message).toMatch(expectedMessage);
    expect(result.service.logs.some((line) => line.msg === "ready")).toBe(false);
  });

  it("model card missing, and model card not JSON", async () => {
    // The model is named after the card file the assertions expect: <repository>/<name>/<version>/<name>.json.
    const cardless = path.join(scratch, "cardless");
    mkdirSync(path.join(cardless, "nope", CONFIG_SCHEMA.modelVersion.default), { recursive: true });
    const missing = await startExpectingFailure({ CLASSIFIER_MODEL_REPOSITORY: cardless, CLASSIFIER_MODEL_NAME: "nope" });
    table.check("model card missing", "exit 1, never ready", `exit ${missing.code}, ${missing.readiness.includes("200") ? "was ready" : "never ready"}`);
    expect(missing.message).toMatch(/Model card .*nope\.json: cannot be read \(ENOENT\)/);
    const brokenRepository = path.join(scratch, "broken-card");
    const broken = path.join(brokenRepository, "broken", CONFIG_SCHEMA.modelVersion.default, "broken.json");
    mkdirSync(path.dirname(broken), { recursive: true });
    writeFileSync(broken, "{ not json");
    const invalid = await startExpectingFailure({ CLASSIFIER_MODEL_REPOSITORY: brokenRepository, CLASSIFIER_MODEL_NAME: "broken" });
    table.check("model card not JSON", "exit 1, never ready", `exit ${invalid.code}, ${invalid.readiness.includes("200") ? "was ready" : "never ready"}`);
    expect(invalid.message).toMatch(/Model card .*broken\.json: is not valid JSON/);
  });
});

describe("ONNX Runtime throwing at inference", () => {
  let card: ModelCard;
  let real: OnnxModel;

  beforeAll(async () => {
    card = await loadModelCard(CARD_PATH);
    real = await loadRealModel(card);
  });
  afterAll(async () => {
    await real?.close();
  });

  async function counter(metrics: { registry: { metrics(): Promise<string> } }, pattern: RegExp): Promise<number> {
    const line = (await metrics.registry.metrics()).split("\n").find((l) => pattern.test(l));
    return line === undefined ? 0 : Number(line.split(" ").pop());
  }

  it("an error thrown by the session (with internal paths in its message) is a 500 JSON, counted, and the service stays up", async () => {
    const faulty = new ControllableModel(real);
    faulty.failWith = new Error(
      "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. " +
        "Name:'/stage1/conv' at /work/main/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node:1:1",
    );
    const service = await startInProcess(card, faulty);
    try {
      const single = await upload(service.port, "/predict", [{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
      table.check("ORT throws on /predict (injected model)", "500 inference_failed", outcome(single));
      expect(isErrorEnvelope(single.json)).toBe(true);
      expect(single.text).not.toMatch(/ONNXRuntimeError|onnxruntime|node_modules|Conv node/);
      const batch = await upload(service.port, "/predict/batch", [{ name: "files", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
      table.check("ORT throws on /predict/batch", "500 inference_failed", outcome(batch));

      const failedPredictions = await counter(service.metrics, /^predictions_total\{.*status="internal"/);
      const http500 = await counter(service.metrics, /^http_requests_total\{method="POST",route="\/predict",status_code="500"\}/);
      table.check('metrics: predictions_total{status="internal"}, http 500 on /predict', "2, 1", `${failedPredictions}, ${http500}`);
      const logged = service.logs.lines.filter((line) => line.msg === "request failed");
      table.check("error log lines with request id and cause", "2", String(logged.filter((l) => typeof l.request_id === "string" && l.err !== undefined).length));

      const ready = await send(service.port, { path: "/health/ready" });
      faulty.failWith = undefined;
      const recovered = await upload(service.port, "/predict", [{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
      table.check("after the fault: ready, and the next prediction", "200, 200", `${ready.status}, ${recovered.status}`);
    } finally {
      await service.close();
    }
  });

  it("a real ONNX Runtime failure in the inference thread (a tensor of the wrong size) is a 500 too", async () => {
    // Hands ONNX Runtime one float too few: the real session, on its real thread, refuses the tensor.
    const wrongSize: InferenceModel = {
      run: (batch, n) => real.run(batch.slice(0, batch.length - 1), n),
      close: async () => undefined,
    };
    const faulty = await startInProcess(card, wrongSize);
    const healthy = await startInProcess(card, real);
    try {
      const reply = await upload(faulty.port, "/predict", [{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
      table.check("real ORT error from the worker thread", "500 inference_failed", outcome(reply));
      expect(reply.text).not.toMatch(/[Tt]ensor|size|node_modules/);
      const after = await upload(healthy.port, "/predict", [{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
      table.check("the same ORT session still serves afterwards", "200", String(after.status));
    } finally {
      await faulty.close();
      await healthy.close();
    }
  });
});

describe("SIGTERM during load", () => {
  it("finishes in-flight requests, refuses new connections, exits 0 within the grace period", async () => {
    const graceMs = 8_000;
    const service: ChildService = await spawnReadyService({ CLASSIFIER_SHUTDOWN_GRACE_MS: String(graceMs), CLASSIFIER_LOG_LEVEL: "info" });
    const reference = (await upload(service.port, "/predict", [{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }])).json as {
      prediction: { index: number };
    };

    // Steady load: 4 clients, each sending predictions back to back on fresh connections until told to stop.
    let loading = true;
    const outcomes = { before: new Map<string, number>(), after: new Map<string, number>() };
    let signalledAt = Infinity;
    const loadClients = Array.from({ length: 4 }, async () => {
      while (loading) {
        const started = performance.now();
        const key = await upload(service.port, "/predict", [{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }], { timeoutMs: 15_000 }).then(
          (reply) => (reply.status === 200 ? "200" : `${reply.status} ${errorCode(reply.json)}`),
          (error: NodeJS.ErrnoException) => (error.code === "ECONNREFUSED" ? "refused" : error.code === "ECONNRESET" ? "reset before any answer" : `error ${error.message}`),
        );
        // A connection opened just before the signal may still sit in the kernel's accept queue when the
        // listener closes, and is reset unanswered: "before" counts only requests started 200 ms ahead of it.
        const bucket = started < signalledAt - 200 ? outcomes.before : outcomes.after;
        bucket.set(key, (bucket.get(key) ?? 0) + 1);
        if (key === "refused") await sleep(20);
      }
    });

    // Four uploads in flight: headers and half the body sent when SIGTERM arrives, the rest after.
    const catUpload = multipart([{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
    const inFlight = Array.from({ length: 4 }, () => startHalfSentUpload(service.port, "/predict", catUpload));

    await sleep(700);
    signalledAt = performance.now();
    service.child.kill("SIGTERM");
    await service.waitForLog((line) => typeof line.msg === "string" && line.msg.startsWith("shutting down"), 10_000);
    const probe = await send(service.port, { path: "/health/live", timeoutMs: 2_000 }).then(
      (reply) => String(reply.status),
      (error: NodeJS.ErrnoException) => error.code ?? "error",
    );
    table.check("new connection after SIGTERM", "ECONNREFUSED", probe);

    await sleep(300);
    for (const held of inFlight) held.finish();
    const answers = await Promise.all(inFlight.map((held) => held.answer));
    const correct = answers.filter((a) => a.status === 200 && (JSON.parse(a.text) as { prediction: { index: number } }).prediction.index === reference.prediction.index);
    table.check("uploads in flight at SIGTERM", "4 x 200, correct, Connection: close", `${correct.length} x 200, correct, ${answers.every((a) => a.connection === "close") ? "Connection: close" : "kept alive"}`);

    const code = await within(service.exited, graceMs + 5_000, "still running");
    const exitMs = performance.now() - signalledAt;
    loading = false;
    await Promise.all(loadClients);
    table.check("exit code", "0", String(code));
    table.note("exit after SIGTERM", `< grace (${graceMs} ms)`, `${Math.round(exitMs)} ms`);
    expect(exitMs).toBeLessThan(graceMs);
    expect(service.logs.find((line) => line.msg === "shutdown complete")?.exit_code).toBe(0);

    // Load started well before the signal was answered; load from then on was answered, or refused (connection
    // refused or reset unanswered, 503 draining), never half-served.
    const describe = (m: Map<string, number>) => [...m.entries()].sort().map(([k, n]) => `${k}×${n}`).join(", ");
    table.note("steady load before / from 200 ms before SIGTERM", "200 / 200 or refused", `${describe(outcomes.before)} / ${describe(outcomes.after)}`);
    expect([...outcomes.before.keys()]).toEqual(["200"]);
    expect([...outcomes.after.keys()].every((key) => ["refused", "reset before any answer", "503 draining", "200"].includes(key))).toBe(true);
    // And the service's own view: no request it accepted was cut off (its access log marks those aborted).
    const cut = service.logs.filter((line) => line.msg === "request" && (line.aborted === true || line.status === 499));
    table.check("requests the service accepted but did not finish", "0", String(cut.length));
  });
});
