/**
 * Reads a gRPC ModelInferRequest into the same pipeline input as the REST protocol (service/protocols/v2):
 * a float32 NCHW tensor, or encoded images. Tensor data comes typed (`contents.fp32_contents`,
 * `contents.bytes_contents`) or raw (`raw_input_contents`: little-endian FP32 elements; for BYTES, each
 * element a 4-byte little-endian length and its bytes, as Triton lays them out). Sizes must match the shape
 * exactly, so a message that lies about its raw size is refused before anything is allocated from it.
 */
import { endianness } from "node:os";
import { CONFIG_SCHEMA } from "../../config/schema";
import type { ModelDescription } from "../../pipeline/classifier";
import { invalidInput } from "../../pipeline/errors";
import { IMAGE_INPUT_NAME, PROBABILITIES_OUTPUT_NAME, outputNames } from "../v2/metadata";
import type { ImagesInput, InferenceRequest, RequestLimits, TensorInput } from "../v2/request";
import type { InferInputTensor, InferTensorContents, ModelInferRequest, Parameters } from "./definition";
import { notFound } from "./status";

export interface GrpcInferenceRequest extends InferenceRequest {
  /** The input came in raw_input_contents: the outputs go back in raw_output_contents, as clients then expect. */
  readonly raw: boolean;
}

const FP32_BYTES = 4;
const LENGTH_PREFIX_BYTES = 4;
const LITTLE_ENDIAN_HOST = endianness() === "LE";

/** Largest finite float32. */
const FLT_MAX = 3.4028234663852886e38;

/** Parameters whose effect this server does not implement and whose absence a client would misread. */
const UNSUPPORTED_PARAMETERS: Readonly<Record<string, string>> = {
  classification: "the classification extension is not supported; request the probabilities output",
};

/** Throws NOT_FOUND unless `name` (and `version`, when not empty) is the model this server serves. */
export function resolveModel(model: ModelDescription, name: string, version: string): void {
  if (name !== model.name) throw notFound(`Unknown model "${name}"; this server serves "${model.name}" (ModelMetadata name "${model.name}").`);
  if (version !== "" && version !== model.version) {
    throw notFound(`Model "${model.name}" has no version "${version}"; available: ${model.version}.`);
  }
}

export function parseModelInferRequest(message: ModelInferRequest, model: ModelDescription, limits: RequestLimits): GrpcInferenceRequest {
  resolveModel(model, message.model_name, message.model_version);
  checkParameters(message.parameters, "parameters");
  const { inputs, raw_input_contents: raw } = message;
  if (inputs.length !== 1) {
    throw invalidInput(
      `inputs must hold exactly one tensor, got ${inputs.length}: "${model.input.name}" (FP32, shape ` +
        `[N, ${model.input.shape.slice(1).join(", ")}]) or "${IMAGE_INPUT_NAME}" (BYTES, shape [N], image files).`,
    );
  }
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw invalidInput(`raw_input_contents holds ${raw.length} entries for ${inputs.length} input; send one per input, in order.`);
  }
  const input = readInput(inputs[0], raw.length > 0 ? raw[0] : undefined, model, limits);
  const id = message.id === "" ? undefined : message.id;
  return { id, input, outputs: readOutputs(message, model, input.kind), raw: raw.length > 0 };
}

function readInput(input: InferInputTensor, raw: Buffer | undefined, model: ModelDescription, limits: RequestLimits): TensorInput | ImagesInput {
  const where = "inputs[0]";
  const { name, datatype, shape } = input;
  checkParameters(input.parameters, `${where}.parameters`);
  if (shape.length === 0 || shape.length > 8 || shape.some((dim) => !Number.isSafeInteger(dim) || dim < 0)) {
    throw invalidInput(`${where}.shape must hold 1 to 8 non-negative dimensions, got [${shape.join(", ")}].`);
  }
  if (raw !== undefined && input.contents !== null && filledFields(input.contents).length > 0) {
    throw invalidInput(`${where}.contents must be empty when raw_input_contents is used; send the data one way.`);
  }

  if (name === model.input.name) {
    if (datatype !== "FP32") throw invalidInput(`${where} ("${name}") must have datatype FP32, got "${datatype}".`);
    const itemShape = model.input.shape.slice(1);
    if (shape.length !== itemShape.length + 1 || itemShape.some((dim, i) => shape[i + 1] !== dim)) {
      throw invalidInput(`${where}.shape must be [N, ${itemShape.join(", ")}] (N images, NCHW), got [${shape.join(", ")}].`);
    }
    const count = checkCount(shape[0], limits, where);
    const elements = shape.reduce((a, b) => a * b, 1);
    const tensor = raw === undefined ? typedFp32(input.contents, elements, where) : rawFp32(raw, elements, where);
    return { kind: "tensor", count, tensor };
  }

  if (name === IMAGE_INPUT_NAME) {
    if (datatype !== "BYTES") throw invalidInput(`${where} ("${name}") must have datatype BYTES, got "${datatype}".`);
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw invalidInput(`${where}.shape must be [N] (one image file per element), got [${shape.join(", ")}].`);
    }
    const count = checkCount(shape[0], limits, where);
    const images = raw === undefined ? typedBytes(input.contents, count, where) : rawBytes(raw, count, where);
    return { kind: "images", images };
  }

  throw invalidInput(`${where}.name "${name}" is not an input of ${model.name}: send "${model.input.name}" (FP32) or "${IMAGE_INPUT_NAME}" (BYTES).`);
}

function checkCount(count: number, limits: RequestLimits, where: string): number {
  if (count < 1) throw invalidInput(`${where}.shape[0] is the number of images and must be at least 1.`);
  if (count > limits.maxImages) {
    throw invalidInput(`${where} holds ${count} images; at most ${limits.maxImages} are accepted per request (${CONFIG_SCHEMA.maxBatchFiles.name}).`);
  }
  return count;
}

/** The repeated fields of `contents` that hold elements. */
function filledFields(contents: InferTensorContents): string[] {
  return Object.entries(contents).filter(([, values]) => Array.isArray(values) && values.length > 0).map(([field]) => field);
}

/** Exactly `field` holds data, or nothing is sent at all. */
function onlyField(contents: InferTensorContents | null, field: keyof InferTensorContents, datatype: string, where: string): void {
  const filled = contents === null ? [] : filledFields(contents);
  const others = filled.filter((name) => name !== field);
  if (others.length > 0) throw invalidInput(`${where}.contents.${others[0]} does not hold ${datatype} data; send ${field} or raw_input_contents.`);
  if (filled.length === 0) throw invalidInput(`${where} has no data: send contents.${field} or raw_input_contents.`);
}

function typedFp32(contents: InferTensorContents | null, elements: number, where: string): Float32Array {
  onlyField(contents, "fp32_contents", "FP32", where);
  const values = (contents as InferTensorContents).fp32_contents;
  if (values.length !== elements) throw invalidInput(`${where}.contents.fp32_contents holds ${values.length} elements; the shape needs ${elements}.`);
  return checkFinite(Float32Array.from(values), `${where}.contents.fp32_contents`);
}

function rawFp32(raw: Buffer, elements: number, where: string): Float32Array {
  const expected = elements * FP32_BYTES;
  if (raw.byteLength !== expected) {
    throw invalidInput(`raw_input_contents[0] holds ${raw.byteLength} bytes; ${where}'s shape needs ${elements} FP32 elements = ${expected} bytes.`);
  }
  const tensor = new Float32Array(elements);
  if (LITTLE_ENDIAN_HOST) new Uint8Array(tensor.buffer).set(raw);
  else for (let i = 0; i < elements; i++) tensor[i] = raw.readFloatLE(i * FP32_BYTES);
  return checkFinite(tensor, "raw_input_contents[0]");
}

/** NaN and infinities are no image; float32 holds nothing beyond FLT_MAX but infinity. */
function checkFinite(tensor: Float32Array, where: string): Float32Array {
  for (let i = 0; i < tensor.length; i++) {
    const value = tensor[i];
    if (!(Math.abs(value) <= FLT_MAX)) throw invalidInput(`${where}[${i}] must be a finite number, got ${value}.`);
  }
  return tensor;
}

function typedBytes(contents: InferTensorContents | null, count: number, where: string): Buffer[] {
  onlyField(contents, "bytes_contents", "BYTES", where);
  const values = (contents as InferTensorContents).bytes_contents;
  if (values.length !== count) throw invalidInput(`${where}.contents.bytes_contents holds ${values.length} elements; the shape needs ${count}.`);
  return [...values];
}

/** Triton's raw BYTES layout: per element, a 4-byte little-endian length, then that many bytes. */
function rawBytes(raw: Buffer, count: number, where: string): Buffer[] {
  const images: Buffer[] = [];
  let offset = 0;
  while (offset < raw.byteLength) {
    if (images.length === count) break;
    if (raw.byteLength - offset < LENGTH_PREFIX_BYTES) break;
    const length = raw.readUInt32LE(offset);
    offset += LENGTH_PREFIX_BYTES;
    if (length > raw.byteLength - offset) {
      throw invalidInput(`raw_input_contents[0] element ${images.length} claims ${length} bytes, but only ${raw.byteLength - offset} follow.`);
    }
    images.push(raw.subarray(offset, offset + length));
    offset += length;
  }
  if (images.length !== count || offset !== raw.byteLength) {
    throw invalidInput(
      `raw_input_contents[0] must hold exactly ${count} length-prefixed elements (${where}'s shape) and nothing after them; ` +
        `read ${images.length} in ${offset} of ${raw.byteLength} bytes.`,
    );
  }
  return images;
}

/** The outputs to return, as the REST protocol chooses them: logits only for FP32 input. */
function readOutputs(message: ModelInferRequest, model: ModelDescription, kind: "tensor" | "images"): readonly string[] {
  const known = outputNames(model);
  const available = kind === "tensor" ? known : [PROBABILITIES_OUTPUT_NAME];
  if (message.outputs.length === 0) return available;
  const names: string[] = [];
  message.outputs.forEach(({ name, parameters }, i) => {
    const where = `outputs[${i}]`;
    if (!known.includes(name)) throw invalidInput(`${where}.name "${name}" is not an output of ${model.name}; its outputs are ${known.map((n) => `"${n}"`).join(", ")}.`);
    if (names.includes(name)) throw invalidInput(`${where}.name "${name}" is requested twice.`);
    if (!available.includes(name)) {
      throw invalidInput(`${where}.name "${name}" needs the FP32 "${model.input.name}" input; for "${IMAGE_INPUT_NAME}" (BYTES) request "${PROBABILITIES_OUTPUT_NAME}".`);
    }
    checkParameters(parameters, `${where}.parameters`);
    names.push(name);
  });
  return names;
}

function checkParameters(parameters: Parameters, where: string): void {
  for (const [key, value] of Object.entries(parameters)) {
    const unsupported = Object.hasOwn(UNSUPPORTED_PARAMETERS, key) ? UNSUPPORTED_PARAMETERS[key] : undefined;
    const off = value.parameter_choice === "bool_param" && !value.bool_param;
    if (unsupported !== undefined && !off) throw invalidInput(`${where}.${key}: ${unsupported}.`);
  }
}
