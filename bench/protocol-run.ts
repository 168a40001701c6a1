/**
 * The protocol cells' run and report (`npm run bench -- --protocols`): every protocol x batch x concurrency,
 * the protocols' order rotating each round, written to bench/results/<name>.{md,json}.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { PROTOCOLS, PROTOCOL_BATCHES, PROTOCOL_DESCRIPTIONS, loadProtocolInputs, runProtocolCell, type ProtocolCellResult } from "./protocols";
import type { RunContext } from "./systems";

export interface ProtocolRunOptions {
  readonly ctx: RunContext;
  readonly concurrencies: readonly number[];
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly outDir: string;
  readonly name: string;
  readonly notes: readonly string[];
}

export interface ProtocolResults {
  readonly meta: {
    readonly date: string;
    readonly commit: string;
    readonly cpu: string;
    readonly cpus: number;
    readonly node: string;
    readonly durationSeconds: number;
    readonly warmupSeconds: number;
    readonly wallSeconds: number;
    readonly notes: readonly string[];
  };
  readonly protocols: Readonly<Record<string, string>>;
  readonly cells: readonly ProtocolCellResult[];
  /** Per batch: whether every protocol gave the same top-1 for every image of the checked body. */
  readonly agreement: readonly { readonly batch: number; readonly agree: boolean; readonly top1: Readonly<Record<string, readonly number[]>> }[];
}

function commit(repo: string): string {
  try {
    const hash = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repo, encoding: "utf8" }).trim();
    return dirty ? `${hash} (with local changes)` : hash;
  } catch {
    return "unknown";
  }
}

export async function runProtocols(options: ProtocolRunOptions): Promise<ProtocolResults> {
  const started = performance.now();
  const inputs = await loadProtocolInputs(options.ctx.repo, options.ctx.modelVersion);
  const cells: ProtocolCellResult[] = [];
  const top1: Record<number, Record<string, number[]>> = {};
  let round = 0;
  for (const batch of PROTOCOL_BATCHES) {
    for (const concurrency of options.concurrencies) {
      const order = PROTOCOLS.map((_, i) => PROTOCOLS[(i + round) % PROTOCOLS.length]);
      round++;
      for (const protocol of order) {
        const { top1: labels, ...cell } = await runProtocolCell(
          { protocol, batch, concurrency, durationSeconds: options.durationSeconds, warmupSeconds: options.warmupSeconds },
          options.ctx,
          inputs,
        );
        (top1[batch] ??= {})[protocol] = labels;
        cells.push(cell);
        console.error(
          `protocols ${protocol.padEnd(11)} N=${String(batch).padEnd(2)} c=${String(concurrency).padEnd(3)} ${cell.requestsPerSecond.toFixed(1).padStart(7)} req/s ` +
            `${cell.inferencesPerSecond.toFixed(0).padStart(5)} inf/s  p99 ${cell.latencyMs.p99.toFixed(1)} ms  ` +
            `CPU ${(cell.cpuSecondsPerInference * 1000).toFixed(2)} ms/inference  failures ${JSON.stringify(cell.failures)}  background ${cell.backgroundCores.toFixed(2)} cores`,
        );
      }
    }
  }
  const results: ProtocolResults = {
    meta: {
      date: new Date().toISOString(),
      commit: commit(options.ctx.repo),
      cpu: cpus()[0]?.model ?? "unknown",
      cpus: cpus().length,
      node: process.versions.node,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      wallSeconds: (performance.now() - started) / 1000,
      notes: options.notes,
    },
    protocols: PROTOCOL_DESCRIPTIONS,
    cells,
    agreement: Object.entries(top1).map(([batch, byProtocol]) => {
      const lists = Object.values(byProtocol).map((labels) => JSON.stringify(labels));
      return { batch: Number(batch), agree: lists.every((labels) => labels === lists[0]), top1: byProtocol };
    }),
  };
  writeFileSync(join(options.outDir, `${options.name}.json`), JSON.stringify(results, null, 2) + "\n");
  const markdown = renderProtocolMarkdown(results);
  writeFileSync(join(options.outDir, `${options.name}.md`), markdown);
  console.log(markdown);
  return results;
}

export function renderProtocolMarkdown(results: ProtocolResults): string {
  const { meta } = results;
  const lines = [
    "# Protocol benchmark: REST JSON, REST binary, gRPC",
    "",
    `${meta.date.slice(0, 10)}, commit ${meta.commit}, ${meta.cpus} x ${meta.cpu}, Node ${meta.node}. FP32 tensors [N, 3, 32, 32] (the golden`,
    `fixture's preprocessed CIFAR-10 images), logits out; one fresh server per cell (defaults, batching on), ${meta.warmupSeconds} s warm-up,`,
    `${meta.durationSeconds} s measured, closed loop from the bench process. Method: bench/README.md, "Protocols".`,
    ...meta.notes.map((note) => `\n> ${note}`),
    "",
    "| protocol | N | c | req/s | inferences/s | p50 ms | p99 ms | server CPU ms / inference | request bytes | failures | background cores |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ...results.cells.map((c) => {
      const failures = Object.keys(c.failures).length === 0 ? "0" : JSON.stringify(c.failures);
      const cpuMs = (c.cpuSecondsPerInference * 1000).toFixed(2);
      const figures = [c.requestsPerSecond.toFixed(1), c.inferencesPerSecond.toFixed(0), c.latencyMs.p50.toFixed(1), c.latencyMs.p99.toFixed(1), cpuMs];
      return `| ${[c.protocol, c.batch, c.concurrency, ...figures, c.requestBytes, failures, c.backgroundCores.toFixed(2)].join(" | ")} |`;
    }),
    "",
    ...results.agreement.map((a) => `- batch ${a.batch}: ${a.agree ? "every protocol gives the same top-1 for every image" : "**protocols disagree**"} (${Object.keys(a.top1).join(", ")})`),
    "",
    ...Object.entries(results.protocols).map(([id, description]) => `- \`${id}\`: ${description}`),
    "",
  ];
  return lines.join("\n");
}
