/**
 * POST /predict and POST /predict/batch: adapt multipart uploads to InferencePipeline calls and its results to
 * the JSON contract. No inference logic lives here.
 */
import { Router, type Request, type RequestHandler, type Response } from "express";
import type { ClassifyOptions } from "../../pipeline/classifier";
import type { Classification } from "../../pipeline/postprocess";
import { HttpProblem, methodNotAllowed, toProblem } from "../errors";
import type { RouteContext } from "../app";
import { multiImageUpload, singleImageUpload } from "../upload";

export const TOP_K_DEFAULT = 5;
export const TOP_K_MAX = 10;

export function predictRouter({ pipeline, config, predictionGuards }: RouteContext): Router {
  const router = Router();
  // top_k is checked before the upload is read, so a bad query costs the client no upload.
  const guards = [...predictionGuards, checkTopK];
  const model = { name: pipeline.model.name, version: pipeline.model.version };

  router
    .route("/predict")
    .post(...guards, ...singleImageUpload(config), async (req, res) => {
      const topK = parseTopK(req);
      const file = req.file;
      if (file === undefined) throw missingFile("file");
      const started = performance.now();
      const classification = await pipeline.classifyImage(file.buffer, classifyOptions(res, topK, config.predictionTimeoutMs));
      res.json({
        ...toJson(classification),
        model,
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    })
    .all(methodNotAllowed(["POST"]));

  router
    .route("/predict/batch")
    .post(...guards, ...multiImageUpload(config), async (req, res) => {
      const topK = parseTopK(req);
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
        model,
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
      });
    })
    .all(methodNotAllowed(["POST"]));

  return router;
}

const checkTopK: RequestHandler = (req, _res, next) => {
  parseTopK(req);
  next();
};

/** top_k from the query string: an integer from 1 to 10, 5 when absent. */
export function parseTopK(req: Request): number {
  const raw = req.query["top_k"];
  if (raw === undefined || raw === "") return TOP_K_DEFAULT;
  const value = typeof raw === "string" && /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= TOP_K_MAX)) {
    throw new HttpProblem(400, "invalid_top_k", `top_k must be an integer from 1 to ${TOP_K_MAX}.`);
  }
  return value;
}

function missingFile(field: string): HttpProblem {
  return new HttpProblem(
    400,
    "missing_file",
    `No image in field "${field}". Send multipart/form-data with the image in "${field}" (curl -F ${field}=@image.jpg).`,
  );
}

/** The deadline starts once the upload is in; a client that goes away cancels its queued work. */
function classifyOptions(res: Response, topK: number, timeoutMs: number): ClassifyOptions {
  const abandoned = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abandoned.abort();
  });
  return { topK, deadline: performance.now() + timeoutMs, signal: abandoned.signal };
}

function toJson(classification: Classification) {
  return { prediction: classification.prediction, top_k: classification.topK };
}
