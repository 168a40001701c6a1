/** Small pieces every protocol's routes share, so /predict and /v2 cannot drift apart. */
import type { RequestHandler, Response } from "express";
import type { ClassifyOptions } from "../pipeline/classifier";

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
