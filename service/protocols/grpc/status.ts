/**
 * Failures as gRPC statuses, the transport's counterpart of the HTTP statuses in service/http/errors.ts:
 * the request's fault is INVALID_ARGUMENT, an unknown model or version NOT_FOUND, no capacity
 * RESOURCE_EXHAUSTED with a retry hint, not ready or draining UNAVAILABLE with a retry hint, past the deadline
 * DEADLINE_EXCEEDED, a fault INTERNAL. Messages are the pipeline's, written for people, never a stack trace.
 */
import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";
import { type ErrorKind, isPipelineError } from "../../pipeline/errors";

const CODE_OF_KIND: Readonly<Record<ErrorKind, Status>> = {
  invalid_input: Status.INVALID_ARGUMENT,
  unsupported_media: Status.INVALID_ARGUMENT,
  unprocessable: Status.INVALID_ARGUMENT,
  overloaded: Status.RESOURCE_EXHAUSTED,
  unavailable: Status.UNAVAILABLE,
  timeout: Status.DEADLINE_EXCEEDED,
  cancelled: Status.CANCELLED,
  internal: Status.INTERNAL,
};

/** A failure that already knows its gRPC status. */
export class GrpcProblem extends Error {
  constructor(
    readonly code: Status,
    message: string,
    /** When a retry may succeed (RESOURCE_EXHAUSTED, UNAVAILABLE), in seconds. */
    readonly retryAfterSeconds?: number,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = "GrpcProblem";
  }
}

export function notFound(message: string): GrpcProblem {
  return new GrpcProblem(Status.NOT_FOUND, message);
}

export function invalidArgument(message: string): GrpcProblem {
  return new GrpcProblem(Status.INVALID_ARGUMENT, message);
}

/** The gRPC status for any thrown value. */
export function toGrpcProblem(error: unknown): GrpcProblem {
  if (error instanceof GrpcProblem) return error;
  if (isPipelineError(error)) return new GrpcProblem(CODE_OF_KIND[error.kind], error.message, error.retryAfterSeconds, { cause: error });
  return new GrpcProblem(Status.INTERNAL, "The service failed to handle the call. Retry later; report the x-request-id if it persists.", undefined, {
    cause: error,
  });
}

/**
 * The error a handler's callback gets. The retry hint travels twice in the trailers: `grpc-retry-pushback-ms`,
 * which gRPC's own retry policy reads (gRFC A6), and `retry-after` in seconds, as the HTTP answers say it.
 */
export function toServiceError(problem: GrpcProblem, requestId: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set("x-request-id", requestId);
  if (problem.retryAfterSeconds !== undefined) {
    const seconds = Math.max(1, Math.ceil(problem.retryAfterSeconds));
    metadata.set("grpc-retry-pushback-ms", String(seconds * 1000));
    metadata.set("retry-after", String(seconds));
  }
  return { code: problem.code, details: problem.message, metadata };
}

/** The status code's name (OK, INVALID_ARGUMENT, ...), for logs and metric labels. */
export function statusName(code: Status): string {
  return Status[code] ?? "UNKNOWN";
}
