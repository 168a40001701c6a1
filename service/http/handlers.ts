/** Small pieces every protocol's routes share, so /predict and /v2 cannot drift apart. */
import type { RequestHandler, Response } from "express";
import { MODEL_VERSION_CONTRACT } from "../contract/http";
import type { ClassifyOptions, InferencePipeline } from "../pipeline/classifier";
import type { ModelVersions } from "../pipeline/model-versions";
import { HttpProblem } from "./errors";

/** Probe-like answers must never come from a cache. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader("Cache-Control", "no-store");
  next();
};

/** The deadline starts once the upload is in; a client that goes away cancels its queued work. */
export function classifyOptions(res: Response, topK: number, timeoutMs: number): ClassifyOptions {
  const abandoned = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abandoned.abort();
  });
  return { topK, deadline: performance.now() + timeoutMs, signal: abandoned.signal };
}

/**
 * The pipeline of the version a request names (the default when it names none), or a 404 whose code and
 * message tell an unknown version from one the repository holds but this server does not load.
 */
export function pipelineOf(models: ModelVersions, version: string | undefined): InferencePipeline {
  const found = models.lookup(version);
  if (found.ok) return found.pipeline;
  throw new HttpProblem(404, found.reason === "unknown" ? "unknown_model_version" : "model_version_not_loaded", found.message);
}

/** Says which version serves this request, on every prediction answer (errors after this point included). */
export function announceVersion(res: Response, pipeline: InferencePipeline): void {
  res.setHeader(MODEL_VERSION_CONTRACT.responseHeader, pipeline.model.version);
}
