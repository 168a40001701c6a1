/**
 * POST /predict and POST /predict/batch: adapt multipart uploads to the InferencePipeline of the version asked
 * for (`model_version`, the default when absent) and its results to the JSON contract, naming the version that
 * served in the body and the X-Model-Version header. No inference logic lives here.
 */
import { Router, type Request, type RequestHandler } from "express";
import { MODEL_VERSION_CONTRACT, topKRange } from "../../contract/http";
import type { InferencePipeline } from "../../pipeline/classifier";
import type { Classification } from "../../pipeline/postprocess";
import { HttpProblem, methodNotAllowed, toProblem } from "../errors";
import { announceVersion, classifyOptions, pipelineOf } from "../handlers";
import { errorResponse, requestIdHeader, responseRef, schemaRef } from "../openapi-components";
import type { Json, OpenApiContext, OpenApiFragment, RouteContext, RouteModule } from "../route-context";
import { multiImageUpload, singleImageUpload } from "../upload";

function predictRouter({ models, config, predictionGuards }: RouteContext): Router {
  const router = Router();
  const topKOfVersion = new Map(models.pipelines.map((p) => [p, topKParser(topKRange(p.model.labels))]));
  /** The version a request asks for (the default when it names none), and its top_k. */
  const targetOf = (req: Request) => {
    const pipeline = pipelineOf(models, requestedVersion(req));
    const topKOf = topKOfVersion.get(pipeline);
    if (topKOf === undefined) throw new Error(`no top_k parser for ${pipeline.model.version}`);
    return { pipeline, topK: topKOf(req) };
  };
  // The version and top_k are checked before the upload is read, so a bad query costs the client no upload.
  const checkTarget: RequestHandler = (req, res, next) => {
    announceVersion(res, targetOf(req).pipeline);
    next();
  };
  const guards = [...predictionGuards, checkTarget];

  router
    .route("/predict")
    .post(...guards, ...singleImageUpload(config), async (req, res) => {
      const { pipeline, topK } = targetOf(req);
      const file = req.file;
      if (file === undefined) throw missingFile("file");
      const started = performance.now();
      const classification = await pipeline.classifyImage(file.buffer, classifyOptions(res, topK, config.predictionTimeoutMs));
      res.json({
        ...toJson(classification),
        model: modelOf(pipeline),
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    })
    .all(methodNotAllowed(["POST"]));

  router
    .route("/predict/batch")
    .post(...guards, ...multiImageUpload(config), async (req, res) => {
      const { pipeline, topK } = targetOf(req);
      const files = Array.isArray(req.files) ? req.files : [];
      if (files.length === 0) throw missingFile("files");
      const started = performance.now();
      const outcomes = await pipeline.classifyImages(
        files.map((f) => f.buffer),
        classifyOptions(res, topK, config.predictionTimeoutMs),
      );
      res.json({
        results: outcomes.map((outcome, i) => {
          const filename = files[i].originalname;
          if (outcome.ok) return { filename, ...toJson(outcome.classification) };
          const { code, message } = toProblem(outcome.error);
          return { filename, error: { code, message } };
        }),
        model: modelOf(pipeline),
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    })
    .all(methodNotAllowed(["POST"]));

  return router;
}

/** The model_version query parameter; undefined (the default version) when absent or empty. */
function requestedVersion(req: Request): string | undefined {
  const raw = req.query[MODEL_VERSION_CONTRACT.queryParameter];
  if (raw === undefined || raw === "") return undefined;
  // A repeated parameter is no version; it answers as an unknown one.
  return typeof raw === "string" ? raw : JSON.stringify(raw);
}

function modelOf(pipeline: InferencePipeline): { name: string; version: string } {
  return { name: pipeline.model.name, version: pipeline.model.version };
}

/** top_k from the query string: an integer from 1 to the class count, the range's default when absent. */
function topKParser(range: ReturnType<typeof topKRange>): (req: Request) => number {
  return (req) => {
    const raw = req.query["top_k"];
    if (raw === undefined || raw === "") return range.default;
    const value = typeof raw === "string" && /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= range.min && value <= range.max)) {
      throw new HttpProblem(400, "invalid_top_k", `top_k must be an integer from ${range.min} to ${range.max}.`);
    }
    return value;
  };
}

function missingFile(field: string): HttpProblem {
  return new HttpProblem(
    400,
    "missing_file",
    `No image in field "${field}". Send multipart/form-data with the image in "${field}" (curl -F ${field}=@image.jpg).`,
  );
}

function toJson(classification: Classification) {
  return { prediction: classification.prediction, top_k: classification.topK };
}

const IMAGE_FORMATS = "JPEG, PNG, WebP, GIF (first frame), TIFF or AVIF.";

function predictOpenApi({ config, model, versions }: OpenApiContext): OpenApiFragment {
  const range = topKRange(model.labels);
  const predictionErrors = {
    "400": responseRef("BadRequest"),
    "404": responseRef("UnknownModelVersion"),
    "405": responseRef("MethodNotAllowed"),
    "413": responseRef("PayloadTooLarge"),
    "429": responseRef("TooManyRequests"),
    "500": responseRef("InternalError"),
    "503": responseRef("Unavailable"),
    "504": responseRef("Timeout"),
  };
  const topK = {
    name: "top_k",
    in: "query",
    required: false,
    description: "How many classes to return, most probable first.",
    schema: { type: "integer", minimum: range.min, maximum: range.max, default: range.default },
  };
  const modelVersion = {
    name: MODEL_VERSION_CONTRACT.queryParameter,
    in: "query",
    required: false,
    description:
      `Model version to classify with; absent, the default (${model.version}). A version the repository holds but this ` +
      "server does not load, or an unknown one, answers 404 (with different codes).",
    schema: { type: "string", enum: [...versions], default: model.version },
  };
  const servedBy = { [MODEL_VERSION_CONTRACT.responseHeader]: { description: "The model version that served the request.", schema: { type: "string" } } };
  const classIndex = { type: "integer", minimum: 0, maximum: model.labels.length - 1 };
  return {
    paths: {
      "/predict": {
        post: {
          tags: ["prediction"],
          summary: "Classify one image",
          operationId: "predict",
          parameters: [topK, modelVersion],
          requestBody: multipartUpload("file", { type: "string", format: "binary", description: IMAGE_FORMATS }),
          responses: {
            "200": { description: "The prediction.", headers: { ...requestIdHeader(), ...servedBy }, content: { "application/json": { schema: schemaRef("PredictResponse") } } },
            ...predictionErrors,
            "415": responseRef("UnsupportedImage"),
            "422": responseRef("ImageRejected"),
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
          parameters: [topK, modelVersion],
          requestBody: multipartUpload("files", {
            type: "array",
            minItems: 1,
            maxItems: config.maxBatchFiles,
            items: { type: "string", format: "binary", description: IMAGE_FORMATS },
          }),
          responses: {
            "200": { description: "One result per file.", headers: { ...requestIdHeader(), ...servedBy }, content: { "application/json": { schema: schemaRef("BatchResponse") } } },
            ...predictionErrors,
          },
        },
      },
    },
    schemas: {
      Label: { type: "string", enum: [...model.labels] },
      ClassScore: {
        type: "object",
        required: ["label", "index", "probability"],
        properties: { label: schemaRef("Label"), index: classIndex, probability: { type: "number", minimum: 0, maximum: 1 } },
      },
      Prediction: {
        type: "object",
        required: ["label", "index", "confidence"],
        properties: {
          label: schemaRef("Label"),
          index: classIndex,
          confidence: { type: "number", minimum: 0, maximum: 1, description: "Softmax probability of the label." },
        },
      },
      Model: {
        type: "object",
        required: ["name", "version"],
        properties: {
          name: { type: "string", examples: [model.name] },
          version: { type: "string", enum: [...versions], description: "The version that served the request." },
        },
      },
      PredictResponse: {
        type: "object",
        required: ["prediction", "top_k", "model", "latency_ms"],
        properties: {
          prediction: schemaRef("Prediction"),
          top_k: { type: "array", items: schemaRef("ClassScore"), minItems: range.min, maxItems: range.max },
          model: schemaRef("Model"),
          latency_ms: { type: "number", description: "Time in the inference pipeline: decode, queue, inference, postprocess." },
        },
      },
      BatchResult: {
        oneOf: [
          {
            type: "object",
            required: ["filename", "prediction", "top_k"],
            properties: { filename: { type: "string" }, prediction: schemaRef("Prediction"), top_k: { type: "array", items: schemaRef("ClassScore") } },
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
        properties: { results: { type: "array", items: schemaRef("BatchResult") }, model: schemaRef("Model"), latency_ms: { type: "number" } },
      },
    },
    responses: {
      BadRequest: errorResponse("Malformed request: not multipart/form-data, missing field, too many files, or top_k out of range."),
      PayloadTooLarge: errorResponse(`The body is over ${config.maxRequestSize} bytes; refused while uploading, the connection is closed.`),
      UnsupportedImage: errorResponse("Not a decodable image (or a format that is not accepted, such as SVG)."),
      ImageRejected: errorResponse(`The image decodes but is refused: more than ${config.maxImagePixels} pixels, or zero-sized.`),
      TooManyRequests: errorResponse(
        config.rateLimitPerMinute > 0
          ? `More than ${config.rateLimitPerMinute} requests per minute from this client.`
          : "Per-client rate limiting (off in this configuration).",
        ["Retry-After"],
      ),
      UnknownModelVersion: errorResponse(
        `model_version names a version that is not loaded: unknown (code unknown_model_version), or in the repository ` +
          `but not served here (code model_version_not_loaded). Loaded: ${versions.join(", ")}.`,
      ),
      Unavailable: errorResponse("Not ready, draining, or overloaded (concurrency limit or full queue).", ["Retry-After"]),
      Timeout: errorResponse(`The prediction did not finish within ${config.predictionTimeoutMs} ms.`),
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

export const predictRoutes: RouteModule = { router: predictRouter, openApi: predictOpenApi };
