/**
 * The binary tensor data extension on REST (Triton's "binary_tensor_data", also KServe's): a body may be the
 * JSON inference request followed by raw tensor bytes. The Inference-Header-Content-Length header gives the
 * JSON's size; each input whose parameters carry "binary_data_size": N takes the next N bytes, in the order the
 * inputs are listed. Inputs with JSON "data" take none, so JSON and binary inputs mix in one request.
 *
 * This module only frames: it checks that the sizes add up to the body exactly and cuts the bytes out. What
 * the bytes must hold (4 bytes per FP32 element, length-prefixed BYTES) is request.ts's check, shared with gRPC.
 */
import { invalidInput } from "../../pipeline/errors";
import { type RawInputs, isByteSize, isObject } from "./request";

/** Request and response header: the size in bytes of the JSON at the start of the body. */
export const HEADER_LENGTH_HEADER = "Inference-Header-Content-Length";

export interface InferenceBody {
  /** The JSON inference request, parsed (not yet validated: parseInferenceRequest does that). */
  readonly json: unknown;
  /** Binary data per input position, for parseInferenceRequest. */
  readonly rawInputs: RawInputs;
}

/** Splits a whole (decoded) request body into its JSON and the binary data of each input. */
export function splitInferenceBody(body: Buffer, headerLength: string | undefined): InferenceBody {
  if (headerLength === undefined) {
    // JSON followed by tensor bytes, sent without the header that says where the JSON ends.
    const framedWithoutHeader = body.includes("binary_data_size");
    const json = parseJson(
      body,
      framedWithoutHeader
        ? `The request body is not valid JSON; a body with binary tensor data after the JSON needs the ${HEADER_LENGTH_HEADER} header giving the JSON's size.`
        : "The request body is not valid JSON.",
    );
    const binary = binaryInputs(json).find(({ size }) => size !== undefined);
    if (binary !== undefined) {
      throw invalidInput(
        `inputs[${binary.index}].parameters.binary_data_size is set, but the request has no ${HEADER_LENGTH_HEADER} header ` +
          "giving the size of the JSON before the binary data.",
      );
    }
    return { json, rawInputs: [] };
  }

  const jsonSize = /^\d{1,16}$/.test(headerLength.trim()) ? Number(headerLength.trim()) : Number.NaN;
  if (!Number.isSafeInteger(jsonSize) || jsonSize < 1) {
    throw invalidInput(`${HEADER_LENGTH_HEADER} must be the JSON's size in bytes (a positive integer), got "${headerLength.slice(0, 32)}".`);
  }
  if (jsonSize > body.length) {
    throw invalidInput(`${HEADER_LENGTH_HEADER} is ${jsonSize}, but the whole body is only ${body.length} bytes.`);
  }
  const json = parseJson(
    body.subarray(0, jsonSize),
    `The first ${jsonSize} bytes of the body (${HEADER_LENGTH_HEADER}) are not valid JSON; the header must give the JSON's exact size.`,
  );
  const binary = body.subarray(jsonSize);
  const rawInputs: (Buffer | undefined)[] = [];
  let offset = 0;
  for (const { index, size } of binaryInputs(json)) {
    if (size === undefined) continue;
    if (size > binary.length - offset) {
      throw invalidInput(
        `inputs[${index}].parameters.binary_data_size is ${size}, which runs past the body: ${binary.length - offset} bytes of ` +
          `binary data remain after byte ${jsonSize + offset}.`,
      );
    }
    rawInputs[index] = binary.subarray(offset, offset + size);
    offset += size;
  }
  if (offset !== binary.length) {
    throw invalidInput(
      `${binary.length - offset} bytes after the JSON are claimed by no input's binary_data_size ` +
        `(${offset} of ${binary.length} bytes of binary data were); the sizes must add up to the body exactly.`,
    );
  }
  return { json, rawInputs };
}

/** Each input's position and declared binary size (undefined: JSON data), in order. Malformed inputs are skipped here and refused by parseInferenceRequest. */
function binaryInputs(json: unknown): { index: number; size: number | undefined }[] {
  const inputs = isObject(json) ? json["inputs"] : undefined;
  if (!Array.isArray(inputs)) return [];
  return inputs.map((input: unknown, index) => {
    const parameters = isObject(input) ? input["parameters"] : undefined;
    if (!isObject(parameters) || !Object.hasOwn(parameters, "binary_data_size")) return { index, size: undefined };
    const size = parameters["binary_data_size"];
    if (!isByteSize(size)) {
      throw invalidInput(`inputs[${index}].parameters.binary_data_size must be a non-negative integer number of bytes, got ${JSON.stringify(size)?.slice(0, 32)}.`);
    }
    return { index, size };
  });
}

function parseJson(bytes: Buffer, message: string): unknown {
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch {
    throw invalidInput(message);
  }
}
