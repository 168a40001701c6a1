/** The HTTP server around the app: slow-client timeouts, and JSON answers to errors Node raises itself. */
import { randomUUID } from "node:crypto";
import { STATUS_CODES, createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Config } from "../config/schema";

export function createHttpServer(app: RequestListener, config: Pick<Config, "headersTimeoutMs" | "requestTimeoutMs" | "keepAliveTimeoutMs">): Server {
  // A client gets headersTimeoutMs to send its headers and requestTimeoutMs for the whole request; slower
  // clients get 408 and are disconnected, so slow uploads cannot hold connections forever. Node checks these
  // deadlines every connectionsCheckingInterval (30 s by default): check often enough to keep them.
  const server = createServer(
    {
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
      // Node's own 400 for a missing Host has an empty body; the listener below answers it in JSON.
      requireHostHeader: false,
    },
    (req, res) => {
      // HTTP/1.1 requires Host (RFC 9112, section 3.2).
      if (req.httpVersion === "1.1" && req.headers.host === undefined) {
        answerInJson(res, 400, "missing_host", "HTTP/1.1 requests must carry a Host header.");
      } else app(req, res);
    },
  );
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  // Node's 5 s default is shorter than a proxy's upstream keep-alive: the proxy would send requests on
  // connections the service is closing, and its clients would get 502s.
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // An Expect other than 100-continue: Node's own 417 has an empty body.
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    answerInJson(res, 417, "expectation_failed", 'Only "Expect: 100-continue" is supported; send the request without Expect.');
  });
  // A request answered before its body arrived (413, 503) must not get a second answer when that body times out.
  const answeredEarly = new WeakSet<Duplex>();
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    res.once("finish", () => {
      if (!req.complete) answeredEarly.add(req.socket);
    });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (answeredEarly.has(socket)) socket.destroy();
    else answerClientError(error, socket);
  });
  return server;
}

/**
 * Errors found by Node's HTTP parser or its timers never reach Express; answer them in the service's JSON
 * error shape too (Node's default is an empty body), then close the connection.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const responding = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (error.code === "ECONNRESET" || !socket.writable || responding) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? [408, "request_timeout", "The request was not received in time; send it faster or in one go."]
      : error.code === "HPE_HEADER_OVERFLOW"
        ? [431, "headers_too_large", "The request headers are too large."]
        : [400, "bad_request", "The request is not valid HTTP/1.1."];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "Content-Type: application/json; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${randomUUID()}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}

/** An error the server answers itself, before the app sees the request; the connection closes after it. */
function answerInJson(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    "X-Request-Id": randomUUID(),
    Connection: "close",
  });
  res.end(body);
}
