/**
 * The inference request body: the protocol's JSON, optionally followed by binary tensor data
 * (binary-body.ts), optionally compressed (Content-Encoding gzip or deflate), size-capped while streaming and
 * while inflating, as the multipart uploads are (service/http/upload.ts).
 *
 * express.json() is not used: past its limit it reads the rest of the body to the end before answering 413,
 * so a client could make the service read gigabytes; and it insists on a JSON Content-Type, which standard
 * clients (Triton's among them) do not send. Here the body decides: no Content-Type, a JSON type, or any type
 * a JSON or binary-extension body is sent with is read; only media types that cannot be the protocol's JSON
 * (multipart forms, images, audio, video) are refused before a byte is read. A declared Content-Length over
 * the limit is refused at once, and a body without one (chunked) the moment it, or what it inflates to,
 * passes the limit; that 413 closes the connection after a bounded linger, so the rest is never parsed.
 */
import type { RequestHandler } from "express";
import { hasUnreadBody, refuseDeclaredOversize } from "../../http/body";
import { readDecodedBody, requestCoding } from "../../http/encoded-body";
import { HttpProblem } from "../../http/errors";
import { HEADER_LENGTH_HEADER, type InferenceBody, splitInferenceBody } from "./binary-body";
import { errorBody } from "./errors";
import type { RawInputs } from "./request";

declare global {
  // Express merges this interface into res.locals.
  namespace Express {
    interface Locals {
      /** The binary tensor data of each inference input, by position; req.body holds the JSON. */
      rawInputs?: RawInputs;
    }
  }
}

/** Top-level media types no inference request is sent as: refused with a pointer to what to send instead. */
const NOT_JSON_TYPES = new Set(["multipart", "image", "audio", "video", "font", "model"]);

export function inferenceBody(limitBytes: number): RequestHandler {
  const refuseOversize = refuseDeclaredOversize(limitBytes);
  return (req, res, next) => {
    const mediaType = (req.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (NOT_JSON_TYPES.has(mediaType.split("/")[0])) {
      return next(
        new HttpProblem(
          400,
          "expected_json",
          `Content-Type "${mediaType.slice(0, 64)}" is not the protocol's JSON. Send the inference request as JSON (with or without ` +
            'Content-Type: application/json), image files as the "image" BYTES input; to upload a file as a form, use /predict.',
          { closeConnection: hasUnreadBody(req) },
        ),
      );
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get("content-type") ?? "")?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      return next(
        new HttpProblem(400, "unsupported_charset", `Charset "${charset}" is not supported; send the JSON as UTF-8.`, {
          closeConnection: hasUnreadBody(req),
        }),
      );
    }
    const coding = requestCoding(req);
    if (coding instanceof HttpProblem) return next(coding);
    refuseOversize(req, res, (oversize?: unknown) => {
      if (oversize !== undefined) return next(oversize);
      readDecodedBody(req, res, coding, { limitBytes, errorBody }).then((body) => {
        // Undefined: the reader has answered 413 itself.
        if (body === undefined) return;
        let split: InferenceBody;
        try {
          split = splitInferenceBody(body, req.get(HEADER_LENGTH_HEADER));
        } catch (error) {
          return next(error);
        }
        req.body = split.json;
        res.locals.rawInputs = split.rawInputs;
        next();
      }, next);
    });
  };
}
