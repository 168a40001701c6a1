/**
 * What the Open Inference Protocol (KServe v2) says about this server and its one model: server metadata,
 * model metadata, and the names of the tensors a request may carry and a response may return.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ModelDescription } from "../../pipeline/classifier";

/** The protocol's platform name for "an ONNX model encoded for ONNX Runtime". */
export const PLATFORM = "onnx_onnxv1";

/**
 * Server-specific extension: instead of the model's FP32 input, a request may send one BYTES tensor of
 * encoded image files (base64), which the server decodes with the model card's preprocessing.
 */
export const IMAGE_BYTES_EXTENSION = "image_bytes_input";

/**
 * Triton's binary tensor data extension (REST): tensor data as raw bytes after the JSON, sized by
 * Inference-Header-Content-Length and each tensor's "binary_data_size" (binary-body.ts, binary-response.ts).
 */
export const BINARY_TENSOR_DATA_EXTENSION = "binary_tensor_data";

/** Name of the BYTES input of the image bytes extension; its shape is [N] (or [N, 1]), one image per element. */
export const IMAGE_INPUT_NAME = "image";

/** The second output: softmax of the logits, computed by the pipeline's postprocess stage. */
export const PROBABILITIES_OUTPUT_NAME = "probabilities";

export interface MetadataTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly MetadataTensor[];
  readonly outputs: readonly MetadataTensor[];
}

/** Output names in the order a response lists them when the request names none. */
export function outputNames(model: ModelDescription): readonly string[] {
  return [model.output.name, PROBABILITIES_OUTPUT_NAME];
}

/**
 * Model metadata. `inputs` lists only the model's own FP32 input, because the protocol reads `inputs` as
 * "required by the model" and a request sends either it or the BYTES input of the image bytes extension, never
 * both. Every output listed is returned when a request does not choose. `versions` lists every loaded version.
 */
export function modelMetadata(model: ModelDescription, loadedVersions: readonly string[] = [model.version]): ModelMetadata {
  const classes = model.output.shape.slice(1);
  return {
    name: model.name,
    versions: [...loadedVersions],
    platform: PLATFORM,
    inputs: [{ name: model.input.name, datatype: "FP32", shape: [...model.input.shape] }],
    outputs: [
      { name: model.output.name, datatype: "FP32", shape: [-1, ...classes] },
      { name: PROBABILITIES_OUTPUT_NAME, datatype: "FP32", shape: [-1, ...classes] },
    ],
  };
}

export function serverMetadata(): ServerMetadata {
  const { name, version } = packageInfo();
  return { name, version, extensions: [IMAGE_BYTES_EXTENSION, BINARY_TENSOR_DATA_EXTENSION] };
}

/**
 * The service's package name and version, from the nearest package.json above this module: the repository's
 * in development (service/protocols/v2), the image's /app/package.json when compiled (build/service/protocols/v2).
 */
function packageInfo(): { name: string; version: string } {
  for (let dir = __dirname, depth = 0; depth < 6; dir = path.dirname(dir), depth++) {
    const file = path.join(dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
    if (typeof pkg.name === "string" && typeof pkg.version === "string") return { name: pkg.name, version: pkg.version };
  }
  throw new Error(`no package.json with a name and version above ${__dirname}`);
}
