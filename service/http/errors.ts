/**
 * Every failure becomes one JSON shape, {"error":{"code","message"}} unless a protocol shapes it otherwise
 * (ErrorShape), with the request id in X-Request-Id.
 * Messages say what to do; they never carry a stack trace, an internal path or a library's raw message.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import { MulterError } from "multer";
import type { Logger } from "pino";
import { type ErrorKind, isPipelineError } from "../pipeline/errors";

export interface ProblemOptions {
  /** Seconds, sent as Retry-After. */
  readonly retryAfterSeconds?: number;
  /** Close the connection after answering (the request body was not read). */
  readonly closeConnection?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/** An error that already knows its HTTP answer. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: ProblemOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpProblem";
  }
}

/** Status of each pipeline error kind. 499 (client closed request) is only ever seen in logs and metrics. */
const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid_input: 400,
  unsupported_media: 415,
  unprocessable: 422,
  overloaded: 503,
  unavailable: 503,
  timeout: 504,
  cancelled: 499,
  internal: 500,
};

/** The HTTP answer for any thrown value. */
export function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (isPipelineError(error)) {
    return new HttpProblem(STATUS_OF_KIND[error.kind], error.code, error.message, {
      retryAfterSeconds: error.retryAfterSeconds,
      cause: error,
    });
  }
  if (error instanceof MulterError) return fromMulter(error);
  // http-errors style (body parsers): a 4xx with a message meant for the client.
  const candidate = error as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown } | null;
  const status = Number(candidate?.status ?? candidate?.statusCode);
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const message = candidate?.expose === true && typeof candidate.message === "string" ? candidate.message : "The request is malformed.";
    if (status === 413) return payloadTooLarge();
    return new HttpProblem(status, status === 400 ? "bad_request" : `http_${status}`, message, { cause: error });
  }
  return new HttpProblem(500, "internal_error", "The service failed to handle the request. Retry later; report the X-Request-Id if it persists.", {
    cause: error,
  });
}

export function payloadTooLarge(limitBytes?: number): HttpProblem {
  const limit = limitBytes === undefined ? "the size limit" : `${limitBytes} bytes`;
  return new HttpProblem(413, "payload_too_large", `The request body is larger than ${limit}. Send a smaller image.`, {
    closeConnection: true,
  });
}

function fromMulter(error: MulterError): HttpProblem {
  switch (error.code) {
    case "LIMIT_FILE_SIZE":
      return payloadTooLarge();
    case "LIMIT_FILE_COUNT":
    case "LIMIT_UNEXPECTED_FILE":
      return new HttpProblem(
        400,
        "unexpected_file",
        `${error.field === undefined ? "A file" : `File field "${error.field}"`} is not expected here, or there are ` +
          'too many files. Send one image in "file" to /predict, or up to the configured maximum in "files" to /predict/batch.',
      );
    default:
      return new HttpProblem(400, "malformed_multipart", "The multipart/form-data body is malformed or exceeds a field limit.");
  }
}

export function notFoundProblem(): HttpProblem {
  return new HttpProblem(404, "not_found", "No such route. The API is described at /openapi.json and /docs.");
}

export function notFound(): RequestHandler {
  return (_req, _res, next) => next(notFoundProblem());
}

/** For a path that exists, a method it does not support. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = allowed.join(", ");
  return (req, res, next) => {
    if (req.method === "OPTIONS") {
      res.setHeader("Allow", allow);
      res.status(204).end();
      return;
    }
    next(
      new HttpProblem(405, "method_not_allowed", `${req.method} is not allowed here; use ${allow}.`, {
        headers: { Allow: allow },
      }),
    );
  };
}

/** How a protocol shapes its error answers; the mapping from thrown values to problems is shared. */
export interface ErrorShape {
  /** The status a problem is answered with. @default the problem's own status */
  readonly status?: (problem: HttpProblem, error: unknown) => number;
  /** The JSON body of a problem. */
  readonly body: (problem: HttpProblem) => unknown;
}

/** The service's own shape, {"error":{"code","message"}}, on /predict and every non-protocol route. */
export const SERVICE_ERROR_SHAPE: ErrorShape = {
  body: (problem) => ({ error: { code: problem.code, message: problem.message } }),
};

/** The last middleware: answers every error in `shape`, logs faults (not overload or timeouts) with their cause. */
export function errorHandler(logger: Logger, shape: ErrorShape = SERVICE_ERROR_SHAPE): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const problem = toProblem(error);
    const status = shape.status?.(problem, error) ?? problem.status;
    if (status >= 500 && status !== 503 && status !== 504) {
      logger.error(
        { request_id: res.locals.requestId, err: problem.options.cause ?? problem, code: problem.code },
        "request failed",
      );
    }
    if (res.headersSent) {
      // Too late for an error body: end the response so the client is not left waiting.
      if (!res.writableEnded) res.destroy();
      return;
    }
    sendProblem(res, status, problem, shape.body(problem));
  };
}

/** Writes a problem's headers, then `body` as JSON. */
function sendProblem(res: Response, status: number, problem: HttpProblem, body: unknown): void {
  const { retryAfterSeconds, closeConnection, headers } = problem.options;
  if (retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(Math.max(1, Math.ceil(retryAfterSeconds))));
  if (closeConnection) res.setHeader("Connection", "close");
  for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
  res.status(status).json(body);
}
