/**
 * The service under test, two ways, both on 127.0.0.1 only:
 * - in process: createApp with the real model (or an injected one) behind the real HTTP server, for cases that
 *   need dependency injection or the app's metrics;
 * - as a child process: the service compiled to JavaScript and started like production (`node main.js`), for
 *   cases that need a real process: exit codes, signals, its memory, its stdout.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import net from "node:net";
import path from "node:path";
import ts from "typescript";
import { createHttpServer } from "../../../service/http/server";
import type { InferenceModel, OnnxModel } from "../../../service/model/onnx-model";
import { CARD_PATH, buildService, loadModelCard, loadRealModel, type TestService } from "../../service/helpers";
import type { ModelCard } from "../../../service/model/card";
import { LOOPBACK, send, sleep } from "./http";
import { fixtureJpegs, type Fixture } from "./images";

export const REPO = path.resolve(__dirname, "..", "..", "..");

export interface InProcessService extends TestService {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

/** The app around `model` behind the production HTTP server (timeouts, clientError answers), on a free port. */
export async function startInProcess(
  card: ModelCard,
  model: InferenceModel,
  overrides: Record<string, string> = {},
): Promise<InProcessService> {
  const service = buildService(card, model, overrides);
  const server = createHttpServer(service.app, service.config);
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    ...service,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a suite against the real model shares: its card, the model, one in-process service, and a cat JPEG. */
export interface RealService {
  card: ModelCard;
  model: OnnxModel;
  service: InProcessService;
  cat: Fixture;
}

/**
 * Loads the real model and starts one in-process service before the file's tests, and closes both after them.
 * The fields are filled in by `beforeAll`: read them inside tests and hooks, not at the top of the file.
 */
export function useRealService(): RealService {
  const real = {} as RealService; // filled in by beforeAll, before any test reads it
  beforeAll(async () => {
    real.card = await loadModelCard(CARD_PATH);
    real.model = await loadRealModel(real.card);
    real.service = await startInProcess(real.card, real.model);
    real.cat = fixtureJpegs().find((fixture) => fixture.label === "cat")!;
  });
  afterAll(async () => {
    await real.service?.close();
    await real.model?.close();
  });
  return real;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Laid out like build/ (one level below the repository root), in the git-ignored /tmp/ of the repository. */
const COMPILED = path.join(REPO, "tmp", "reliability-build");
let compiledMain: string | undefined;

/**
 * service/**\/*.ts compiled to CommonJS, file by file (no type check: `npm run typecheck` does that), into a
 * git-ignored directory inside the repository, so the compiled files find node_modules and package.json as
 * build/ does. Built from the current sources, so a stale build/ can never be what the suite tests.
 */
export function compileService(): string {
  if (compiledMain !== undefined) return compiledMain;
  const compilerOptions: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    resolveJsonModule: true,
    strict: true,
  };
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return walk(full);
      return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
    });
  for (const source of walk(path.join(REPO, "service"))) {
    const { outputText } = ts.transpileModule(readFileSync(source, "utf8"), { compilerOptions, fileName: source });
    const target = path.join(COMPILED, path.relative(REPO, source)).replace(/\.ts$/, ".js");
    if (existsSync(target) && readFileSync(target, "utf8") === outputText) continue;
    mkdirSync(path.dirname(target), { recursive: true });
    // Test files run in parallel workers may compile at once: a rename is atomic, a half-written file never seen.
    const partial = `${target}.${process.pid}.tmp`;
    writeFileSync(partial, outputText);
    renameSync(partial, target);
  }
  compiledMain = path.join(COMPILED, "service", "main.js");
  return compiledMain;
}

export interface ChildService {
  readonly child: ChildProcess;
  readonly port: number;
  /** CLASSIFIER_GRPC_PORT, free like `port`. */
  readonly grpcPort: number;
  /** Every stdout line, as written. */
  readonly stdoutLines: string[];
  /** stdout lines that parsed as JSON objects. */
  readonly logs: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resident set size in bytes, from the kernel. */
  rssBytes(): number;
}

const children: ChildProcess[] = [];

/** Kills every child a test file started that is still running; call from afterAll / afterEach. */
export function killChildren(): void {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/**
 * Starts the compiled service as `node main.js` from the repository root, on a free loopback port, with the
 * given CLASSIFIER_* variables (and nothing else from this environment).
 */
export async function spawnService(env: Record<string, string> = {}): Promise<ChildService> {
  const main = compileService();
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(process.execPath, [main], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? "",
      CLASSIFIER_HOST: LOOPBACK,
      CLASSIFIER_PORT: String(port),
      CLASSIFIER_GRPC_PORT: String(grpcPort),
      CLASSIFIER_ENVIRONMENT: "test",
      // The machine is shared with a training job: one ONNX Runtime thread.
      CLASSIFIER_ORT_INTRA_OP_THREADS: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const stdoutLines: string[] = [];
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let pending = "";
  child.stdout!.setEncoding("utf8").on("data", (data: string) => {
    pending += data;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (line.length === 0) continue;
      stdoutLines.push(line);
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) logs.push(parsed as Record<string, unknown>);
      } catch {
        // Kept in stdoutLines; the log-forging case asserts every line parses.
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (stderr += data));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    port,
    grpcPort,
    stdoutLines,
    logs,
    stderr: () => stderr,
    exited,
    async waitForLog(predicate, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = logs.find(predicate);
        if (found !== undefined) return found;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the service exited (${child.exitCode ?? child.signalCode}) first; stderr: ${stderr}; stdout: ${stdoutLines.join("\n")}`);
        }
        if (Date.now() > end) throw new Error(`log line not seen within ${timeoutMs} ms; stderr: ${stderr}`);
        await sleep(50);
      }
    },
    rssBytes: () => rssOf(child.pid!),
  };
}

/** A child started and answering readiness 200 (polled, whatever its log level). */
export async function spawnReadyService(env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ChildService> {
  const service = await spawnService(env);
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      throw new Error(`the service exited (${service.child.exitCode ?? service.child.signalCode}) before it was ready; stderr: ${service.stderr()}; stdout: ${service.stdoutLines.join("\n")}`);
    }
    const status = await send(service.port, { path: "/health/ready", timeoutMs: 2_000 }).then(
      (reply) => reply.status,
      () => 0,
    );
    if (status === 200) return service;
    if (Date.now() > end) throw new Error(`not ready within ${timeoutMs} ms; stderr: ${service.stderr()}`);
    await sleep(100);
  }
}

function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (match !== null) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: ask ps.
  }
  return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim()) * 1024;
}

export const MiB = 1024 * 1024;
