/**
 * One benchmark cell: a fresh server, a correctness check, a warm-up, a measured load, then the server is killed.
 */
import { join } from "node:path";
import type { BenchImage, ImageSet } from "./images";
import { runLoad, type LoadGenerator, type LoadResult } from "./load";
import { machineBusySeconds, processCpuSeconds, processTree, type MemoryPeak } from "./processes";
import { breakdown, scrapeMetrics, type StageBreakdown } from "./server-metrics";
import { startSystem, stopSystem, type RunContext, type SystemSpec } from "./systems";

export interface CellSpec {
  readonly system: SystemSpec;
  readonly set: ImageSet;
  readonly concurrency: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** Also post every image once and keep the top-1 labels (for cross-system agreement). */
  readonly collectPredictions: boolean;
}

export interface CellResult {
  readonly system: string;
  readonly set: string;
  readonly concurrency: number;
  readonly load: LoadResult;
  readonly startToReadyMs: number;
  readonly memory: MemoryPeak;
  /** CPU seconds the server's process tree used during the measured load. */
  readonly serverCpuSeconds: number;
  /** Server CPU milliseconds per successful request. */
  readonly cpuMsPerRequest: number;
  /**
   * Cores each process of the server's tree kept busy during the measured window, busiest first: shows whether
   * a pre-fork server spread its connections over its workers (the peer's 2 uvicorn workers share one socket).
   */
  readonly processCores: readonly number[];
  /**
   * Cores kept busy during the measured window by anything but the server and the load generator (other jobs
   * on the machine, the bench itself): near 0 on a quiet machine; large values make the cell suspect.
   */
  readonly backgroundCores: number;
  /** Ours only: mean batch size and stage times during the measured window, from the service's /metrics. */
  readonly stages?: StageBreakdown;
  readonly predictions?: readonly string[];
}

interface PredictResponse {
  readonly prediction?: { readonly label?: string };
}

/** Posts an image once, as a client would; returns the top-1 label, or throws with the server's answer. */
export async function predictOnce(url: string, image: BenchImage): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([image.data], { type: "image/jpeg" }), image.name.split("/").pop());
  const res = await fetch(`${url}/predict`, { method: "POST", body: form, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: PredictResponse | undefined;
  try {
    body = JSON.parse(text) as PredictResponse;
  } catch {
    body = undefined;
  }
  const label = body?.prediction?.label;
  if (res.status !== 200 || typeof label !== "string") {
    throw new Error(`POST /predict with ${image.name} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return label;
}

export async function runCell(cell: CellSpec, ctx: RunContext, generator: LoadGenerator): Promise<CellResult> {
  const server = await startSystem(cell.system, ctx);
  let stopped = false;
  try {
    // Every cell proves the server answers correctly before it is timed; a broken server fails the run.
    const predictions: string[] = [];
    const checked = cell.collectPredictions ? cell.set.images : cell.set.images.slice(0, 1);
    for (const image of checked) predictions.push(await predictOnce(server.url, image));

    const spec = {
      url: `${server.url}/predict`,
      images: cell.set.images,
      connections: cell.concurrency,
      timeoutSeconds: 10,
      workDir: join(ctx.workDir, `load-${cell.set.id}`),
    };
    if (cell.warmupSeconds > 0) await runLoad(generator, { ...spec, durationSeconds: cell.warmupSeconds });
    const pid = server.child.pid!;
    const metricsBefore = cell.system.kind === "ours" ? await scrapeMetrics(server.url) : undefined;
    const pids = processTree(pid);
    const cpuBefore = pids.map(processCpuSeconds);
    const busyBefore = machineBusySeconds();
    const load = await runLoad(generator, { ...spec, durationSeconds: cell.durationSeconds });
    const perProcess = pids.map((p, i) => processCpuSeconds(p) - cpuBefore[i]);
    const busy = machineBusySeconds() - busyBefore;
    const serverCpuSeconds = perProcess.reduce((a, b) => a + b, 0);
    const metricsAfter = metricsBefore ? await scrapeMetrics(server.url) : undefined;
    const ok = load.requestsPerSecond * load.durationSeconds;
    const memory = await stopSystem(server);
    stopped = true;
    return {
      system: cell.system.id,
      set: cell.set.id,
      concurrency: cell.concurrency,
      load,
      startToReadyMs: server.startToReadyMs,
      memory,
      serverCpuSeconds,
      cpuMsPerRequest: ok > 0 ? (serverCpuSeconds * 1000) / ok : 0,
      processCores: perProcess.map((s) => s / load.durationSeconds).sort((a, b) => b - a),
      backgroundCores: Math.max(0, busy - serverCpuSeconds - load.generatorCpuSeconds) / load.durationSeconds,
      ...(metricsBefore && metricsAfter ? { stages: breakdown(metricsBefore, metricsAfter) } : {}),
      ...(cell.collectPredictions ? { predictions } : {}),
    };
  } finally {
    if (!stopped) await stopSystem(server);
  }
}
