/**
 * ONNX Runtime (onnxruntime-node) against PyTorch on the 5,000 CIFAR-10 test images, on identical inputs.
 *
 *   /usr/bin/python3 models/train/export.py   # writes models/train/work/parity/*
 *   npm run parity
 *
 * The inputs are the recipe's own preprocessed tensors, so this isolates the runtime from the decoder.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { committedVersionFiles } from "../service/model/repository";

async function main(): Promise<void> {
  const dir = resolve(process.argv[2] ?? "models/train/work/parity");
  const inputs = readF32(join(dir, "test_inputs.f32"));
  const expected = readF32(join(dir, "test_logits.f32"));
  const classes = 10;
  const pixels = 3 * 32 * 32;
  const n = inputs.length / pixels;
  // The default version: the one an export just wrote (models/train/export.py writes its card's version).
  const session = await ort.InferenceSession.create(resolve(committedVersionFiles().modelPath));
  let agree = 0;
  let maxDiff = 0;
  const batch = 250;
  for (let start = 0; start < n; start += batch) {
    const size = Math.min(batch, n - start);
    const tensor = new ort.Tensor("float32", inputs.subarray(start * pixels, (start + size) * pixels), [size, 3, 32, 32]);
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
  console.log(`images: ${n}`);
  console.log(`top-1 identical: ${agree}/${n} (${((100 * agree) / n).toFixed(2)}%)`);
  console.log(`max |logit difference|: ${maxDiff.toExponential(2)}`);
  console.log(ok ? "parity: PASS (>= 99.9% identical top-1, logits within 1e-3)" : "parity: FAIL");
  if (!ok) process.exitCode = 1;
}

function readF32(path: string): Float32Array {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
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
