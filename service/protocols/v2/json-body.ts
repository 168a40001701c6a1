/**
 * A JSON request body, size-capped while streaming, as the multipart uploads are (service/http/upload.ts).
 *
 * express.json() is not used: past its limit it reads the rest of the body to the end before answering 413,
 * so a client could make the service read gigabytes. Here a declared Content-Length over the limit is refused
 * before any byte is read, and a body without one (chunked) is refused the moment it passes the limit; the
 * 413 closes the connection after a bounded linger, so the rest is never parsed (and the client reads the 413,
 * not a reset). The limit helpers are service/http/body.ts's, shared with the multipart uploads.
 */
import type { Request, RequestHandler, Response } from "express";
import { countBodyBytes, hasUnreadBody, refuseDeclaredOversize, sendProblemWhileReceiving } from "../../http/body";
import { HttpProblem, payloadTooLarge } from "../../http/errors";
import { errorBody } from "./errors";

export function jsonBody(limitBytes: number): RequestHandler {
  const refuseOversize = refuseDeclaredOversize(limitBytes);
  return (req, res, next) => {
    if (!req.is("application/json")) {
      return next(
        new HttpProblem(400, "expected_json", "Send the inference request as JSON with Content-Type: application/json.", {
          closeConnection: hasUnreadBody(req),
        }),
      );
    }
    const encoding = req.get("content-encoding");
    if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
      return next(
        new HttpProblem(400, "unsupported_encoding", `Content-Encoding "${encoding}" is not supported; send the JSON uncompressed.`, {
          closeConnection: hasUnreadBody(req),
        }),
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
    refuseOversize(req, res, (oversize?: unknown) => {
      if (oversize !== undefined) return next(oversize);
      readJson(req, res, limitBytes, next);
    });
  };
}

/** Reads the body up to the limit and parses it into req.body; past the limit, answers 413 itself. */
function readJson(req: Request, res: Response, limitBytes: number, next: (error?: unknown) => void): void {
  const chunks: Buffer[] = [];
  const finish = (error?: unknown) => {
    stopCounting();
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    next(error);
  };
  const stopCounting = countBodyBytes(req, limitBytes, () => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    const problem = payloadTooLarge(limitBytes);
    sendProblemWhileReceiving(req, res, problem, limitBytes, errorBody(problem));
  });
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
  };
  const onEnd = () => {
    try {
      req.body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    } catch {
      return finish(new HttpProblem(400, "malformed_json", "The request body is not valid JSON."));
    }
    finish();
  };
  // The client went away or the connection broke mid-body: nobody will read the answer.
  const onError = () => finish(new HttpProblem(400, "incomplete_body", "The request body was not received completely."));
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}
