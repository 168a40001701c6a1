/**
 * End-to-end accuracy through the service's HTTP API: every JPEG of a CIFAR-10 archive is posted to /predict.
 *
 *   npm run eval -- ../shared/data/cifar10/test.tar.gz                 # starts the service on a free port
 *   npm run eval -- ../shared/data/cifar10/test.tar.gz --url http://127.0.0.1:8000   # a running service
 *   options: --concurrency 8  --limit 500  --json out.json
 *            --model-version 1.0.0   evaluate another committed version (default: CLASSIFIER_MODEL_VERSION's default)
 *            --update-card   record the figures in that version's model card (evaluation.endToEnd)
 *
 * Prints top-1, top-5, per-class top-1 and throughput, and the model card's PyTorch figures beside them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { CONFIG_SCHEMA } from "../service/config/schema";
import { HTTP_CONTRACT, MODEL_VERSION_CONTRACT } from "../service/contract/http";
import { committedVersionFiles } from "../service/model/repository";
import { cliOptions } from "./cli-options";
import { freePort } from "./free-port";
import { readTarball } from "./tarball";

interface Options {
  archive: string;
  url?: string;
  concurrency: number;
  limit: number;
  json?: string;
  /** The version to evaluate: the started service loads only it; a running service (--url) is asked for it. */
  modelVersion: string;
  updateCard: boolean;
}

interface TopKEntry {
  label: string;
  index: number;
  probability: number;
}

interface CardFigures {
  labels: string[];
  evaluation?: { top1: number; top5: number; perClassTop1: Record<string, number> };
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { archive: "", concurrency: 8, limit: Infinity, modelVersion: CONFIG_SCHEMA.modelVersion.default, updateCard: false };
  for (const { arg, value: next } of cliOptions(argv)) {
    if (arg === "--url") opts.url = next().replace(/\/$/, "");
    else if (arg === "--concurrency") opts.concurrency = Number(next());
    else if (arg === "--limit") opts.limit = Number(next());
    else if (arg === "--json") opts.json = next();
    else if (arg === "--update-card") opts.updateCard = true;
    else if (arg === "--model-version") opts.modelVersion = next();
    else if (!arg.startsWith("--")) opts.archive = arg;
    else throw new Error(`unknown option ${arg}`);
  }
  if (!opts.archive) throw new Error("usage: npm run eval -- <cifar10 test.tar.gz> [--url URL] [--concurrency N]");
  if (!(opts.concurrency >= 1)) throw new Error("--concurrency must be at least 1");
  return opts;
}

async function waitReady(url: string, child: ChildProcess | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`service exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url + HTTP_CONTRACT.probes.ready);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`service at ${url} was not ready within ${timeoutMs} ms`);
}

async function startService(version: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const entry = resolve(__dirname, "..", "service", "main.js");
  const child = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      CLASSIFIER_PORT: String(port),
      CLASSIFIER_HOST: "127.0.0.1",
      CLASSIFIER_LOG_LEVEL: "warn",
      CLASSIFIER_RATE_LIMIT_PER_MINUTE: "0",
      [CONFIG_SCHEMA.modelVersion.name]: version,
      [CONFIG_SCHEMA.modelVersionPolicy.name]: `specific:${version}`,
      // Accuracy is measured over HTTP; a gRPC listener on the default port could collide with a running service.
      CLASSIFIER_GRPC_ENABLED: "false",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child, 60_000);
  return { url, child };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const cardPath = resolve(committedVersionFiles(opts.modelVersion).cardPath);
  const card = JSON.parse(readFileSync(cardPath, "utf8")) as CardFigures;
  const images = readTarball(opts.archive)
    .filter((e) => /\.(jpe?g|png)$/i.test(e.path))
    .map((e) => ({ ...e, label: basename(dirname(e.path)) }))
    .filter((e) => card.labels.includes(e.label))
    .slice(0, opts.limit);
  if (images.length === 0) throw new Error(`${opts.archive} holds no images in <class>/<file> folders`);

  const service = opts.url ? undefined : await startService(opts.modelVersion);
  const url = opts.url ?? service!.url;
  if (opts.url) await waitReady(url, undefined, 10_000);

  const total: Record<string, number> = {};
  const hit1: Record<string, number> = {};
  let top1 = 0;
  let top5 = 0;
  let errors = 0;
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const image = images[next++];
      const form = new FormData();
      form.append("file", new Blob([image.data], { type: "image/jpeg" }), basename(image.path));
      const query = `top_k=5&${MODEL_VERSION_CONTRACT.queryParameter}=${encodeURIComponent(opts.modelVersion)}`;
      const res = await fetch(`${url}/predict?${query}`, { method: "POST", body: form });
      total[image.label] = (total[image.label] ?? 0) + 1;
      if (res.status !== 200) {
        errors++;
        console.error(`${image.path}: HTTP ${res.status} ${await res.text()}`);
        continue;
      }
      const body = (await res.json()) as { top_k: TopKEntry[] };
      const labels = body.top_k.map((t) => t.label);
      if (labels[0] === image.label) {
        top1++;
        hit1[image.label] = (hit1[image.label] ?? 0) + 1;
      }
      if (labels.includes(image.label)) top5++;
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    service?.child.kill("SIGTERM");
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const n = images.length;
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  // Only classes that had images: a --limit run takes the archive's first images, which may cover a few classes.
  const perClass: Record<string, number> = Object.fromEntries(
    card.labels.filter((l) => (total[l] ?? 0) > 0).map((l) => [l, (hit1[l] ?? 0) / total[l]]),
  );
  console.log(`\nEnd-to-end evaluation of ${opts.modelVersion} through ${url}/predict (${n} images, concurrency ${opts.concurrency})`);
  console.log(`| metric | HTTP (sharp + ONNX Runtime) | model card (PyTorch) |`);
  console.log(`|---|---|---|`);
  console.log(`| top-1 | ${pct(top1 / n)} | ${card.evaluation ? pct(card.evaluation.top1) : "-"} |`);
  console.log(`| top-5 | ${pct(top5 / n)} | ${card.evaluation ? pct(card.evaluation.top5) : "-"} |`);
  for (const label of card.labels) {
    const cardValue = card.evaluation?.perClassTop1[label];
    const measured = perClass[label] === undefined ? "- (no images)" : pct(perClass[label]);
    console.log(`| ${label} | ${measured} | ${cardValue === undefined ? "-" : pct(cardValue)} |`);
  }
  console.log(`\nerrors: ${errors}; throughput: ${(n / seconds).toFixed(1)} images/s over ${seconds.toFixed(1)} s`);
  const round = (x: number): number => Math.round(x * 1e4) / 1e4;
  const report = {
    method: `each JPEG of ${basename(opts.archive)} posted to /predict (sharp decode + ONNX Runtime), npm run eval`,
    images: n,
    top1: round(top1 / n),
    top5: round(top5 / n),
    perClassTop1: Object.fromEntries(Object.entries(perClass).map(([label, value]) => [label, round(value)])),
    errors,
    imagesPerSecond: Math.round((10 * n) / seconds) / 10,
  };
  if (opts.json) writeFileSync(resolve(opts.json), JSON.stringify(report, null, 2) + "\n");
  if (opts.updateCard && errors === 0 && opts.limit === Infinity) {
    const full = JSON.parse(readFileSync(cardPath, "utf8")) as { evaluation: Record<string, unknown> };
    full.evaluation.endToEnd = report;
    writeFileSync(cardPath, JSON.stringify(full, null, 2) + "\n");
    console.log(`recorded in ${cardPath} (evaluation.endToEnd)`);
  }
  if (errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
