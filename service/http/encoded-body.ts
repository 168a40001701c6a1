/**
 * Reads a whole request body that may be compressed (Content-Encoding gzip or deflate), capped at one limit
 * twice: the bytes on the wire, and the bytes they inflate to. Both are counted as they arrive, so a body over
 * the limit, or a decompression bomb, is answered 413 while it is still streaming or inflating, never after.
 */
import zlib from "node:zlib";
import type { Request, Response } from "express";
import { countBodyBytes, hasUnreadBody, sendProblemWhileReceiving } from "./body";
import { HttpProblem, payloadTooLarge } from "./errors";

/** The content codings a request body may use; "deflate" is the zlib format (RFC 9110 section 8.4.1.2). */
export const REQUEST_CODINGS = ["gzip", "deflate"] as const;
export type RequestCoding = (typeof REQUEST_CODINGS)[number] | "identity";

/** Inflated output per chunk: the most a bomb can inflate past the limit before it is stopped. */
const INFLATE_CHUNK_BYTES = 64 * 1024;

export interface ReadBodyOptions {
  /** Most bytes on the wire, and most bytes after decoding. */
  readonly limitBytes: number;
  /** The JSON answer for a problem sent while the client is still sending (the protocol's error shape). */
  readonly errorBody: (problem: HttpProblem) => unknown;
}

/**
 * The request's content coding, or a 400 problem for one this reader does not decode. "identity" and
 * "x-gzip" (RFC 9110's alias of gzip) are accepted; a stack of codings ("gzip, deflate") is refused.
 */
export function requestCoding(req: Request): RequestCoding | HttpProblem {
  const header = req.get("content-encoding");
  if (header === undefined) return "identity";
  const codings = header
    .split(",")
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== "" && coding !== "identity")
    .map((coding) => (coding === "x-gzip" ? "gzip" : coding));
  if (codings.length === 0) return "identity";
  const supported = REQUEST_CODINGS as readonly string[];
  if (codings.length === 1 && supported.includes(codings[0])) return codings[0] as RequestCoding;
  return new HttpProblem(
    400,
    "unsupported_encoding",
    `Content-Encoding "${header.slice(0, 64)}" is not supported; send the body uncompressed, or compressed once with ${REQUEST_CODINGS.join(" or ")}.`,
    { closeConnection: hasUnreadBody(req) },
  );
}

/**
 * The body, decoded. Resolves undefined when it has answered 413 itself (the client may still be sending, so
 * the answer needs a lingering close); rejects with an HttpProblem for a body that cannot be read or decoded.
 */
export function readDecodedBody(req: Request, res: Response, coding: RequestCoding, options: ReadBodyOptions): Promise<Buffer | undefined> {
  const { limitBytes } = options;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let decodedBytes = 0;
    let settled = false;
    const inflater = coding === "identity" ? undefined : createInflater(coding);

    const stop = () => {
      settled = true;
      stopCounting();
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      if (inflater !== undefined) {
        inflater.off("data", collect);
        inflater.off("end", finish);
        inflater.destroy();
      }
    };
    /** Answers a problem: at once through the error handler when the body is all in, else while receiving. */
    const refuse = (problem: HttpProblem) => {
      if (settled) return;
      const receiving = !req.complete;
      stop();
      if (!receiving) return reject(problem);
      sendProblemWhileReceiving(req, res, problem, limitBytes, options.errorBody(problem));
      req.resume();
      resolve(undefined);
    };
    const collect = (chunk: Buffer) => {
      if (settled) return;
      decodedBytes += chunk.length;
      if (decodedBytes > limitBytes) return refuse(payloadTooLarge(limitBytes));
      chunks.push(chunk);
    };
    const finish = () => {
      if (settled) return;
      stop();
      resolve(Buffer.concat(chunks));
    };
    const stopCounting = countBodyBytes(req, limitBytes, () => refuse(payloadTooLarge(limitBytes)));
    const onData = (chunk: Buffer) => {
      if (settled) return;
      if (inflater === undefined) return collect(chunk);
      // Backpressure: a small compressed chunk can inflate to much more, so wait until the inflater drains.
      if (!inflater.write(chunk)) {
        req.pause();
        inflater.once("drain", () => {
          if (!settled) req.resume();
        });
      }
    };
    const onEnd = () => (inflater === undefined ? finish() : inflater.end());
    // The client went away or the connection broke mid-body: nobody will read the answer.
    const onError = () => {
      if (settled) return;
      stop();
      reject(new HttpProblem(400, "incomplete_body", "The request body was not received completely."));
    };
    if (inflater !== undefined) {
      inflater.on("data", collect);
      inflater.on("end", finish);
      // zlib's own message names its internals; the client gets what to do instead.
      inflater.on("error", () =>
        refuse(new HttpProblem(400, "malformed_encoding", `The request body is not valid ${coding} data (corrupt or truncated); compress the whole body once, or send it uncompressed.`)),
      );
    }
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

function createInflater(coding: Exclude<RequestCoding, "identity">): zlib.Gunzip | zlib.Inflate {
  const options = { chunkSize: INFLATE_CHUNK_BYTES };
  return coding === "gzip" ? zlib.createGunzip(options) : zlib.createInflate(options);
}
