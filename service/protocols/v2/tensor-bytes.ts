/**
 * Tensor data as raw bytes, the way the binary tensor data extension (REST) and raw_input_contents (gRPC) carry
 * it: little-endian, row-major, no padding between elements; a BYTES element is a 4-byte little-endian unsigned
 * length followed by that many bytes. Transport-independent: the caller says where the bytes came from.
 */
import { invalidInput } from "../../pipeline/errors";

/** Bytes per FP32 element. */
export const FP32_SIZE = 4;

/** Bytes of the length prefix in front of each BYTES element. */
export const BYTES_LENGTH_PREFIX = 4;

/** `count` FP32 elements from exactly count x 4 little-endian bytes. */
export function fp32FromBytes(bytes: Uint8Array, count: number, where: string): Float32Array {
  if (bytes.length !== count * FP32_SIZE) {
    throw invalidInput(
      `${where} holds ${bytes.length} bytes of binary data; ${count} FP32 elements need ${count * FP32_SIZE} (4 bytes each, little-endian).`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * FP32_SIZE, true);
  return out;
}

/** FP32 elements as little-endian bytes. */
export function fp32ToBytes(values: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(values.length * FP32_SIZE);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], i * FP32_SIZE);
  return out;
}

/**
 * The elements of a BYTES tensor: each a 4-byte little-endian length, then that many bytes. Exactly `count`
 * elements, and nothing after the last one. The elements are views into `bytes`, not copies.
 */
export function bytesElementsFromBytes(bytes: Uint8Array, count: number, where: string): Buffer[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const elements: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (buffer.length - offset < BYTES_LENGTH_PREFIX) {
      throw invalidInput(
        `${where} ends after ${elements.length} of ${count} BYTES elements: element ${i} needs a 4-byte length prefix at byte ${offset}, ` +
          `but only ${buffer.length - offset} bytes remain.`,
      );
    }
    const length = buffer.readUInt32LE(offset);
    offset += BYTES_LENGTH_PREFIX;
    if (length > buffer.length - offset) {
      throw invalidInput(
        `${where} element ${i} claims ${length} bytes at byte ${offset}, but only ${buffer.length - offset} remain.`,
      );
    }
    elements.push(buffer.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== buffer.length) {
    throw invalidInput(`${where} has ${buffer.length - offset} bytes after its ${count} BYTES elements; the shape says there are no more.`);
  }
  return elements;
}
