/**
 * Reads the raw little-endian FP32 files the training recipe writes (golden inputs and logits, parity tensors).
 * One reader so the tests, the parity check and the benchmark cannot disagree on how those files are decoded.
 */
import { readFileSync } from "node:fs";

/**
 * The file's values, in a buffer of their own: `readFileSync` may hand back a slice of a shared pool whose offset
 * is not a multiple of 4, which a Float32Array view cannot start at, so the bytes are copied once.
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
