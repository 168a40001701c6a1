/**
 * Memory of one service process by the number of model versions it loads: 1, 2 and 3. Not a test: it prints
 * figures. Each case starts the compiled service fresh on a loopback port from a temporary model repository
 * (the committed 1.0.0 and 1.1.0, and 1.1.1, a test-only copy of 1.1.0 under another version), waits for
 * readiness (every version loaded, sha256-checked and warmed up), reads RSS, sends a few predictions to every
 * loaded version, and reads RSS again, and its peak (VmHWM).
 *
 *   npm run bench:memory                  # = npm run build && node build/bench/model-memory.js
 *   node build/bench/model-memory.js --repeats 5 --requests 50 --json out.json
 *
 * Settings are the service's defaults (batch size 32, so each version's warm-up runs a batch of 32).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { cliOptions } from "../scripts/cli-options";
import { CONFIG_SCHEMA } from "../service/config/schema";
import { MODEL_VERSION_CONTRACT } from "../service/contract/http";
import { committedVersionFiles, modelCardPath } from "../service/model/repository";
import { currentRssMiB, killAll, onInterrupt } from "./processes";
import { oursSystem, startSystem, stopSystem, type RunContext } from "./systems";

interface Options {
  repeats: number;
  requests: number;
  json?: string;
}

interface Case {
  readonly versions: readonly string[];
}

interface Measurement {
  readonly versions: number;
  readonly startToReadyMs: number;
  readonly readyRssMiB: number;
  readonly servingRssMiB: number;
  readonly peakRssMiB: number;
}

const NAME = CONFIG_SCHEMA.modelName.default;
const CASES: readonly Case[] = [{ versions: ["1.1.0"] }, { versions: ["1.0.0", "1.1.0"] }, { versions: ["1.0.0", "1.1.0", "1.1.1"] }];

function parseArgs(argv: string[]): Options {
  const opts: Options = { repeats: 3, requests: 20 };
  for (const { arg, value } of cliOptions(argv)) {
    if (arg === "--repeats") opts.repeats = Number(value());
    else if (arg === "--requests") opts.requests = Number(value());
    else if (arg === "--json") opts.json = value();
    else throw new Error(`unknown option ${arg}`);
  }
  if (!(opts.repeats >= 1) || !(opts.requests >= 1)) throw new Error("--repeats and --requests must be at least 1");
  return opts;
}

/** The committed versions, and 1.1.1: 1.1.0's ONNX file and card under another version (never committed). */
function buildRepository(repo: string, root: string): void {
  for (const version of ["1.0.0", "1.1.0"]) {
    const { cardPath, modelPath } = committedVersionFiles(version);
    const target = dirname(modelCardPath(root, NAME, version));
    cpSync(join(repo, cardPath), join(target, `${NAME}.json`));
    cpSync(join(repo, modelPath), join(target, `${NAME}.onnx`));
  }
  const copy = dirname(modelCardPath(root, NAME, "1.1.1"));
  cpSync(dirname(modelCardPath(root, NAME, "1.1.0")), copy, { recursive: true });
  const card = JSON.parse(readFileSync(join(copy, `${NAME}.json`), "utf8")) as Record<string, unknown>;
  writeFileSync(join(copy, `${NAME}.json`), JSON.stringify({ ...card, version: "1.1.1" }));
}

async function predictEach(url: string, versions: readonly string[], image: Buffer, requests: number): Promise<void> {
  for (const version of versions) {
    for (let i = 0; i < requests; i++) {
      const form = new FormData();
      form.append("file", new Blob([image], { type: "image/jpeg" }), "bench.jpg");
      const res = await fetch(`${url}/predict?${MODEL_VERSION_CONTRACT.queryParameter}=${version}`, { method: "POST", body: form });
      await res.arrayBuffer();
      if (res.status !== 200 || res.headers.get(MODEL_VERSION_CONTRACT.responseHeader) !== version) {
        throw new Error(`/predict for ${version} answered ${res.status} from ${res.headers.get(MODEL_VERSION_CONTRACT.responseHeader)}`);
      }
    }
  }
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const repo = resolve(__dirname, "..", "..");
  const workDir = mkdtempSync(join(tmpdir(), "bench-model-memory-"));
  onInterrupt(() => rmSync(workDir, { recursive: true, force: true }));
  const repository = join(workDir, "models");
  buildRepository(repo, repository);
  const image = readFileSync(join(repo, "__tests__/fixtures/cifar10/ship/0001.jpg"));
  // The version every case loads and answers by default; each case's own policy (below) overrides ctx's.
  const defaultVersion = CASES[0].versions[0];
  const ctx: RunContext = {
    repo,
    serviceEntry: join(repo, "build/service/main.js"),
    python: "",
    workDir,
    readyTimeoutMs: 60_000,
    modelVersion: defaultVersion,
  };

  const measurements: Measurement[] = [];
  try {
    // Cases alternate within each repeat, so a slow phase of the machine does not land on one case only.
    for (let repeat = 0; repeat < opts.repeats; repeat++) {
      for (const { versions } of CASES) {
        const env = {
          CLASSIFIER_MODEL_REPOSITORY: repository,
          CLASSIFIER_MODEL_VERSION: defaultVersion,
          CLASSIFIER_MODEL_VERSION_POLICY: `specific:${versions.join(",")}`,
          CLASSIFIER_LOG_LEVEL: "warn",
        };
        const system = await startSystem(oursSystem(`versions-${versions.length}`, env, `${versions.length} versions`), ctx);
        const pid = system.child.pid!;
        const readyRssMiB = currentRssMiB(pid);
        await predictEach(system.url, versions, image, opts.requests);
        const servingRssMiB = currentRssMiB(pid);
        const peak = await stopSystem(system);
        const m = { versions: versions.length, startToReadyMs: system.startToReadyMs, readyRssMiB, servingRssMiB, peakRssMiB: peak.peakRssMiB };
        measurements.push(m);
        console.log(
          `repeat ${repeat + 1}, ${m.versions} version(s): ready in ${m.startToReadyMs.toFixed(0)} ms, RSS ${m.readyRssMiB.toFixed(0)} MiB ` +
            `at ready, ${m.servingRssMiB.toFixed(0)} MiB after ${opts.requests} predictions per version, peak ${m.peakRssMiB.toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    killAll();
    rmSync(workDir, { recursive: true, force: true });
  }

  const rows = CASES.map(({ versions }) => {
    const of = measurements.filter((m) => m.versions === versions.length);
    return {
      versions: versions.join(", "),
      count: versions.length,
      startToReadyMs: median(of.map((m) => m.startToReadyMs)),
      readyRssMiB: median(of.map((m) => m.readyRssMiB)),
      servingRssMiB: median(of.map((m) => m.servingRssMiB)),
      peakRssMiB: median(of.map((m) => m.peakRssMiB)),
    };
  });
  console.log(`\nRSS of one service process by loaded versions (median of ${opts.repeats} fresh starts each)\n`);
  console.log("| versions loaded | start to ready | RSS at ready | RSS serving | peak RSS |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.count}: ${r.versions} | ${(r.startToReadyMs / 1000).toFixed(2)} s | ${r.readyRssMiB.toFixed(0)} MiB | ` +
        `${r.servingRssMiB.toFixed(0)} MiB | ${r.peakRssMiB.toFixed(0)} MiB |`,
    );
  }
  const perVersion = (rows[2].servingRssMiB - rows[0].servingRssMiB) / 2;
  console.log(`\neach further version adds about ${perVersion.toFixed(0)} MiB while serving ((3 versions - 1 version) / 2)`);
  if (opts.json) writeFileSync(resolve(opts.json), JSON.stringify({ date: new Date().toISOString(), rows, measurements }, null, 2) + "\n");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
