/**
 * Errors in the protocol's shape: {"error": "<message>"}. The status follows the protocol ("typically 400"):
 * every problem with the request or its images is 400, an unknown model or version 404; the service's own
 * limits keep their HTTP meaning (413 body too large, 429 rate limited, 503 not ready or overloaded with
 * Retry-After, 504 deadline passed), as on /predict.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { HttpProblem, toProblem } from "../../http/errors";
import type { ErrorKind } from "../../pipeline/errors";
import { isPipelineError } from "../../pipeline/errors";

/** Pipeline failures that are the request's fault: 400 here, where /predict tells 415 and 422 apart. */
const REQUEST_KINDS: ReadonlySet<ErrorKind> = new Set(["invalid_input", "unsupported_media", "unprocessable"]);

export function notFoundV2(): RequestHandler {
  return (_req, _res, next) =>
    next(new HttpProblem(404, "not_found", "No such Open Inference Protocol endpoint. The API is described at /openapi.json and /docs."));
}

export function unknownModel(message: string): HttpProblem {
  return new HttpProblem(404, "unknown_model", message);
}

export function v2ErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const problem = toProblem(error);
    const status = isPipelineError(error) && REQUEST_KINDS.has(error.kind) ? 400 : problem.status;
    if (status >= 500 && status !== 503 && status !== 504) {
      logger.error({ request_id: res.locals.requestId, err: problem.options.cause ?? problem, code: problem.code }, "request failed");
    }
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    send(res, status, problem);
  };
}

function send(res: Response, status: number, problem: HttpProblem): void {
  const { retryAfterSeconds, closeConnection, headers } = problem.options;
  if (retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(Math.max(1, Math.ceil(retryAfterSeconds))));
  if (closeConnection) res.setHeader("Connection", "close");
  for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
  res.status(status).json(errorBody(problem));
}

/** The protocol's error object. */
export function errorBody(problem: HttpProblem): { error: string } {
  return { error: problem.message };
}
