/**
 * The response side of the binary tensor data extension on REST: outputs requested with
 * "parameters": {"binary_data": true} (or every output, by the request's "binary_data_output": true, unless an
 * output says false) leave the JSON without "data", carry "binary_data_size" instead, and follow the JSON as
 * raw little-endian bytes, in the order the JSON lists them. Such a response is application/octet-stream with
 * Inference-Header-Content-Length giving the JSON's size; without binary outputs it is plain JSON.
 */
import { HEADER_LENGTH_HEADER } from "./binary-body";
import { isObject } from "./request";
import type { InferenceResponse, ResponseOutput } from "./response";
import { fp32ToBytes } from "./tensor-bytes";

/** An output whose data follows the JSON. */
export interface BinaryResponseOutput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: ResponseOutput["datatype"];
  readonly parameters: { readonly binary_data_size: number };
}

export interface EncodedResponse {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The names of the outputs to send as binary data, from a request parseInferenceRequest has accepted (so the
 * parameters, when present, are booleans).
 */
export function binaryOutputNames(request: unknown, outputs: readonly string[]): ReadonlySet<string> {
  const body = isObject(request) ? request : {};
  const requestParameters = isObject(body["parameters"]) ? body["parameters"] : {};
  const byDefault = requestParameters["binary_data_output"] === true;
  const asked = new Map<string, unknown>();
  if (Array.isArray(body["outputs"])) {
    for (const output of body["outputs"] as unknown[]) {
      if (!isObject(output) || typeof output["name"] !== "string") continue;
      const parameters = isObject(output["parameters"]) ? output["parameters"] : {};
      asked.set(output["name"], parameters["binary_data"]);
    }
  }
  return new Set(outputs.filter((name) => {
    const own = asked.get(name);
    return typeof own === "boolean" ? own : byDefault;
  }));
}

/** The response body and its headers: JSON alone, or the JSON followed by the binary outputs' bytes. */
export function encodeInferenceResponse(response: InferenceResponse, binary: ReadonlySet<string>): EncodedResponse {
  const tensors: Buffer[] = [];
  const outputs = response.outputs.map((output): ResponseOutput | BinaryResponseOutput => {
    if (!binary.has(output.name)) return output;
    const bytes = fp32ToBytes(output.data);
    tensors.push(bytes);
    return { name: output.name, shape: output.shape, datatype: output.datatype, parameters: { binary_data_size: bytes.length } };
  });
  const json = Buffer.from(JSON.stringify({ ...response, outputs }));
  if (tensors.length === 0) return { body: json, headers: { "Content-Type": "application/json; charset=utf-8" } };
  return {
    body: Buffer.concat([json, ...tensors]),
    headers: { "Content-Type": "application/octet-stream", [HEADER_LENGTH_HEADER]: String(json.length) },
  };
}
