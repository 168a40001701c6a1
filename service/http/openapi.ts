/**
 * The OpenAPI 3.1 description of every endpoint, errors included, built from the running configuration and
 * model card so limits and labels in the document are the ones the service enforces.
 */
import { type Config } from "../config/schema";
import { HTTP_CONTRACT } from "../contract/http";
import type { ModelDescription } from "../pipeline/classifier";
import { V2_TAG, v2OpenApi } from "../protocols/v2/openapi";
import { TOP_K_DEFAULT, TOP_K_MAX } from "./routes/predict";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });
const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export function buildOpenApiDocument(
  config: Pick<Config, "maxRequestSize" | "maxBatchFiles" | "maxImagePixels" | "predictionTimeoutMs" | "rateLimitPerMinute">,
  model: ModelDescription,
): Record<string, Json> {
  const predictionErrors = {
    "400": ref("BadRequest"),
    "405": ref("MethodNotAllowed"),
    "413": ref("PayloadTooLarge"),
    "429": ref("TooManyRequests"),
    "500": ref("InternalError"),
    "503": ref("Unavailable"),
    "504": ref("Timeout"),
  };
  const probe = (summary: string, description: string, canFail: boolean) => ({
    get: {
      tags: ["health"],
      summary,
      description,
      responses: {
        "200": { description: "Healthy.", content: { "application/json": { schema: schema("Health") } } },
        ...(canFail ? { "503": ref("ProbeUnavailable") } : {}),
        "405": ref("MethodNotAllowed"),
      },
    },
  });
  const topK = {
    name: "top_k",
    in: "query",
    required: false,
    description: "How many classes to return, most probable first.",
    schema: { type: "integer", minimum: 1, maximum: TOP_K_MAX, default: TOP_K_DEFAULT },
  };
  const v2 = v2OpenApi(config, model);
  const limits =
    `Bodies over ${config.maxRequestSize} bytes get 413 while uploading; images over ${config.maxImagePixels} pixels ` +
    `get 422 before decoding; a prediction has ${config.predictionTimeoutMs} ms, queueing included (504 after).`;

  return {
    openapi: "3.1.0",
    info: {
      title: "PyramidNet CIFAR-10 image classifier",
      version: model.version,
      description:
        `Classifies an image into one of ${model.labels.length} CIFAR-10 classes with ${model.name} ${model.version} ` +
        `(ONNX Runtime). Images are decoded, auto-oriented, flattened onto white, converted to sRGB and resized to ` +
        `${model.input.shape.slice(2).join("x")} exactly as the model card says. ${limits} Every response carries ` +
        "X-Request-Id (yours, echoed, when it is sane). Every error is JSON {\"error\":{\"code\",\"message\"}}.",
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "prediction", description: "Classify images." },
      { name: "health", description: "Kubernetes probes." },
      { name: "operations", description: "Metrics and this description." },
      V2_TAG,
    ],
    paths: {
      "/predict": {
        post: {
          tags: ["prediction"],
          summary: "Classify one image",
          operationId: "predict",
          parameters: [topK],
          requestBody: multipartUpload("file", {
            type: "string",
            format: "binary",
            description: "JPEG, PNG, WebP, GIF (first frame), TIFF or AVIF.",
          }),
          responses: {
            "200": { description: "The prediction.", headers: requestIdHeader(), content: { "application/json": { schema: schema("PredictResponse") } } },
            ...predictionErrors,
            "415": ref("UnsupportedImage"),
            "422": ref("ImageRejected"),
          },
        },
      },
      "/predict/batch": {
        post: {
          tags: ["prediction"],
          summary: `Classify up to ${config.maxBatchFiles} images`,
          description:
            "One result per file, in upload order. A file that is not a decodable image gets its own error entry; " +
            "the others are still classified.",
          operationId: "predictBatch",
          parameters: [topK],
          requestBody: multipartUpload("files", {
            type: "array",
            minItems: 1,
            maxItems: config.maxBatchFiles,
            items: { type: "string", format: "binary", description: "JPEG, PNG, WebP, GIF (first frame), TIFF or AVIF." },
          }),
          responses: {
            "200": { description: "One result per file.", headers: requestIdHeader(), content: { "application/json": { schema: schema("BatchResponse") } } },
            ...predictionErrors,
          },
        },
      },
      [HTTP_CONTRACT.probes.live]: probe("Liveness", "200 while the process runs.", false),
      [HTTP_CONTRACT.probeAliases.live]: probe("Liveness (alias)", `Same as ${HTTP_CONTRACT.probes.live}.`, false),
      [HTTP_CONTRACT.probes.ready]: probe(
        "Readiness",
        "200 only when the model is loaded, its sha256 matches the model card, and a warm-up inference has run; 503 before that and while draining.",
        true,
      ),
      [HTTP_CONTRACT.probeAliases.ready]: probe("Readiness (alias)", `Same as ${HTTP_CONTRACT.probes.ready}.`, true),
      [HTTP_CONTRACT.probes.startup]: probe("Startup", "200 once start-up (model load and warm-up) has finished.", true),
      [HTTP_CONTRACT.probeAliases.startup]: probe("Startup (alias)", `Same as ${HTTP_CONTRACT.probes.startup}.`, true),
      [HTTP_CONTRACT.metricsPath]: {
        get: {
          tags: ["operations"],
          summary: "Prometheus metrics",
          responses: {
            "200": { description: "Prometheus text exposition format 0.0.4.", content: { "text/plain": { schema: { type: "string" } } } },
            "405": ref("MethodNotAllowed"),
          },
        },
      },
      "/openapi.json": {
        get: {
          tags: ["operations"],
          summary: "This document",
          responses: {
            "200": { description: "OpenAPI 3.1.", content: { "application/json": { schema: { type: "object" } } } },
            "405": ref("MethodNotAllowed"),
          },
        },
      },
      "/docs": {
        get: {
          tags: ["operations"],
          summary: "Interactive documentation (Swagger UI, served locally)",
          responses: {
            "200": { description: "HTML page.", content: { "text/html": { schema: { type: "string" } } } },
            "405": ref("MethodNotAllowed"),
          },
        },
      },
      "/": {
        get: {
          tags: ["operations"],
          summary: "Demo page: pick or drop an image, see the top-5 classes (served locally, no CDN)",
          responses: {
            "200": { description: "HTML page.", content: { "text/html": { schema: { type: "string" } } } },
            "405": ref("MethodNotAllowed"),
          },
        },
      },
      ...v2.paths,
    },
    components: {
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string", description: "Stable machine-readable code.", examples: ["unsupported_image"] },
                message: { type: "string", description: "What went wrong and what to do." },
              },
            },
          },
        },
        Label: { type: "string", enum: [...model.labels] },
        ClassScore: {
          type: "object",
          required: ["label", "index", "probability"],
          properties: {
            label: schema("Label"),
            index: { type: "integer", minimum: 0, maximum: model.labels.length - 1 },
            probability: { type: "number", minimum: 0, maximum: 1 },
          },
        },
        Prediction: {
          type: "object",
          required: ["label", "index", "confidence"],
          properties: {
            label: schema("Label"),
            index: { type: "integer", minimum: 0, maximum: model.labels.length - 1 },
            confidence: { type: "number", minimum: 0, maximum: 1, description: "Softmax probability of the label." },
          },
        },
        Model: {
          type: "object",
          required: ["name", "version"],
          properties: { name: { type: "string", examples: [model.name] }, version: { type: "string", examples: [model.version] } },
        },
        PredictResponse: {
          type: "object",
          required: ["prediction", "top_k", "model", "latency_ms"],
          properties: {
            prediction: schema("Prediction"),
            top_k: { type: "array", items: schema("ClassScore"), minItems: 1, maxItems: TOP_K_MAX },
            model: schema("Model"),
            latency_ms: { type: "number", description: "Time in the inference pipeline: decode, queue, inference, postprocess." },
          },
        },
        BatchResult: {
          oneOf: [
            {
              type: "object",
              required: ["filename", "prediction", "top_k"],
              properties: { filename: { type: "string" }, prediction: schema("Prediction"), top_k: { type: "array", items: schema("ClassScore") } },
            },
            {
              type: "object",
              required: ["filename", "error"],
              properties: {
                filename: { type: "string" },
                error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } },
              },
            },
          ],
        },
        BatchResponse: {
          type: "object",
          required: ["results", "model"],
          properties: {
            results: { type: "array", items: schema("BatchResult") },
            model: schema("Model"),
            latency_ms: { type: "number" },
          },
        },
        Health: {
          type: "object",
          required: ["status"],
          properties: { status: { type: "string", examples: ["ready"] }, error: { $ref: "#/components/schemas/Error/properties/error" } },
        },
        ...v2.schemas,
      },
      headers: {
        "X-Request-Id": { description: "The request's id: the client's own when sane, otherwise generated.", schema: { type: "string" } },
        "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 1 } },
        Allow: { description: "Methods the path supports.", schema: { type: "string" } },
      },
      responses: {
        BadRequest: errorResponse("Malformed request: not multipart/form-data, missing field, too many files, or top_k out of range."),
        MethodNotAllowed: errorResponse("The path does not support this method; see the Allow header.", ["Allow"]),
        PayloadTooLarge: errorResponse(`The body is over ${config.maxRequestSize} bytes; refused while uploading, the connection is closed.`),
        UnsupportedImage: errorResponse("Not a decodable image (or a format that is not accepted, such as SVG)."),
        ImageRejected: errorResponse(`The image decodes but is refused: more than ${config.maxImagePixels} pixels, or zero-sized.`),
        TooManyRequests: errorResponse(
          config.rateLimitPerMinute > 0
            ? `More than ${config.rateLimitPerMinute} requests per minute from this client.`
            : "Per-client rate limiting (off in this configuration).",
          ["Retry-After"],
        ),
        InternalError: errorResponse("A fault inside the service, such as a failed inference."),
        Unavailable: errorResponse("Not ready, draining, or overloaded (concurrency limit or full queue).", ["Retry-After"]),
        ProbeUnavailable: {
          description: "Not ready (starting, draining or failed).",
          headers: { ...requestIdHeader(), "Retry-After": { $ref: "#/components/headers/Retry-After" } },
          content: { "application/json": { schema: schema("Health") } },
        },
        Timeout: errorResponse(`The prediction did not finish within ${config.predictionTimeoutMs} ms.`),
      },
    },
  };
}

/** A required multipart/form-data body with one image field (a single file, or an array of files). */
function multipartUpload(field: string, fieldSchema: Record<string, Json>): Record<string, Json> {
  return {
    required: true,
    content: {
      "multipart/form-data": {
        schema: { type: "object", required: [field], properties: { [field]: fieldSchema } },
        encoding: { [field]: { contentType: "image/*" } },
      },
    },
  };
}

function requestIdHeader(): Record<string, Json> {
  return { "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" } };
}

function errorResponse(description: string, extraHeaders: string[] = []): Record<string, Json> {
  const headers: Record<string, Json> = requestIdHeader();
  for (const name of extraHeaders) headers[name] = { $ref: `#/components/headers/${name}` };
  return { description, headers, content: { "application/json": { schema: schema("Error") } } };
}
