/**
 * Typed failures of the inference pipeline. Each carries a stable machine `code` for clients and a `kind`
 * that says what went wrong without naming a protocol: service/http maps kinds to status codes, and other
 * front ends (the Open Inference Protocol) can map them their own way.
 */

/** What class of failure an error is, independent of any transport. */
export type ErrorKind =
  /** The caller's request is malformed (bad tensor shape, bad parameter). */
  | "invalid_input"
  /** The bytes are not an image this service decodes. */
  | "unsupported_media"
  /** The image decodes but is refused (too many pixels, zero-sized). */
  | "unprocessable"
  /** The service has no capacity right now; retry later. */
  | "overloaded"
  /** The service is starting or shutting down; retry later or elsewhere. */
  | "unavailable"
  /** The prediction did not finish before its deadline. */
  | "timeout"
  /** The caller went away; nobody is waiting for the answer. */
  | "cancelled"
  /** A fault inside the service (inference failed). */
  | "internal";

export interface PipelineErrorOptions {
  /** Seconds after which a retry may succeed (overloaded, unavailable). */
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

export class PipelineError extends Error {
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    options: PipelineErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PipelineError";
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const isPipelineError = (error: unknown): error is PipelineError => error instanceof PipelineError;

export function unsupportedImage(detail: string, cause?: unknown): PipelineError {
  return new PipelineError(
    "unsupported_media",
    "unsupported_image",
    `The file is not a decodable image (${detail}). Send a JPEG, PNG, WebP, GIF, TIFF or AVIF file.`,
    { cause },
  );
}

export function imageTooLarge(maxPixels: number, width?: number, height?: number): PipelineError {
  const size = width === undefined || height === undefined ? "too large" : `${width}x${height} pixels`;
  return new PipelineError(
    "unprocessable",
    "image_too_large",
    `The image is ${size}; at most ${maxPixels} pixels (width x height) are accepted. Downscale it before uploading.`,
  );
}

export function imageEmpty(): PipelineError {
  return new PipelineError("unprocessable", "image_empty", "The image has zero width or height.");
}

export function overloaded(queued: number, maxQueue: number): PipelineError {
  return new PipelineError(
    "overloaded",
    "overloaded",
    `The inference queue is full (${queued} of ${maxQueue} images waiting). Retry after the Retry-After delay.`,
    { retryAfterSeconds: 1 },
  );
}

export function deadlineExceeded(timeoutMs?: number): PipelineError {
  const limit = timeoutMs === undefined ? "its deadline" : `${timeoutMs} ms`;
  return new PipelineError(
    "timeout",
    "prediction_timeout",
    `The prediction did not finish within ${limit}. Retry later or send fewer images per request.`,
  );
}

export function cancelled(): PipelineError {
  return new PipelineError("cancelled", "cancelled", "The request was cancelled by the client.");
}

export function invalidInput(message: string): PipelineError {
  return new PipelineError("invalid_input", "invalid_input", message);
}

/** A client's tensor whose values drive the model's logits to infinity or NaN (values far outside the normalised range). */
export function tensorOverflow(item: number): PipelineError {
  return invalidInput(
    `Image ${item} of the tensor overflows the model: its logits are not finite numbers. Send pixels preprocessed as the model card describes (scaled, then normalised by its mean and std per channel), not raw or corrupted floats.`,
  );
}

export function inferenceFailed(cause?: unknown): PipelineError {
  return new PipelineError("internal", "inference_failed", "Inference failed inside the service. Retry later.", {
    cause,
  });
}
