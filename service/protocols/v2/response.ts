/** Builds an Open Inference Protocol inference response from the pipeline's results. */
import type { ModelDescription } from "../../pipeline/classifier";
import type { Classification } from "../../pipeline/postprocess";
import { PROBABILITIES_OUTPUT_NAME } from "./metadata";

export interface ResponseOutput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: "FP32";
  /** Flattened, row-major. */
  readonly data: readonly number[];
}

export interface InferenceResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly outputs: readonly ResponseOutput[];
}

export interface InferenceResults {
  /** n x classes logits, row-major; absent when the pipeline did not expose them (encoded images). */
  readonly logits?: Float32Array;
  /** One per image, each with every class in its top-k (probabilities for all classes). */
  readonly classifications: readonly Classification[];
}

export function buildInferenceResponse(
  model: ModelDescription,
  id: string,
  requested: readonly string[],
  results: InferenceResults,
): InferenceResponse {
  const count = results.classifications.length;
  const classes = model.labels.length;
  const outputs = requested.map((name): ResponseOutput => {
    const shape = [count, classes];
    if (name === PROBABILITIES_OUTPUT_NAME) return { name, shape, datatype: "FP32", data: probabilities(results.classifications, classes) };
    // parseInferenceRequest refuses the logits output for encoded images, so this is a fault, not a bad request.
    if (results.logits === undefined) throw new Error(`output "${name}" was requested but the pipeline returned no logits`);
    return { name, shape, datatype: "FP32", data: Array.from(results.logits) };
  });
  return { model_name: model.name, model_version: model.version, id, outputs };
}

/** Each image's probabilities in class-index order (top-k lists them most probable first), rounded to float32. */
function probabilities(classifications: readonly Classification[], classes: number): number[] {
  const data = new Float32Array(classifications.length * classes);
  classifications.forEach((classification, row) => {
    for (const score of classification.topK) data[row * classes + score.index] = score.probability;
  });
  return Array.from(data);
}
