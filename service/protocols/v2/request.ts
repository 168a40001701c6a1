/**
 * Reads an Open Inference Protocol inference request (already parsed JSON) into plain pipeline input: a float32
 * NCHW tensor, or encoded images. Every check the protocol implies happens here, so a malformed request never
 * reaches the pipeline; failures are "invalid_input" PipelineErrors whose message names the offending field.
 * Tensor data comes as JSON "data", or as raw bytes that the transport cut out of its message (REST: the binary
 * tensor data extension; gRPC: raw_input_contents), in the format of tensor-bytes.ts.
 */
import { CONFIG_SCHEMA } from "../../config/schema";
import type { ModelDescription } from "../../pipeline/classifier";
import { invalidInput } from "../../pipeline/errors";
import { IMAGE_INPUT_NAME, PROBABILITIES_OUTPUT_NAME, outputNames } from "./metadata";
import { bytesElementsFromBytes, fp32FromBytes } from "./tensor-bytes";

/** Already-preprocessed images: `count` x 3 x H x W floats, row-major (NCHW). */
export interface TensorInput {
  readonly kind: "tensor";
  readonly count: number;
  readonly tensor: Float32Array;
}

/** Encoded image files, decoded by the pipeline's preprocessing. */
export interface ImagesInput {
  readonly kind: "images";
  readonly images: readonly Buffer[];
}

export interface InferenceRequest {
  /** The client's "id", echoed in the response. */
  readonly id: string | undefined;
  readonly input: TensorInput | ImagesInput;
  /** Output names to return, in the order asked for; every output the input allows when the request named none. */
  readonly outputs: readonly string[];
}

export interface RequestLimits {
  /** Most images (batch entries) in one request. */
  readonly maxImages: number;
}

/**
 * Raw tensor data per input, by the input's position in "inputs" (undefined: that input's data is JSON). REST
 * fills it from the binary tensor data extension, gRPC from raw_input_contents.
 */
export type RawInputs = readonly (Uint8Array | undefined)[];

/** Largest finite float32. */
const FLT_MAX = 3.4028234663852886e38;

/** Standard base64 with padding, as every base64 encoder writes it (line breaks removed first). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Parameters whose effect this server does not implement and whose absence a client would misread (it would
 * read strings as scores): refused rather than ignored.
 */
const UNSUPPORTED_PARAMETERS: Readonly<Record<string, string>> = {
  classification: "the classification extension is not supported; request the probabilities output",
};

/**
 * The binary tensor data extension's parameters and the type each must have. The transport acts on them (it
 * cuts the bytes out and encodes the outputs); here they are only checked, so a wrong type is refused whichever
 * transport carried it.
 */
const BINARY_PARAMETER_TYPES: Readonly<Record<string, "boolean" | "size">> = {
  binary_data_output: "boolean",
  binary_data: "boolean",
  binary_data_size: "size",
};

/**
 * `rawInputs`, when given, holds the binary data of the inputs whose data is not JSON (see RawInputs); an input
 * may carry JSON data or raw bytes, never both.
 */
export function parseInferenceRequest(body: unknown, model: ModelDescription, limits: RequestLimits, rawInputs: RawInputs = []): InferenceRequest {
  if (!isObject(body)) throw invalidInput("The inference request must be a JSON object with an \"inputs\" array.");
  const id = body["id"];
  if (id !== undefined && typeof id !== "string") throw invalidInput(`"id" must be a string, got ${describe(id)}.`);
  checkParameters(body["parameters"], '"parameters"');

  const inputs = body["inputs"];
  if (!Array.isArray(inputs)) throw invalidInput(`"inputs" must be an array of input tensors, got ${describe(inputs)}.`);
  if (inputs.length !== 1) {
    throw invalidInput(
      `"inputs" must hold exactly one tensor, got ${inputs.length}: "${model.input.name}" (FP32, shape ` +
        `[N, ${model.input.shape.slice(1).join(", ")}]) or "${IMAGE_INPUT_NAME}" (BYTES, shape [N], base64 image files).`,
    );
  }
  if (rawInputs.length > inputs.length) {
    throw invalidInput(`The request carries binary data for ${rawInputs.length} inputs, but "inputs" lists ${inputs.length}.`);
  }
  const input = readInput(inputs[0], model, limits, rawInputs[0]);
  return { id, input, outputs: readOutputs(body["outputs"], model, input.kind) };
}

function readInput(input: unknown, model: ModelDescription, limits: RequestLimits, raw: Uint8Array | undefined): TensorInput | ImagesInput {
  const where = "inputs[0]";
  if (!isObject(input)) throw invalidInput(`${where} must be an object with name, shape, datatype and data.`);
  const { name, datatype } = input;
  if (typeof name !== "string") throw invalidInput(`${where}.name must be a string, got ${describe(name)}.`);
  if (typeof datatype !== "string") throw invalidInput(`${where}.datatype must be a string, got ${describe(datatype)}.`);
  checkParameters(input["parameters"], `${where}.parameters`);
  checkBinarySize(input["parameters"], raw, where);
  const shape = readShape(input["shape"], `${where}.shape`);
  if (raw !== undefined && input["data"] !== undefined) {
    throw invalidInput(`${where} carries both JSON "data" and binary data; send its elements one way only.`);
  }
  if (raw === undefined && input["data"] === undefined) {
    throw invalidInput(
      `${where}.data is missing; send the tensor's elements as a JSON array, or as binary data with "parameters": {"binary_data_size": <bytes>}.`,
    );
  }

  if (name === model.input.name) {
    if (datatype !== "FP32") throw invalidInput(`${where} ("${name}") must have datatype FP32, got "${datatype}".`);
    const itemShape = model.input.shape.slice(1);
    const expected = `[N, ${itemShape.join(", ")}]`;
    if (shape.length !== itemShape.length + 1 || itemShape.some((dim, i) => shape[i + 1] !== dim)) {
      throw invalidInput(`${where}.shape must be ${expected} (N images, NCHW), got [${shape.join(", ")}].`);
    }
    const count = checkCount(shape[0], limits, where);
    const elementCount = shape.reduce((a, b) => a * b, 1);
    const tensor = raw === undefined ? readFp32(input["data"], shape, `${where}.data`) : checkFinite(fp32FromBytes(raw, elementCount, `${where} (binary)`), `${where} (binary)`);
    return { kind: "tensor", count, tensor };
  }

  if (name === IMAGE_INPUT_NAME) {
    if (datatype !== "BYTES") throw invalidInput(`${where} ("${name}") must have datatype BYTES, got "${datatype}".`);
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw invalidInput(`${where}.shape must be [N] (one base64 image file per element), got [${shape.join(", ")}].`);
    }
    const count = checkCount(shape[0], limits, where);
    // Binary BYTES elements are the image files themselves, length-prefixed: no base64.
    if (raw !== undefined) return { kind: "images", images: bytesElementsFromBytes(raw, count, `${where} (binary)`) };
    const images: Buffer[] = [];
    forEachElement(input["data"], shape, `${where}.data`, (value) => {
      if (typeof value !== "string") return `must be a base64 string, got ${describe(value)}`;
      const image = decodeBase64(value);
      if (image === undefined) return "is not base64 (standard alphabet, padded); encode the image file with base64";
      images.push(image);
      return undefined;
    });
    return { kind: "images", images };
  }

  throw invalidInput(
    `${where}.name "${name}" is not an input of ${model.name}: send "${model.input.name}" (FP32) or "${IMAGE_INPUT_NAME}" (BYTES).`,
  );
}

/**
 * The outputs to return. Encoded images go through the pipeline's classifyImages, which yields probabilities
 * but not the raw logits: for them the logits output is refused when asked for, and left out by default.
 */
function readOutputs(outputs: unknown, model: ModelDescription, kind: "tensor" | "images"): readonly string[] {
  const known = outputNames(model);
  const available = kind === "tensor" ? known : [PROBABILITIES_OUTPUT_NAME];
  if (outputs === undefined) return available;
  if (!Array.isArray(outputs) || outputs.length === 0) {
    throw invalidInput(`"outputs" must be a non-empty array of {"name"} objects, or absent for all outputs; got ${describe(outputs)}.`);
  }
  const names: string[] = [];
  outputs.forEach((output, i) => {
    const where = `outputs[${i}]`;
    if (!isObject(output) || typeof output["name"] !== "string") throw invalidInput(`${where} must be an object with a string "name".`);
    const name = output["name"];
    if (!known.includes(name)) throw invalidInput(`${where}.name "${name}" is not an output of ${model.name}; its outputs are ${known.map((n) => `"${n}"`).join(", ")}.`);
    if (names.includes(name)) throw invalidInput(`${where}.name "${name}" is requested twice.`);
    if (!available.includes(name)) {
      throw invalidInput(`${where}.name "${name}" needs the FP32 "${model.input.name}" input; for "${IMAGE_INPUT_NAME}" (BYTES) request "${PROBABILITIES_OUTPUT_NAME}".`);
    }
    checkParameters(output["parameters"], `${where}.parameters`);
    names.push(name);
  });
  return names;
}

/** $parameters: an object whose values are strings, numbers or booleans. */
function checkParameters(parameters: unknown, where: string): void {
  if (parameters === undefined) return;
  if (!isObject(parameters)) throw invalidInput(`${where} must be an object, got ${describe(parameters)}.`);
  for (const [key, value] of Object.entries(parameters)) {
    if (!["string", "number", "boolean"].includes(typeof value)) {
      throw invalidInput(`${where}.${key} must be a string, number or boolean, got ${describe(value)}.`);
    }
    // Own keys only: a parameter named "toString" or "constructor" is an ordinary, ignored parameter.
    const unsupported = Object.hasOwn(UNSUPPORTED_PARAMETERS, key) ? UNSUPPORTED_PARAMETERS[key] : undefined;
    if (unsupported !== undefined && value !== false) throw invalidInput(`${where}.${key}: ${unsupported}.`);
    const binaryType = Object.hasOwn(BINARY_PARAMETER_TYPES, key) ? BINARY_PARAMETER_TYPES[key] : undefined;
    if (binaryType === "boolean" && typeof value !== "boolean") throw invalidInput(`${where}.${key} must be true or false, got ${describe(value)}.`);
    if (binaryType === "size" && !isByteSize(value)) {
      throw invalidInput(`${where}.${key} must be a non-negative integer number of bytes, got ${describe(value)}.`);
    }
  }
}

/** A byte count: a non-negative safe integer. */
export function isByteSize(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** binary_data_size, when an input declares it, must name exactly the raw bytes the transport found for it. */
function checkBinarySize(parameters: unknown, raw: Uint8Array | undefined, where: string): void {
  const declared = isObject(parameters) && Object.hasOwn(parameters, "binary_data_size") ? parameters["binary_data_size"] : undefined;
  if (declared === undefined) return;
  if (raw === undefined) {
    throw invalidInput(`${where}.parameters.binary_data_size is ${describe(declared)}, but the request carries no binary data for this input.`);
  }
  if (declared !== raw.length) {
    throw invalidInput(`${where}.parameters.binary_data_size is ${describe(declared)}, but ${raw.length} bytes of binary data came for it.`);
  }
}

/** Binary FP32 can hold NaN and infinities, which JSON cannot: refused the same, so both encodings accept the same tensors. */
function checkFinite(values: Float32Array, where: string): Float32Array {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw invalidInput(`${where} element ${i} must be a finite number, got ${values[i]}.`);
  }
  return values;
}

/** Each dimension a non-negative integer (the protocol: representable as an unsigned 64-bit integer). */
function readShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8) {
    throw invalidInput(`${where} must be a non-empty array of dimensions, got ${describe(shape)}.`);
  }
  for (const dim of shape) {
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
      throw invalidInput(`${where} must hold non-negative integers, got [${shape.map((d) => describe(d)).join(", ")}].`);
    }
  }
  return shape as number[];
}

function checkCount(count: number, limits: RequestLimits, where: string): number {
  if (count < 1) throw invalidInput(`${where}.shape[0] is the number of images and must be at least 1.`);
  if (count > limits.maxImages) {
    throw invalidInput(`${where} holds ${count} images; at most ${limits.maxImages} are accepted per request (${CONFIG_SCHEMA.maxBatchFiles.name}).`);
  }
  return count;
}

/** FP32 elements, flat or nested exactly as `shape`, into one Float32Array. */
function readFp32(data: unknown, shape: readonly number[], where: string): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let next = 0;
  forEachElement(data, shape, where, (value) => {
    if (typeof value !== "number" || !Number.isFinite(value) || Math.abs(value) > FLT_MAX) {
      return `must be a finite number within the FP32 range, got ${describe(value)}`;
    }
    out[next++] = value;
    return undefined;
  });
  return out;
}

/**
 * Visits the elements of tensor data in row-major order: either flattened (one array of every element) or in
 * the tensor's natural nesting, which must then match `shape` level by level. Nesting deeper than `shape` is
 * refused, so the walk never recurses more than shape.length levels however the JSON is built. `visit` returns
 * what is wrong with an element, if anything; the error then names the element's position.
 */
function forEachElement(data: unknown, shape: readonly number[], where: string, visit: (value: unknown) => string | undefined): void {
  const total = shape.reduce((a, b) => a * b, 1);
  if (!Array.isArray(data)) throw invalidInput(`${where} must be an array, got ${describe(data)}.`);
  // Flattened unless its first element is an array: then it must be nested exactly as the shape.
  if (shape.length === 1 || !Array.isArray(data[0])) {
    if (data.length !== total) throw invalidInput(`${where} holds ${elements(data.length)}; shape [${shape.join(", ")}] needs ${total}.`);
    for (let i = 0; i < data.length; i++) {
      const problem = visit(data[i]);
      if (problem !== undefined) throw invalidInput(`${where}[${i}] ${problem}.`);
    }
    return;
  }
  const walk = (node: unknown, depth: number, path: string): void => {
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw invalidInput(
        `${path} must be an array of ${elements(shape[depth])} (shape [${shape.join(", ")}]), got ${describe(node)}; ` +
          `or send all ${total} elements as one flat array.`,
      );
    }
    if (depth < shape.length - 1) {
      for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${path}[${i}]`);
      return;
    }
    for (let i = 0; i < node.length; i++) {
      const problem = visit(node[i]);
      if (problem !== undefined) throw invalidInput(`${path}[${i}] ${problem}.`);
    }
  };
  walk(data, 0, where);
}

/** The bytes of strict base64 text (line breaks allowed, as `base64` writes them); undefined when it is not. */
function decodeBase64(text: string): Buffer | undefined {
  const compact = /\s/.test(text) ? text.replace(/\s+/g, "") : text;
  return compact.length % 4 === 0 && BASE64.test(compact) ? Buffer.from(compact, "base64") : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function elements(count: number): string {
  return count === 1 ? "1 element" : `${count} elements`;
}

/** A short rendering of a JSON value for an error message, cheap however large the value is. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return `an array of ${elements(value.length)}`;
  if (typeof value === "object" && value !== null) return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}...` : value);
  return String(value);
}
