/**
 * The benchmark's results as JSON (everything measured) and markdown (the tables README quotes).
 */
import type { CellResult } from "./cell";
import type { OrtLimitReport, OrtMeasurement } from "./ort-limit";

export interface ImageSetInfo {
  readonly id: string;
  readonly description: string;
  readonly count: number;
  readonly meanBytes: number;
}

export interface SystemInfo {
  readonly id: string;
  readonly description: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface RunMeta {
  readonly date: string;
  readonly commit: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly loadGenerator: string;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly concurrencies: readonly number[];
  readonly imageSource: string;
  readonly wallSeconds: number;
  /** The committed model version both stacks served. */
  readonly modelVersion: string;
  readonly modelSha256: string;
  readonly notes: readonly string[];
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean;
}

export interface BenchResults {
  readonly meta: RunMeta;
  readonly systems: readonly SystemInfo[];
  readonly imageSets: readonly ImageSetInfo[];
  readonly ortLimit: OrtLimitReport;
  readonly cells: readonly CellResult[];
  readonly agreement: readonly { readonly set: string; readonly system: string; readonly reference: string; readonly agree: number; readonly total: number }[];
  readonly targets: readonly Target[];
  readonly ratios: Readonly<Record<string, number>>;
}

const f0 = (x: number): string => x.toFixed(0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

export function cellOf(cells: readonly CellResult[], system: string, set: string, concurrency: number): CellResult | undefined {
  return cells.find((c) => c.system === system && c.set === set && c.concurrency === concurrency);
}

/** A markdown table; columns whose every cell starts with a figure are right-aligned. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => /^[-–0-9.]/.test(r[i] ?? "")));
  return [line(head), line(numeric.map((n) => (n ? "---:" : "---"))), ...rows.map(line)].join("\n");
}

function ortRow(m: OrtMeasurement): string[] {
  return [
    String(m.batch),
    String(m.intraOpThreads),
    m.graphOptimizationLevel,
    String(m.parallelSessions),
    m.spinning === false ? "off" : "on",
    f0(m.imagesPerSecond),
    f2(m.msPerRun),
  ];
}

export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  const m = r.meta;
  out.push("# Benchmark results");
  out.push("");
  out.push(
    `Run ${m.date} on ${m.cpus} × ${m.cpu}, ${f0(m.memoryGiB)} GiB, Node ${m.node}, commit ${m.commit}, model ${m.modelVersion} (sha256 ${m.modelSha256.slice(0, 12)}…). ` +
      `Load from ${m.loadGenerator} on the same machine (closed loop, multipart uploads rotating over each image set), ` +
      `${m.warmupSeconds} s warm-up then ${m.durationSeconds} s measured per cell; every cell starts its server fresh; ` +
      `systems alternate within each concurrency. Whole run: ${f0(m.wallSeconds)} s. Reproduce with \`npm run bench\`.`,
  );
  for (const note of m.notes) out.push("", `> ${note}`);
  const noisy = r.cells.filter((c) => c.backgroundCores > 0.15);
  if (noisy.length > 0) {
    const worst = Math.max(...noisy.map((c) => c.backgroundCores));
    out.push(
      "",
      `> **Not a quiet machine:** in ${noisy.length} of ${r.cells.length} cells other processes kept more than 0.15 of a core busy ` +
        `(worst ${worst.toFixed(2)} cores; see \`backgroundCores\` in the JSON). Those figures understate every system.`,
    );
  }
  out.push("", "## Targets", "");
  out.push(table(["target", "goal", "measured", "met"], r.targets.map((t) => [t.name, t.goal, t.measured, t.met ? "yes" : "**no**"])));

  out.push("", "## Systems", "");
  out.push(
    table(
      ["system", "what", "settings"],
      r.systems.map((s) => [s.id, s.description, Object.entries(s.env).map(([k, v]) => `${k}=${v}`).join(" ") || "defaults"]),
    ),
  );

  for (const set of r.imageSets) {
    out.push("", `## ${set.id}: ${set.description}`, "");
    const rows: string[][] = [];
    for (const c of m.concurrencies) {
      for (const s of r.systems) {
        const cell = cellOf(r.cells, s.id, set.id, c);
        if (!cell) continue;
        const l = cell.load;
        rows.push([
          String(c),
          s.id,
          f1(l.requestsPerSecond),
          f1(l.latencyMs.p50),
          f1(l.latencyMs.p95),
          f1(l.latencyMs.p99),
          String(l.errors),
          String(l.non2xx),
          f0(cell.memory.peakRssMiB),
          f0(cell.startToReadyMs),
          f2(cell.cpuMsPerRequest),
          cell.processCores.filter((c) => c >= 0.05).map(f2).join(" + ") || "0",
        ]);
      }
    }
    out.push(
      table(
        ["c", "system", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "non-2xx", "peak RSS MiB", "start→ready ms", "server CPU ms/req", "cores busy per process"],
        rows,
      ),
    );
  }

  out.push("", "## Ratios", "");
  out.push(table(["ratio", "value"], Object.entries(r.ratios).map(([k, v]) => [k, f2(v)])));

  out.push("", "## Growth with concurrency and upload size (req/s · p99 ms)", "");
  const head = ["system", "set", ...m.concurrencies.map((c) => `c=${c}`)];
  const rows: string[][] = [];
  for (const s of r.systems) {
    for (const set of r.imageSets) {
      const cells = m.concurrencies.map((c) => {
        const cell = cellOf(r.cells, s.id, set.id, c);
        return cell ? `${f0(cell.load.requestsPerSecond)} · ${f0(cell.load.latencyMs.p99)}` : "–";
      });
      rows.push([s.id, `${set.id} (${f0(set.meanBytes / 1024)} KiB)`, ...cells]);
    }
  }
  out.push(table(head, rows));

  const staged = r.cells.filter((c) => c.stages);
  if (staged.length > 0) {
    out.push("", "## Inside ours (from its /metrics, measured window only)", "");
    out.push(
      table(
        ["system", "set", "c", "mean batch", "decode ms/image", "queue wait ms", "inference ms/run", "ms/image of inference"],
        staged.map((c) => {
          const st = c.stages!;
          return [
            c.system,
            c.set,
            String(c.concurrency),
            f1(st.meanBatchSize),
            f2(st.decodeMs),
            f2(st.queueWaitMs),
            f2(st.inferenceMsPerRun),
            st.meanBatchSize > 0 ? f2(st.inferenceMsPerRun / st.meanBatchSize) : "–",
          ];
        }),
      ),
    );
  }

  out.push("", "## The limit: onnxruntime-node InferenceSession.run on pre-decoded tensors", "");
  out.push(
    `${r.ortLimit.secondsPerConfig} s per configuration, best of ${r.ortLimit.passes ?? 1} passes, in a separate process, no HTTP, no JPEG decode. ` +
      `Best: **${f0(r.ortLimit.best.imagesPerSecond)} images/s** (batch ${r.ortLimit.best.batch}, ${r.ortLimit.best.intraOpThreads} intra-op threads, ` +
      `graph ${r.ortLimit.best.graphOptimizationLevel}, ${r.ortLimit.best.parallelSessions} session${r.ortLimit.best.parallelSessions > 1 ? "s" : ""}).`,
  );
  out.push("");
  out.push(table(["batch", "intra-op threads", "graph optimization", "sessions", "spin-wait", "images/s", "ms/run"], r.ortLimit.measurements.map(ortRow)));

  if (r.agreement.length > 0) {
    out.push("", "## Same answers", "");
    out.push("Top-1 labels of every image of each set, posted once per system, against the reference system:", "");
    out.push(table(["set", "system", "reference", "identical top-1"], r.agreement.map((a) => [a.set, a.system, a.reference, `${a.agree}/${a.total}`])));
  }
  out.push("");
  return out.join("\n");
}
