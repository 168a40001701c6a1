/**
 * A ModelInferResponse from the REST protocol's response (service/protocols/v2/response.ts builds the outputs
 * once for both transports): typed `contents.fp32_contents`, or `raw_output_contents` (little-endian FP32,
 * row-major) when the request sent raw data.
 */
import type { InferenceResponse } from "../v2/response";
import { fp32ToBytes } from "../v2/tensor-bytes";
import type { InferOutputTensor, ModelInferResponse } from "./definition";

export function toModelInferResponse(response: InferenceResponse, raw: boolean): ModelInferResponse {
  const outputs = response.outputs.map(({ name, datatype, shape, data }): InferOutputTensor =>
    raw ? { name, datatype, shape } : { name, datatype, shape, contents: { fp32_contents: data } },
  );
  const raw_output_contents = raw ? response.outputs.map(({ data }) => fp32ToBytes(data)) : [];
  return { model_name: response.model_name, model_version: response.model_version, id: response.id, outputs, raw_output_contents };
}
