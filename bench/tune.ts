/**
 * The tuning matrix: our service with one setting changed at a time against its defaults, on CIFAR JPEGs at
 * c=8 (latency) and c=32 (throughput), and on 1920x1080 photos at c=8 for the decode-side settings. The
 * defaults run first and last, so the spread between those two rows is the noise floor of every comparison.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCell, type CellResult } from "./cell";
import type { ImageSet } from "./images";
import type { LoadGenerator } from "./load";
import { table } from "./report";
import { oursSystem, type RunContext } from "./systems";

interface Variant {
  readonly id: string;
  readonly env: Readonly<Record<string, string>>;
  /** Decode-side settings are also measured on large photos. */
  readonly decode: boolean;
}

const VARIANTS: readonly Variant[] = [
  { id: "defaults", env: {}, decode: true },
  { id: "intra-op 1", env: { CLASSIFIER_ORT_INTRA_OP_THREADS: "1" }, decode: false },
  { id: "intra-op 3", env: { CLASSIFIER_ORT_INTRA_OP_THREADS: "3" }, decode: false },
  { id: "inter-op 2 (parallel)", env: { CLASSIFIER_ORT_INTER_OP_THREADS: "2" }, decode: false },
  { id: "spin-wait on", env: { CLASSIFIER_ORT_SPIN_WAIT: "true" }, decode: true },
  { id: "graph disabled", env: { CLASSIFIER_ORT_GRAPH_OPTIMIZATION: "disabled" }, decode: false },
  { id: "graph basic", env: { CLASSIFIER_ORT_GRAPH_OPTIMIZATION: "basic" }, decode: false },
  { id: "graph extended", env: { CLASSIFIER_ORT_GRAPH_OPTIMIZATION: "extended" }, decode: false },
  { id: "batch max 8", env: { CLASSIFIER_BATCH_MAX_SIZE: "8" }, decode: false },
  { id: "batch max 16", env: { CLASSIFIER_BATCH_MAX_SIZE: "16" }, decode: false },
  { id: "batch max 64", env: { CLASSIFIER_BATCH_MAX_SIZE: "64" }, decode: false },
  { id: "delay 1 ms", env: { CLASSIFIER_BATCH_MAX_DELAY_MS: "1" }, decode: false },
  { id: "delay 2 ms", env: { CLASSIFIER_BATCH_MAX_DELAY_MS: "2" }, decode: false },
  { id: "delay 5 ms", env: { CLASSIFIER_BATCH_MAX_DELAY_MS: "5" }, decode: false },
  { id: "batching off", env: { CLASSIFIER_BATCHING_ENABLED: "false" }, decode: false },
  { id: "log level warn", env: { CLASSIFIER_LOG_LEVEL: "warn" }, decode: false },
  { id: "decode concurrency 2", env: { CLASSIFIER_DECODE_CONCURRENCY: "2" }, decode: true },
  { id: "UV_THREADPOOL_SIZE 1", env: { UV_THREADPOOL_SIZE: "1" }, decode: true },
  { id: "UV_THREADPOOL_SIZE 2", env: { UV_THREADPOOL_SIZE: "2" }, decode: true },
  { id: "UV_THREADPOOL_SIZE 8", env: { UV_THREADPOOL_SIZE: "8" }, decode: true },
  { id: "defaults (again)", env: {}, decode: true },
];

export interface TuningOptions {
  readonly ctx: RunContext;
  readonly sets: readonly ImageSet[];
  readonly generator: LoadGenerator;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly outDir: string;
  readonly name: string;
  readonly quick: boolean;
  /** Only the variants with these ids. */
  readonly variants?: readonly string[];
}

interface TuningRow {
  readonly variant: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cells: readonly CellResult[];
}

export async function runTuning(opts: TuningOptions): Promise<void> {
  const cifar = opts.sets.find((s) => s.id === "cifar")!;
  const photos = opts.sets.find((s) => s.id !== "cifar");
  const variants = opts.variants
    ? VARIANTS.filter((v) => opts.variants!.includes(v.id))
    : opts.quick
      ? VARIANTS.slice(0, 2)
      : VARIANTS;
  if (variants.length === 0) throw new Error(`no such variant; known: ${VARIANTS.map((v) => v.id).join(", ")}`);
  const rows: TuningRow[] = [];
  const probes: { set: ImageSet; concurrency: number; decodeOnly: boolean }[] = [
    { set: cifar, concurrency: 8, decodeOnly: false },
    { set: cifar, concurrency: 32, decodeOnly: false },
    ...(photos ? [{ set: photos, concurrency: 8, decodeOnly: true }] : []),
  ];
  console.error(`tune: ${variants.length} variants, ${opts.durationSeconds} s cells`);
  for (const variant of variants) {
    const cells: CellResult[] = [];
    for (const probe of probes) {
      if (probe.decodeOnly && !variant.decode) continue;
      const system = oursSystem(variant.id, variant.env, variant.id);
      const cell = await runCell(
        { system, set: probe.set, concurrency: probe.concurrency, durationSeconds: opts.durationSeconds, warmupSeconds: opts.warmupSeconds, collectPredictions: false },
        opts.ctx,
        opts.generator,
      );
      cells.push(cell);
      console.error(
        `tune ${variant.id.padEnd(22)} ${probe.set.id.padEnd(9)} c=${String(probe.concurrency).padEnd(3)} ` +
          `${cell.load.requestsPerSecond.toFixed(1).padStart(7)} req/s p99 ${cell.load.latencyMs.p99.toFixed(1)} ms ` +
          `non-2xx ${cell.load.non2xx} CPU ${cell.cpuMsPerRequest.toFixed(2)} ms/req RSS ${cell.memory.peakRssMiB.toFixed(0)} MiB ` +
          `background ${cell.backgroundCores.toFixed(2)} cores`,
      );
    }
    rows.push({ variant: variant.id, env: variant.env, cells });
  }
  const markdown = render(rows, probes, opts);
  writeFileSync(join(opts.outDir, `${opts.name}.json`), JSON.stringify({ date: new Date().toISOString(), generator: opts.generator, durationSeconds: opts.durationSeconds, warmupSeconds: opts.warmupSeconds, rows }, null, 2) + "\n");
  writeFileSync(join(opts.outDir, `${opts.name}.md`), markdown);
  console.log(markdown);
}

function render(rows: readonly TuningRow[], probes: readonly { set: ImageSet; concurrency: number }[], opts: TuningOptions): string {
  const head = ["variant", "settings", ...probes.map((p) => `${p.set.id} c=${p.concurrency}: req/s · p99 ms`), "mean batch (cifar c=32)", "CPU ms/req (cifar c=32)", "peak RSS MiB"];
  const out = [
    "# Tuning matrix",
    "",
    `${new Date().toISOString()}, ${opts.generator}, ${opts.warmupSeconds} s warm-up + ${opts.durationSeconds} s per cell, each cell a fresh server. ` +
      "One setting changed at a time from the defaults; the two `defaults` rows bound the run-to-run noise. Reproduce: `npm run bench -- --tune`.",
  ];
  const lines: string[][] = [];
  for (const row of rows) {
    const cells = probes.map((p) => {
      const c = row.cells.find((x) => x.set === p.set.id && x.concurrency === p.concurrency);
      return c ? `${c.load.requestsPerSecond.toFixed(0)} · ${c.load.latencyMs.p99.toFixed(1)}` : "–";
    });
    const c32 = row.cells.find((x) => x.set === "cifar" && x.concurrency === 32);
    const rss = Math.max(...row.cells.map((c) => c.memory.peakRssMiB));
    lines.push([
      row.variant,
      Object.entries(row.env).map(([k, v]) => `${k}=${v}`).join(" ") || "defaults",
      ...cells,
      c32?.stages ? c32.stages.meanBatchSize.toFixed(1) : "–",
      c32 ? c32.cpuMsPerRequest.toFixed(2) : "–",
      rss.toFixed(0),
    ]);
  }
  out.push("", table(head, lines), "");
  const worst = Math.max(0, ...rows.flatMap((r) => r.cells.map((c) => c.backgroundCores)));
  if (worst > 0.15) out.push(`> **Not a quiet machine:** other processes used up to ${worst.toFixed(2)} cores during some cells.`, "");
  return out.join("\n");
}
