/**
 * The throughput benchmark: ours (batching on and off) against the peer (FastAPI + uvicorn + PyTorch) and the
 * raw ONNX Runtime limit, on the same machine and the same images. See bench/README.md.
 *
 *   npm run bench                      # the full matrix, writes bench/results/results.{md,json} (about 12 min)
 *   npm run bench -- --quick           # a smoke run: 2 s cells, c=8, CIFAR only -> bench/results/quick.*
 *   npm run bench -- --tune            # tuning matrix of our service's settings -> bench/results/tuning.*
 *   npm run bench -- --protocols       # REST JSON, REST binary, gRPC at batch 1 and 32 -> bench/results/protocols.*
 *   options: --duration S --warmup S --concurrency 1,8,32,64 --sets cifar,640x480,1920x1080
 *            --systems ours-batching,ours-no-batching,peer --generator wrk|autocannon --name NAME
 *            --service path/to/main.js   (A/B a modified build of ours; default build/service/main.js)
 *            --variants "defaults,intra-op 1"   (with --tune: only these rows)
 *            --model-version 1.2.0   (serve another committed version on both stacks; default: CLASSIFIER_MODEL_VERSION's
 *                                     default; a version named here adds "-<version>" to the default output name)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { cliOptions } from "../scripts/cli-options";
import { CONFIG_SCHEMA } from "../service/config/schema";
import { committedVersionFiles } from "../service/model/repository";
import { runCell, type CellResult } from "./cell";
import { loadCifarJpegs, meanBytes, photoSet, type ImageSet } from "./images";
import { wrkAvailable, type LoadGenerator } from "./load";
import type { OrtLimitReport } from "./ort-limit";
import { killAll, onInterrupt, spawnTracked } from "./processes";
import { runProtocols } from "./protocol-run";
import { cellOf, renderMarkdown, type BenchResults, type Target } from "./report";
import { oursSystem, PEER, type RunContext, type SystemSpec } from "./systems";
import { runTuning } from "./tune";

interface Options {
  quick: boolean;
  tune: boolean;
  protocols: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  concurrencies: number[];
  sets: string[];
  systems: string[];
  generator: LoadGenerator;
  name: string;
  service: string;
  variants?: string[];
  modelVersion: string;
}

const SYSTEMS: readonly SystemSpec[] = [
  oursSystem("ours-batching", { CLASSIFIER_BATCHING_ENABLED: "true" }, "Express + onnxruntime-node + sharp, dynamic batching on (defaults)"),
  oursSystem("ours-no-batching", { CLASSIFIER_BATCHING_ENABLED: "false" }, "the same service, each request run alone"),
  PEER,
  // Not in the default matrix: the peer with one PyTorch thread per worker (2 workers x 2 threads oversubscribe
  // 2 cores), to show how much of the gap is the seeds' defaults rather than the stack.
  { ...PEER, id: "peer-1-thread", env: { PEER_TORCH_THREADS: "1" }, description: "the peer with torch.set_num_threads(1) in each worker" },
];
const DEFAULT_SYSTEMS = ["ours-batching", "ours-no-batching", "peer"];

const ALL_SETS = ["cifar", "640x480", "1920x1080"];

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = {
    quick: false,
    tune: false,
    protocols: false,
    durationSeconds: 10,
    warmupSeconds: 3,
    concurrencies: [1, 8, 32, 64],
    sets: ALL_SETS,
    systems: DEFAULT_SYSTEMS,
    generator: wrkAvailable() ? "wrk" : "autocannon",
    name: "results",
    service: "build/service/main.js",
    modelVersion: CONFIG_SCHEMA.modelVersion.default,
  };
  const explicit = new Set<string>();
  const list = (v: string): string[] => v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const { arg, value: next } of cliOptions(argv)) {
    explicit.add(arg);
    if (arg === "--quick") opts.quick = true;
    else if (arg === "--tune") opts.tune = true;
    else if (arg === "--protocols") opts.protocols = true;
    else if (arg === "--duration") opts.durationSeconds = Number(next());
    else if (arg === "--warmup") opts.warmupSeconds = Number(next());
    else if (arg === "--concurrency") opts.concurrencies = list(next()).map(Number);
    else if (arg === "--sets") opts.sets = list(next());
    else if (arg === "--systems") opts.systems = list(next());
    else if (arg === "--generator") opts.generator = next() as LoadGenerator;
    else if (arg === "--name") opts.name = next();
    else if (arg === "--service") opts.service = next();
    else if (arg === "--variants") opts.variants = list(next());
    else if (arg === "--model-version") opts.modelVersion = next();
    else throw new Error(`unknown option ${arg} (see the header of bench/run.ts)`);
  }
  if (opts.quick) {
    if (!explicit.has("--duration")) opts.durationSeconds = 2;
    if (!explicit.has("--warmup")) opts.warmupSeconds = 1;
    if (!explicit.has("--concurrency")) opts.concurrencies = [8];
    if (!explicit.has("--sets")) opts.sets = ["cifar"];
    if (!explicit.has("--name")) opts.name = "quick";
  }
  if (opts.protocols) {
    if (opts.tune) throw new Error("--protocols and --tune are separate runs");
    if (!explicit.has("--name")) opts.name = opts.quick ? "protocols-quick" : "protocols";
    if (!explicit.has("--concurrency")) opts.concurrencies = opts.quick ? [8] : [1, 8];
  }
  if (opts.tune) {
    if (!explicit.has("--name")) opts.name = "tuning";
    if (!explicit.has("--duration")) opts.durationSeconds = opts.quick ? 1 : 6;
    if (!explicit.has("--warmup")) opts.warmupSeconds = opts.quick ? 1 : 2;
  }
  // Two versions' runs side by side, not one over the other.
  if (explicit.has("--model-version") && !explicit.has("--name")) opts.name = `${opts.name}-${opts.modelVersion}`;
  if (!Number.isInteger(opts.durationSeconds) || opts.durationSeconds < 1) throw new Error("--duration must be a whole number of seconds >= 1");
  if (!Number.isInteger(opts.warmupSeconds) || opts.warmupSeconds < 0) throw new Error("--warmup must be a whole number of seconds >= 0");
  if (opts.concurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error("--concurrency takes positive integers");
  for (const s of opts.sets) if (!ALL_SETS.includes(s)) throw new Error(`unknown image set ${s}; known: ${ALL_SETS.join(", ")}`);
  for (const s of opts.systems) if (!SYSTEMS.some((x) => x.id === s)) throw new Error(`unknown system ${s}`);
  if (opts.generator !== "wrk" && opts.generator !== "autocannon") throw new Error("--generator is wrk or autocannon");
  if (opts.generator === "wrk" && !wrkAvailable()) throw new Error("wrk is not installed (apt-get install -y wrk), use --generator autocannon");
  return opts;
}

async function buildImageSets(repo: string, ids: readonly string[]): Promise<{ sets: ImageSet[]; source: string }> {
  const cifar = loadCifarJpegs(join(repo, "../shared/data/cifar10/test.tar.gz"), join(repo, "__tests__/fixtures/cifar10"), 100);
  const sets: ImageSet[] = [];
  for (const id of ids) {
    if (id === "cifar") {
      const kib = cifar.images.reduce((s, im) => s + im.data.length, 0) / cifar.images.length / 1024;
      sets.push({ id, description: `${cifar.images.length} CIFAR-10 test JPEGs, 32x32 (mean ${kib.toFixed(1)} KiB)`, images: cifar.images });
    } else {
      const [w, h] = id.split("x").map(Number);
      sets.push(await photoSet(cifar.images, w, h, 8));
    }
  }
  return { sets, source: cifar.source };
}

function runOrtLimit(repo: string, quick: boolean, jsonPath: string, modelVersion: string): Promise<OrtLimitReport> {
  const args = [
    join(repo, "build/bench/ort-limit.js"),
    "--json",
    jsonPath,
    "--model-version",
    modelVersion,
    ...(quick ? ["--quick", "--seconds", "0.5"] : []),
  ];
  const child = spawnTracked(process.execPath, args, { cwd: repo, stdio: ["ignore", "inherit", "inherit"] });
  return new Promise((resolvePromise, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the ONNX Runtime limit measurement failed (exit ${code})`));
      else resolvePromise(JSON.parse(readFileSync(jsonPath, "utf8")) as OrtLimitReport);
    });
  });
}

function gitCommit(repo: string): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repo, encoding: "utf8" }).trim();
    return dirty ? `${commit} (with local changes)` : commit;
  } catch {
    return "unknown";
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function targetsAndRatios(cells: readonly CellResult[], ort: OrtLimitReport): { targets: Target[]; ratios: Record<string, number> } {
  const ours = "ours-batching";
  const targets: Target[] = [];
  const ratios: Record<string, number> = {};
  const o32 = cellOf(cells, ours, "cifar", 32);
  const p32 = cellOf(cells, "peer", "cifar", 32);
  if (o32 && p32 && p32.load.requestsPerSecond > 0) {
    const ratio = o32.load.requestsPerSecond / p32.load.requestsPerSecond;
    ratios["ours-batching / peer, req/s at c=32 (cifar)"] = ratio;
    targets.push({
      name: "throughput vs peer at c=32 (CIFAR JPEGs)",
      goal: ">= 3x",
      measured: `${ratio.toFixed(2)}x (${o32.load.requestsPerSecond.toFixed(0)} vs ${p32.load.requestsPerSecond.toFixed(0)} req/s)`,
      met: ratio >= 3,
    });
  }
  const nb32 = cellOf(cells, "ours-no-batching", "cifar", 32);
  if (nb32 && p32 && p32.load.requestsPerSecond > 0) ratios["ours-no-batching / peer, req/s at c=32 (cifar)"] = nb32.load.requestsPerSecond / p32.load.requestsPerSecond;
  for (const set of ["640x480", "1920x1080"]) {
    const o = cellOf(cells, ours, set, 32);
    const p = cellOf(cells, "peer", set, 32);
    if (o && p && p.load.requestsPerSecond > 0) ratios[`ours-batching / peer, req/s at c=32 (${set})`] = o.load.requestsPerSecond / p.load.requestsPerSecond;
  }
  const oursCifar = cells.filter((c) => c.system === ours && c.set === "cifar");
  if (oursCifar.length > 0) {
    const best = oursCifar.reduce((a, b) => (b.load.requestsPerSecond > a.load.requestsPerSecond ? b : a));
    const ratio = best.load.requestsPerSecond / ort.best.imagesPerSecond;
    ratios[`ours-batching best (c=${best.concurrency}) / ORT limit (cifar)`] = ratio;
    if (o32) ratios["ours-batching at c=32 / ORT limit (cifar)"] = o32.load.requestsPerSecond / ort.best.imagesPerSecond;
    targets.push({
      name: "share of the raw ONNX Runtime limit (CIFAR JPEGs)",
      goal: ">= 60%",
      measured: `${(ratio * 100).toFixed(0)}% (${best.load.requestsPerSecond.toFixed(0)} req/s at c=${best.concurrency} vs ${ort.best.imagesPerSecond.toFixed(0)} images/s)`,
      met: ratio >= 0.6,
    });
  }
  const o8 = cellOf(cells, ours, "cifar", 8);
  if (o8) {
    targets.push({
      name: "p99 latency at c=8 (CIFAR JPEGs)",
      goal: "< 50 ms",
      measured: `${o8.load.latencyMs.p99.toFixed(1)} ms (p50 ${o8.load.latencyMs.p50.toFixed(1)} ms)`,
      met: o8.load.latencyMs.p99 < 50,
    });
  }
  const oursCells = cells.filter((c) => c.system.startsWith("ours"));
  if (oursCells.length > 0) {
    const worst = oursCells.reduce((a, b) => (b.memory.peakRssMiB > a.memory.peakRssMiB ? b : a));
    targets.push({
      name: "peak RSS, ours (worst cell)",
      goal: "< 400 MB",
      measured: `${((worst.memory.peakRssMiB * 1048576) / 1e6).toFixed(0)} MB (${worst.system}, ${worst.set}, c=${worst.concurrency})`,
      met: worst.memory.peakRssMiB * 1048576 < 400e6,
    });
    const starts = oursCells.map((c) => c.startToReadyMs);
    const slowest = Math.max(...starts);
    targets.push({
      name: "start to ready, ours (slowest of every fresh start)",
      goal: "< 3 s",
      measured: `${(slowest / 1000).toFixed(2)} s (median ${(median(starts) / 1000).toFixed(2)} s over ${starts.length} starts)`,
      met: slowest < 3000,
    });
  }
  const tunedPeer32 = cellOf(cells, "peer-1-thread", "cifar", 32);
  if (o32 && tunedPeer32 && tunedPeer32.load.requestsPerSecond > 0) {
    ratios["ours-batching / peer-1-thread, req/s at c=32 (cifar)"] = o32.load.requestsPerSecond / tunedPeer32.load.requestsPerSecond;
  }
  const peerCells = cells.filter((c) => c.system === "peer");
  if (peerCells.length > 0) {
    ratios["peer start to ready, median s"] = median(peerCells.map((c) => c.startToReadyMs)) / 1000;
    ratios["peer peak RSS, worst MB"] = Math.max(...peerCells.map((c) => (c.memory.peakRssMiB * 1048576) / 1e6));
  }
  return { targets, ratios };
}

function agreement(cells: readonly CellResult[]): BenchResults["agreement"] {
  const rows: { set: string; system: string; reference: string; agree: number; total: number }[] = [];
  const reference = "ours-batching";
  for (const ref of cells.filter((c) => c.system === reference && c.predictions)) {
    for (const other of cells.filter((c) => c.set === ref.set && c.system !== reference && c.predictions)) {
      const a = ref.predictions!;
      const b = other.predictions!;
      rows.push({ set: ref.set, system: other.system, reference, agree: a.filter((label, i) => label === b[i]).length, total: a.length });
    }
  }
  return rows;
}

function pythonFor(): string {
  return process.env.PEER_PYTHON ?? "/usr/bin/python3";
}

function checkPeerDependencies(python: string): void {
  try {
    execFileSync(python, ["-c", "import fastapi, uvicorn, multipart, torch, torchvision"], { stdio: "pipe" });
  } catch {
    throw new Error(
      `the peer needs ${python} with fastapi, uvicorn, python-multipart, torch and torchvision:\n` +
        "  apt-get install -y python3-fastapi python3-uvicorn python3-multipart python3-torch python3-torchvision",
    );
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const opts = parseArgs(process.argv.slice(2));
  const repo = resolve(__dirname, "../..");
  const systems = SYSTEMS.filter((s) => opts.systems.includes(s.id));
  const serviceEntry = resolve(repo, opts.service);
  const cardPath = join(repo, committedVersionFiles(opts.modelVersion).cardPath);
  if (!existsSync(cardPath)) throw new Error(`--model-version ${opts.modelVersion}: ${cardPath} is not in the model repository`);
  if ((opts.tune || systems.some((s) => s.kind === "ours")) && !existsSync(serviceEntry)) {
    throw new Error(`${serviceEntry} is missing: run \`npm run build\` first`);
  }
  if (opts.protocols && !existsSync(serviceEntry)) throw new Error(`${serviceEntry} is missing: run \`npm run build\` first`);
  if (!opts.tune && !opts.protocols && systems.some((s) => s.kind === "peer")) checkPeerDependencies(pythonFor());

  const workDir = mkdtempSync(join(tmpdir(), "pyramidnet-bench-"));
  onInterrupt(() => rmSync(workDir, { recursive: true, force: true }));
  const ctx: RunContext = { repo, serviceEntry, python: pythonFor(), workDir, readyTimeoutMs: 60_000, modelVersion: opts.modelVersion };
  console.error(`bench: model version ${opts.modelVersion} on every stack`);
  const outDir = join(repo, "bench/results");
  mkdirSync(outDir, { recursive: true });
  let failed = false;
  try {
    if (opts.protocols) {
      const cells = 3 * 2 * opts.concurrencies.length;
      console.error(`bench: ${cells} protocol cells, about ${Math.ceil((cells * (opts.durationSeconds + opts.warmupSeconds + 2)) / 60)} min`);
      await runProtocols({
        ctx,
        concurrencies: opts.concurrencies,
        durationSeconds: opts.durationSeconds,
        warmupSeconds: opts.warmupSeconds,
        outDir,
        name: opts.name,
        notes: [
          ...(opts.quick ? ["Quick smoke run: too short to quote."] : []),
          ...(opts.service !== "build/service/main.js" ? [`ours ran from ${opts.service}, not the committed build.`] : []),
        ],
      });
      console.error(`bench: wrote bench/results/${opts.name}.md and .json in ${((performance.now() - started) / 1000).toFixed(0)} s`);
      return;
    }
    const { sets, source } = await buildImageSets(repo, opts.tune ? ["cifar", "1920x1080"] : opts.sets);
    for (const s of sets) console.error(`images: ${s.id}: ${s.description}`);

    if (opts.tune) {
      await runTuning({
        ctx,
        sets,
        generator: opts.generator,
        durationSeconds: opts.durationSeconds,
        warmupSeconds: opts.warmupSeconds,
        outDir,
        name: opts.name,
        quick: opts.quick,
        variants: opts.variants,
      });
      return;
    }

    const cellCount = sets.length * opts.concurrencies.length * systems.length;
    const estimate = cellCount * (opts.durationSeconds + opts.warmupSeconds + 3) + (opts.quick ? 5 : 90);
    console.error(`bench: ${cellCount} cells with ${opts.generator}, about ${Math.ceil(estimate / 60)} min; temporary files in ${workDir}`);

    console.error("bench: the ONNX Runtime limit (pre-decoded tensors, in-process)");
    const ortLimit = await runOrtLimit(repo, opts.quick, join(workDir, "ort-limit.json"), opts.modelVersion);

    const cells: CellResult[] = [];
    let round = 0;
    for (const set of sets) {
      const seenPredictions = new Set<string>();
      for (const concurrency of opts.concurrencies) {
        // Rotate the order every round, so no system always runs first (or right after the slowest one).
        const order = systems.map((_, i) => systems[(i + round) % systems.length]);
        round++;
        for (const system of order) {
          const collectPredictions = !seenPredictions.has(system.id);
          seenPredictions.add(system.id);
          const cell = await runCell({ system, set, concurrency, durationSeconds: opts.durationSeconds, warmupSeconds: opts.warmupSeconds, collectPredictions }, ctx, opts.generator);
          cells.push(cell);
          const l = cell.load;
          console.error(
            `${set.id.padEnd(9)} c=${String(concurrency).padEnd(3)} ${system.id.padEnd(17)} ${l.requestsPerSecond.toFixed(1).padStart(7)} req/s  ` +
              `p50 ${l.latencyMs.p50.toFixed(1)} p99 ${l.latencyMs.p99.toFixed(1)} ms  errors ${l.errors} non-2xx ${l.non2xx}  ` +
              `RSS ${cell.memory.peakRssMiB.toFixed(0)} MiB  ready ${cell.startToReadyMs.toFixed(0)} ms  CPU ${cell.cpuMsPerRequest.toFixed(2)} ms/req  ` +
              `background ${cell.backgroundCores.toFixed(2)} cores`,
          );
        }
      }
    }

    const { targets, ratios } = targetsAndRatios(cells, ortLimit);
    const card = JSON.parse(readFileSync(cardPath, "utf8")) as { sha256: string };
    const results: BenchResults = {
      meta: {
        date: new Date().toISOString(),
        commit: gitCommit(repo),
        cpu: cpus()[0]?.model ?? "unknown",
        cpus: cpus().length,
        memoryGiB: totalmem() / 2 ** 30,
        node: process.versions.node,
        loadGenerator: opts.generator === "wrk" ? "wrk 4 (1 thread)" : "autocannon 8 (in the bench process)",
        durationSeconds: opts.durationSeconds,
        warmupSeconds: opts.warmupSeconds,
        concurrencies: opts.concurrencies,
        imageSource: source,
        wallSeconds: (performance.now() - started) / 1000,
        modelVersion: opts.modelVersion,
        modelSha256: card.sha256,
        notes: [
          ...(opts.quick ? ["Quick smoke run: too short to quote."] : []),
          ...(opts.service !== "build/service/main.js" ? [`ours ran from ${opts.service}, not the committed build.`] : []),
        ],
      },
      systems: systems.map((s) => ({ id: s.id, description: s.description, env: s.env })),
      imageSets: sets.map((s) => ({ id: s.id, description: s.description, count: s.images.length, meanBytes: meanBytes(s) })),
      ortLimit,
      cells,
      agreement: agreement(cells),
      targets,
      ratios,
    };
    writeFileSync(join(outDir, `${opts.name}.json`), JSON.stringify(results, null, 2) + "\n");
    const markdown = renderMarkdown(results);
    writeFileSync(join(outDir, `${opts.name}.md`), markdown);
    console.log(markdown);
    console.error(`bench: wrote bench/results/${opts.name}.md and .json in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    killAll();
    // Keep the servers' logs when something failed; they are the only clue.
    if (failed) console.error(`bench: logs kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
