/**
 * multipart/form-data uploads into memory (multer), size-capped while streaming.
 *
 * A declared Content-Length over the limit is refused before any byte is read. A body without one (chunked) is
 * counted as it arrives; the moment it passes the limit the service stops parsing, answers 413 and closes the
 * connection (within a bounded linger, so the client reads the 413 rather than a reset). (multer alone would
 * read an oversized body to its end before reporting the error.)
 */
import type { Request, RequestHandler, Response } from "express";
import multer from "multer";
import type { Readable, Writable } from "node:stream";
import type { Config } from "../config/schema";
import { countBodyBytes, hasUnreadBody, refuseDeclaredOversize, sendProblemWhileReceiving } from "./body";
import { HttpProblem, payloadTooLarge, toProblem } from "./errors";

export type UploadConfig = Pick<Config, "maxRequestSize" | "maxBatchFiles">;

/** One file in field `file` (POST /predict). */
export function singleImageUpload(config: UploadConfig): RequestHandler[] {
  return uploadChain(config, 1, (upload) => upload.single("file"));
}

/** Up to maxBatchFiles files in field `files` (POST /predict/batch). */
export function multiImageUpload(config: UploadConfig): RequestHandler[] {
  return uploadChain(config, config.maxBatchFiles, (upload) => upload.array("files", config.maxBatchFiles));
}

function uploadChain(
  config: UploadConfig,
  maxFiles: number,
  select: (upload: multer.Multer) => RequestHandler,
): RequestHandler[] {
  const limit = config.maxRequestSize;
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limit, files: maxFiles, fields: 8, fieldSize: 4096, parts: maxFiles + 8, headerPairs: 64 },
    defParamCharset: "utf8",
    streamHandler: (req: Readable, busboy: Writable) => {
      countBody(req as Request, busboy, limit);
      req.pipe(busboy);
    },
  } as multer.Options);
  const parse = select(upload);
  return [
    requireMultipart(),
    refuseDeclaredOversize(limit),
    (req, res, next) =>
      parse(req, res, (error?: unknown) => {
        if (res.headersSent) return; // countBody answered 413 already
        if (error === undefined) return next();
        const problem = toProblem(error);
        // busboy's own parse errors arrive as plain Errors: the body is malformed, not the service.
        next(problem.status === 500 ? new HttpProblem(400, "malformed_multipart", "The multipart/form-data body is malformed.", { cause: error }) : problem);
      }),
  ];
}

function requireMultipart(): RequestHandler {
  return (req, _res, next) => {
    if (req.is("multipart/form-data")) return next();
    next(
      new HttpProblem(400, "expected_multipart", "Send the image as multipart/form-data (curl -F file=@image.jpg).", {
        closeConnection: hasUnreadBody(req),
      }),
    );
  };
}

/** Counts body bytes as they stream into busboy; past the limit, stops parsing and answers 413 itself. */
function countBody(req: Request, busboy: Writable, limit: number): void {
  countBodyBytes(req, limit, () => {
    req.unpipe(busboy);
    // multer sees the connection close and stands down (headers already sent).
    const res = req.res as Response;
    if (!res.headersSent) sendProblemWhileReceiving(req, res, payloadTooLarge(limit), limit);
  });
}
