/**
 * A parsed inference request through the pipeline, whatever transport carried it (REST JSON, gRPC): tensors go
 * to classifyTensor, encoded images to classifyImages. Transport-free, so both front ends share it.
 */
import type { ClassifyOptions, InferencePipeline } from "../../pipeline/classifier";
import { PipelineError } from "../../pipeline/errors";
import type { ImagesInput, TensorInput } from "./request";
import type { InferenceResults } from "./response";

export async function runInference(
  pipeline: InferencePipeline,
  input: TensorInput | ImagesInput,
  options: ClassifyOptions,
): Promise<InferenceResults> {
  if (input.kind === "tensor") return pipeline.classifyTensor(input.tensor, input.count, options);
  const outcomes = await pipeline.classifyImages(input.images, options);
  // A tensor is all or nothing: the first image that fails fails the request, naming its element.
  return {
    classifications: outcomes.map((outcome, i) => {
      if (outcome.ok) return outcome.classification;
      const { kind, code, message } = outcome.error;
      throw new PipelineError(kind, code, `inputs[0].data[${i}]: ${message}`, { cause: outcome.error });
    }),
  };
}
