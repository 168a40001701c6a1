/**
 * The servers under test, each started fresh on a free loopback port and measured from spawn to ready.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_SCHEMA } from "../service/config/schema";
import { HTTP_CONTRACT } from "../service/contract/http";
import { freePort } from "../scripts/free-port";
import { killTree, MemorySampler, spawnLogged, type MemoryPeak } from "./processes";

export interface SystemSpec {
  /** Short id used in tables and JSON. */
  readonly id: string;
  readonly description: string;
  /** Extra environment for this system (for ours: CLASSIFIER_* overrides, UV_THREADPOOL_SIZE). */
  readonly env: Readonly<Record<string, string>>;
  readonly kind: "ours" | "peer";
}

export interface StartedSystem {
  readonly spec: SystemSpec;
  readonly url: string;
  /** host:port of ours' gRPC server (CLASSIFIER_GRPC_PORT); undefined for the peer. */
  readonly grpcAddress: string | undefined;
  readonly child: ChildProcess;
  readonly startToReadyMs: number;
  readonly memory: MemorySampler;
  readonly logPath: string;
}

export interface RunContext {
  readonly repo: string;
  /** Our service's compiled entry point. */
  readonly serviceEntry: string;
  readonly python: string;
  readonly workDir: string;
  readonly readyTimeoutMs: number;
  /** The committed model version both stacks serve (ours loads only it; the peer loads its pyramidnet.pt). */
  readonly modelVersion: string;
}

/** Ours serves `version` alone: the default policy (the newest only) would load another one once a newer exists. */
function servedVersion(version: string): Record<string, string> {
  return { [CONFIG_SCHEMA.modelVersion.name]: version, [CONFIG_SCHEMA.modelVersionPolicy.name]: `specific:${version}` };
}

export function oursSystem(id: string, env: Readonly<Record<string, string>>, description: string): SystemSpec {
  return { id, kind: "ours", env, description };
}

export const PEER: SystemSpec = {
  id: "peer",
  kind: "peer",
  env: {},
  description: "FastAPI + uvicorn (2 workers) + PyTorch eager, bench/peer/app.py",
};

const PEER_WORKERS = 2;

let started = 0;

export async function startSystem(spec: SystemSpec, ctx: RunContext): Promise<StartedSystem> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = join(ctx.workDir, `${spec.id}-${++started}.log`);
  const t0 = performance.now();
  let child: ChildProcess;
  let grpcAddress: string | undefined;
  if (spec.kind === "ours") {
    // A free port of its own for gRPC too: the default 8001 may be taken, and then the service would not start.
    const grpcPort = await freePort();
    grpcAddress = `127.0.0.1:${grpcPort}`;
    child = spawnLogged(
      process.execPath,
      [ctx.serviceEntry],
      {
        ...process.env,
        ...servedVersion(ctx.modelVersion),
        ...spec.env,
        CLASSIFIER_HOST: "127.0.0.1",
        CLASSIFIER_PORT: String(port),
        CLASSIFIER_GRPC_PORT: String(grpcPort),
      },
      ctx.repo,
      logPath,
    );
  } else {
    child = spawnLogged(
      ctx.python,
      ["-m", "uvicorn", "app:app", "--app-dir", join(ctx.repo, "bench/peer"), "--host", "127.0.0.1", "--port", String(port), "--workers", String(PEER_WORKERS)],
      // No __pycache__ beside the peer's source in the working tree.
      { ...process.env, ...spec.env, PEER_REPO: ctx.repo, PEER_MODEL_VERSION: ctx.modelVersion, PYTHONDONTWRITEBYTECODE: "1" },
      ctx.repo,
      logPath,
    );
  }
  const memory = new MemorySampler(child.pid!);
  try {
    await waitReady(spec, url, child, logPath, ctx.readyTimeoutMs);
  } catch (error) {
    memory.stop();
    await killTree(child);
    throw error;
  }
  return { spec, url, grpcAddress, child, startToReadyMs: performance.now() - t0, memory, logPath };
}

export async function stopSystem(system: StartedSystem): Promise<MemoryPeak> {
  const peak = system.memory.stop();
  await killTree(system.child);
  return peak;
}

/**
 * Ours is ready when /health/ready answers 200 (model loaded, sha256 checked, warm-up run). The peer has only
 * /health, and its two workers load independently behind one socket, so it is ready when /health answers and
 * both workers have logged uvicorn's "Application startup complete".
 */
async function waitReady(spec: SystemSpec, url: string, child: ChildProcess, logPath: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const path = spec.kind === "ours" ? HTTP_CONTRACT.probes.ready : "/health";
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${spec.id} exited (${child.exitCode ?? child.signalCode}) before it was ready; log: ${logPath}\n${tail(logPath)}`);
    }
    if ((await status(url + path)) === 200 && (spec.kind === "ours" || peerWorkersStarted(logPath) >= PEER_WORKERS)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${spec.id} was not ready within ${timeoutMs} ms; log: ${logPath}\n${tail(logPath)}`);
}

async function status(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

function peerWorkersStarted(logPath: string): number {
  try {
    return readFileSync(logPath, "utf8").split("Application startup complete").length - 1;
  } catch {
    return 0;
  }
}

function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
