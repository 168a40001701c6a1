/**
 * ONNX Runtime (onnxruntime-node) against PyTorch on the 5,000 CIFAR-10 test images, on identical inputs.
 *
 *   npm run model:export -- --recipe NAME     # writes models/train/work/parity/<the recipe's version>/*
 *   npm run parity [-- --model-version 1.2.0] [--dir models/train/work/parity/1.2.0]
 *
 * The version defaults to CLASSIFIER_MODEL_VERSION's default, and the folder to that version's, so the committed
 * ONNX file is always compared with the PyTorch logits of the same version. The inputs are the recipe's own
 * preprocessed tensors, so this isolates the runtime from the decoder.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { CONFIG_SCHEMA } from "../service/config/schema";
import { itemShape, itemSize, loadModelCard } from "../service/model/card";
import { committedVersionFiles } from "../service/model/repository";
import { cliOptions } from "./cli-options";
import { readFloat32File } from "./float32-file";

/** Written by models/train/export.py (paths.py's parity_dir), one folder per exported version. */
const PARITY_ROOT = "models/train/work/parity";

function parseArgs(argv: readonly string[]): { version: string; dir: string } {
  let version = CONFIG_SCHEMA.modelVersion.default;
  let dir: string | undefined;
  for (const { arg, value } of cliOptions(argv)) {
    if (arg === "--model-version") version = value();
    else if (arg === "--dir") dir = value();
    else throw new Error(`unknown option ${arg} (options: --model-version V, --dir D)`);
  }
  return { version, dir: resolve(dir ?? join(PARITY_ROOT, version)) };
}

async function main(): Promise<void> {
  const { version, dir } = parseArgs(process.argv.slice(2));
  const { cardPath, modelPath: relativeModelPath } = committedVersionFiles(version);
  const modelPath = resolve(relativeModelPath);
  for (const file of [modelPath, join(dir, "test_logits.f32")]) {
    if (!existsSync(file)) {
      throw new Error(`${file} is missing: export version ${version} first (npm run model:export -- --recipe <its recipe>)`);
    }
  }
  const inputs = readFloat32File(join(dir, "test_inputs.f32"));
  const expected = readFloat32File(join(dir, "test_logits.f32"));
  // The card fixes the tensor layout, so a version with another input size or label set needs no edit here.
  const card = await loadModelCard(cardPath);
  const classes = card.labels.length;
  const pixels = itemSize(card.input);
  const imageShape = itemShape(card.input);
  const n = inputs.length / pixels;
  if (!Number.isInteger(n) || expected.length !== n * classes) {
    throw new Error(`${dir}: ${inputs.length} input floats and ${expected.length} logits do not make whole images of ${pixels} floats with ${classes} logits each`);
  }
  const session = await ort.InferenceSession.create(modelPath);
  let agree = 0;
  let maxDiff = 0;
  const batch = 250;
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const tensor = new ort.Tensor("float32", inputs.subarray(start * pixels, (start + size) * pixels), [size, ...imageShape]);
    const out = await session.run({ [session.inputNames[0]]: tensor });
    const logits = out[session.outputNames[0]].data as Float32Array;
    for (let i = 0; i < size; i++) {
      const got = logits.subarray(i * classes, (i + 1) * classes);
      const want = expected.subarray((start + i) * classes, (start + i + 1) * classes);
      if (argmax(got) === argmax(want)) agree++;
      for (let c = 0; c < classes; c++) maxDiff = Math.max(maxDiff, Math.abs(got[c] - want[c]));
    }
  }
  const ok = agree / n >= 0.999 && maxDiff <= 1e-3;
  console.log(`model version: ${version} (${modelPath}); PyTorch tensors: ${dir}`);
  console.log(`images: ${n}`);
  console.log(`top-1 identical: ${agree}/${n} (${((100 * agree) / n).toFixed(2)}%)`);
  console.log(`max |logit difference|: ${maxDiff.toExponential(2)}`);
  console.log(ok ? "parity: PASS (>= 99.9% identical top-1, logits within 1e-3)" : "parity: FAIL");
  if (!ok) process.exitCode = 1;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
