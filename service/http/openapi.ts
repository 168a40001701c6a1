/**
 * Assembles the OpenAPI 3.1 document from the fragments the route modules export beside their routers, so a
 * route and its description change together. Values come from the running configuration and model card:
 * limits and labels in the document are the ones the service enforces.
 */
import { COMMON_COMPONENTS } from "./openapi-components";
import type { Json, OpenApiContext, OpenApiFragment } from "./route-context";

const TAGS = [
  { name: "prediction", description: "Classify images." },
  { name: "health", description: "Kubernetes probes." },
  { name: "operations", description: "Metrics and this description." },
];

export function buildOpenApiDocument({ config, model }: OpenApiContext, fragments: readonly OpenApiFragment[]): Record<string, Json> {
  const limits =
    `Bodies over ${config.maxRequestSize} bytes get 413 while uploading; images over ${config.maxImagePixels} pixels ` +
    `get 422 before decoding; a prediction has ${config.predictionTimeoutMs} ms, queueing included (504 after).`;
  return {
    openapi: "3.1.0",
    info: {
      title: `${model.name} image classifier`,
      version: model.version,
      description:
        `Classifies an image into one of ${model.labels.length} classes (${model.labels.join(", ")}) with ` +
        `${model.name} ${model.version} (ONNX Runtime)${model.description === "" ? "" : `: ${model.description}`} ` +
        `Images are decoded, auto-oriented, flattened onto white, converted to sRGB and resized to ` +
        `${model.input.shape.slice(2).join("x")} exactly as the model card says. ${limits} Every response carries ` +
        "X-Request-Id (yours, echoed, when it is sane). Every error is JSON {\"error\":{\"code\",\"message\"}}.",
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: "/" }],
    tags: [...TAGS, ...fragments.flatMap((f) => f.tags ?? [])],
    paths: merge("path", fragments.map((f) => f.paths)),
    components: {
      schemas: merge("schema", [COMMON_COMPONENTS.schemas, ...fragments.map((f) => f.schemas ?? {})]),
      headers: COMMON_COMPONENTS.headers,
      responses: merge("response", [COMMON_COMPONENTS.responses, ...fragments.map((f) => f.responses ?? {})]),
    },
  };
}

/** One object from many; two fragments describing the same name is a programming error, not an override. */
function merge(kind: string, parts: readonly Record<string, Json>[]): Record<string, Json> {
  const merged: Record<string, Json> = {};
  for (const part of parts) {
    for (const [name, value] of Object.entries(part)) {
      if (name in merged) throw new Error(`OpenAPI ${kind} "${name}" is described by two route modules`);
      merged[name] = value;
    }
  }
  return merged;
}
