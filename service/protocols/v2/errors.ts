/**
 * Errors in the protocol's shape: {"error": "<message>"}. The status follows the protocol ("typically 400"):
 * every problem with the request or its images is 400, an unknown model or version 404; the service's own
 * limits keep their HTTP meaning (413 body too large, 429 rate limited, 503 not ready or overloaded with
 * Retry-After, 504 deadline passed), as on /predict.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { type ErrorShape, HttpProblem, errorHandler } from "../../http/errors";
import { type ErrorKind, isPipelineError } from "../../pipeline/errors";

/** Pipeline failures that are the request's fault: 400 here, where /predict tells 415 and 422 apart. */
const REQUEST_KINDS: ReadonlySet<ErrorKind> = new Set(["invalid_input", "unsupported_media", "unprocessable"]);

export function notFoundV2(): RequestHandler {
  return (_req, _res, next) =>
    next(new HttpProblem(404, "not_found", "No such Open Inference Protocol endpoint. The API is described at /openapi.json and /docs."));
}

export function unknownModel(message: string): HttpProblem {
  return new HttpProblem(404, "unknown_model", message);
}

/** The protocol's status and body for a problem; mapping, logging and headers are the service's own handler's. */
const V2_ERROR_SHAPE: ErrorShape = {
  status: (problem, error) => (isPipelineError(error) && REQUEST_KINDS.has(error.kind) ? 400 : problem.status),
  body: errorBody,
};

export function v2ErrorHandler(logger: Logger): ErrorRequestHandler {
  return errorHandler(logger, V2_ERROR_SHAPE);
}

/** The protocol's error object. */
export function errorBody(problem: HttpProblem): { error: string } {
  return { error: problem.message };
}
