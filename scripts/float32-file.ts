/**
 * Reads the raw little-endian FP32 files the training recipe writes (golden inputs and logits, parity tensors).
 * One reader so the tests, the parity check and the benchmark cannot disagree on how those files are decoded.
 */
import { readFileSync } from "node:fs";

/**
 * The file's values, in an ArrayBuffer of their own. A small file's bytes come back as a slice of Node's shared
 * 8 KiB Buffer pool, so a view on them would carry other data in `.buffer` to whatever is handed that buffer
 * (a tensor, a worker); the bytes are copied once instead.
 */
export function readFloat32File(file: string): Float32Array {
  const bytes = readFileSync(file);
  if (bytes.byteLength % Float32Array.BYTES_PER_ELEMENT !== 0) {
    throw new Error(`${file}: ${bytes.byteLength} bytes is not a whole number of float32 values`);
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return new Float32Array(copy);
}
