/**
 * Sends a response body compressed as the client's Accept-Encoding prefers (gzip or deflate), or as is. Written
 * on node:zlib rather than the `compression` middleware (not a dependency): only the answers that call it are
 * compressed, and each is compressed whole, so Content-Length stays exact.
 */
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { Request, Response } from "express";

export const RESPONSE_CODINGS = ["gzip", "deflate"] as const;
export type ResponseCoding = (typeof RESPONSE_CODINGS)[number] | "identity";

const COMPRESS: Readonly<Record<Exclude<ResponseCoding, "identity">, (body: Buffer) => Promise<Buffer>>> = {
  gzip: promisify(zlib.gzip),
  deflate: promisify(zlib.deflate),
};

/**
 * The coding to answer with. Without Accept-Encoding a client gets the body as is (RFC 9110 would allow any
 * coding, but clients that send no header rarely decode one); otherwise the client's preference by q-value,
 * gzip first on a tie, identity when it accepts neither.
 */
export function responseCoding(req: Request): ResponseCoding {
  if (req.get("accept-encoding") === undefined) return "identity";
  const chosen = req.acceptsEncodings([...RESPONSE_CODINGS, "identity"]);
  return chosen === "gzip" || chosen === "deflate" ? chosen : "identity";
}

/** Ends `res` with `body` (already serialized), compressed when the client accepts it. */
export async function sendCompressible(req: Request, res: Response, body: Buffer, headers: Readonly<Record<string, string>>): Promise<void> {
  const coding = responseCoding(req);
  const encoded = coding === "identity" ? body : await COMPRESS[coding](body);
  res.vary("Accept-Encoding");
  res.set(headers);
  if (coding !== "identity") res.setHeader("Content-Encoding", coding);
  res.setHeader("Content-Length", String(encoded.length));
  res.end(encoded);
}
