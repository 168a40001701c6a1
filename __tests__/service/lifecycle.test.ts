/**
 * Start-up and shutdown of the real process (spawned with ts-node on a loopback port): bad configuration and a
 * missing model stop it with a clear message; SIGTERM lets an in-flight request finish, refuses new
 * connections, and exits 0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { status as Status } from "@grpc/grpc-js";
import { CONFIG_SCHEMA } from "../../service/config/schema";
import { Lifecycle } from "../../service/lifecycle/lifecycle";
import { createShutdown } from "../../service/lifecycle/shutdown";
import { GrpcInferenceClient } from "../../service/protocols/grpc/client";
import pino from "pino";
import { FIXTURES, REPO, writeModelVersion } from "./helpers";

jest.setTimeout(60_000);

interface RunningService {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

const started: ChildProcess[] = [];

afterEach(() => {
  // A failed test must not leave its service running.
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function startService(env: Record<string, string>): RunningService {
  const child = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", path.join("service", "main.ts")], {
    cwd: REPO,
    // gRPC off unless a test gives it a free port: the default 8001 may be taken on a shared machine.
    env: { PATH: process.env.PATH ?? "", CLASSIFIER_HOST: "127.0.0.1", CLASSIFIER_ENVIRONMENT: "test", CLASSIFIER_GRPC_ENABLED: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let pending = "";
  const waiters: (() => void)[] = [];
  child.stdout!.setEncoding("utf8").on("data", (data: string) => {
    pending += data;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
    waiters.splice(0).forEach((wake) => wake());
  });
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (stderr += data));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    async waitForLog(predicate, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = logs.find(predicate);
        if (found !== undefined) return found;
        if (Date.now() > end || child.exitCode !== null) throw new Error(`log line not seen; stderr: ${stderr}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

describe("start-up failures", () => {
  it("refuses a bad configuration value, naming the variable and the allowed values, exit 1", async () => {
    const service = startService({ CLASSIFIER_PORT: "eighty", CLASSIFIER_LOG_LEVEL: "chatty" });
    expect(await service.exited).toBe(1);
    expect(service.stderr()).toContain('CLASSIFIER_PORT="eighty": expected an integer from 1 to 65535');
    expect(service.stderr()).toContain('CLASSIFIER_LOG_LEVEL="chatty": expected one of trace, debug, info');
  });

  it("stops with a clear message when the model file is missing, never ready", async () => {
    const port = await freePort();
    // A repository whose card names an ONNX file that is not there.
    const repository = mkdtempSync(path.join(os.tmpdir(), "lifecycle-missing-model-"));
    const version = writeModelVersion(repository, { version: CONFIG_SCHEMA.modelVersion.default, onnx: null, card: { file: "missing.onnx" } });
    const service = startService({ CLASSIFIER_PORT: String(port), CLASSIFIER_MODEL_REPOSITORY: repository });
    expect(await service.exited).toBe(1);
    rmSync(repository, { recursive: true, force: true });
    const fatal = service.logs.find((l) => l.level === "fatal");
    expect(fatal?.msg).toContain(`cannot read the model file ${path.join(version, "missing.onnx")} (no such file)`);
    expect(service.logs.some((l) => l.msg === "ready")).toBe(false);
    await expect(get(port, "/health/ready")).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("start-up with several model versions", () => {
  it("loads every version the policy selects before it is ready, and logs them", async () => {
    const port = await freePort();
    const service = startService({ CLASSIFIER_PORT: String(port), CLASSIFIER_MODEL_VERSION_POLICY: "all", CLASSIFIER_LOG_LEVEL: "info" });
    const ready = await service.waitForLog((l) => l.msg === "ready");
    expect(ready.model).toMatchObject({
      name: "pyramidnet",
      default_version: "1.1.0",
      policy: "all",
      repository_versions: ["1.0.0", "1.1.0"],
      loaded: [
        { version: "1.0.0", sha256: expect.stringMatching(/^2fe162ff/) },
        { version: "1.1.0", sha256: expect.stringMatching(/^4d6a53ab/) },
      ],
    });
    expect((await get(port, "/v2/models/pyramidnet/versions/1.0.0/ready")).status).toBe(200);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
  });

  it("stops with a message when the policy names a version the repository does not hold, never ready", async () => {
    const port = await freePort();
    const service = startService({
      CLASSIFIER_PORT: String(port),
      CLASSIFIER_MODEL_VERSION_POLICY: "specific:1.1.0,3.0.0",
    });
    expect(await service.exited).toBe(1);
    const fatal = service.logs.find((l) => l.level === "fatal");
    expect(fatal?.msg).toContain("CLASSIFIER_MODEL_VERSION_POLICY=specific:1.1.0,3.0.0 names 3.0.0, but models/pyramidnet holds versions 1.0.0, 1.1.0.");
    expect(service.logs.some((l) => l.msg === "ready")).toBe(false);
  });
});

describe("graceful shutdown of the real process", () => {
  it("on SIGTERM finishes the in-flight request, refuses new connections, and exits 0", async () => {
    const port = await freePort();
    const service = startService({ CLASSIFIER_PORT: String(port), CLASSIFIER_SHUTDOWN_GRACE_MS: "15000" });
    await service.waitForLog((l) => l.msg === "ready");
    expect((await get(port, "/health/ready")).status).toBe(200);

    // An upload in progress: headers and half the body sent, the rest after SIGTERM.
    const image = readFileSync(path.join(FIXTURES, "cifar10", "cat", "0000.jpg"));
    const boundary = "----shutdown-test";
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cat.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      image,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    let inFlight: http.ClientRequest | undefined;
    const response = new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/predict",
          agent: false,
          headers: { "Content-Type": `multipart/form-data; boundary=${boundary}`, "Content-Length": body.length },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
        },
      );
      req.on("error", reject);
      req.write(body.subarray(0, body.length / 2));
      inFlight = req;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    service.child.kill("SIGTERM");
    await service.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("shutting down"));
    await expect(get(port, "/health/live")).rejects.toThrow(/ECONNREFUSED/);

    inFlight!.end(body.subarray(body.length / 2));
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).prediction.label).toEqual(expect.any(String));
    expect(answer.connection).toBe("close");

    expect(await service.exited).toBe(0);
    expect(service.logs.find((l) => l.msg === "shutdown complete")?.exit_code).toBe(0);
  });
});

describe("graceful shutdown of the real process with gRPC on", () => {
  it("serves gRPC on CLASSIFIER_GRPC_PORT; on SIGTERM an open health Watch reports NOT_SERVING and ends, and it exits 0 well inside the grace", async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    const service = startService({
      CLASSIFIER_PORT: String(port),
      CLASSIFIER_GRPC_ENABLED: "true",
      CLASSIFIER_GRPC_PORT: String(grpcPort),
      CLASSIFIER_SHUTDOWN_GRACE_MS: "15000",
    });
    expect((await service.waitForLog((l) => l.msg === "ready")).grpc_port).toBe(grpcPort);
    const client = new GrpcInferenceClient(`127.0.0.1:${grpcPort}`);
    try {
      expect((await client.check("")).response).toEqual({ status: "SERVING" });
      const statuses: string[] = [];
      const stream = client.watch("");
      const ended = new Promise<void>((resolve, reject) => {
        stream.on("data", (message: { status: string }) => statuses.push(message.status));
        stream.on("end", () => resolve());
        stream.on("error", reject);
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const signalled = Date.now();
      service.child.kill("SIGTERM");
      await ended;
      expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
      expect(await service.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect((await client.check("", { deadlineMs: 2000 })).error?.code).toBe(Status.UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});

describe("createShutdown", () => {
  it("turns readiness off at once, and cuts connections when the grace period ends (exit 1)", async () => {
    const lifecycle = new Lifecycle();
    lifecycle.markReady();
    // A server whose only request never finishes.
    const server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const stuck = get(port, "/").catch((error: Error) => error.message);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const exits: number[] = [];
    const shutdown = createShutdown({ server, lifecycle, logger: pino({ level: "silent" }), graceMs: 200, exit: (code) => exits.push(code) });
    const done = shutdown("test");
    expect(lifecycle.ready).toBe(false);
    expect(lifecycle.draining).toBe(true);
    expect(await done).toBe(1);
    expect(exits).toEqual([1]);
    expect(await stuck).toMatch(/socket hang up|ECONNRESET/);
  });
});
