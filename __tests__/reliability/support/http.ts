/**
 * Loopback HTTP clients for the suite: a request with a deadline (a hang is a failure, never a stuck test), a
 * raw socket exchange for what node:http will not send (slow, malformed, oversized), and a multipart builder.
 * Every answer is scanned for stack traces and internal paths.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";

export const LOOPBACK = "127.0.0.1";
const REPO = path.resolve(__dirname, "..", "..", "..");

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
  readonly ms: number;
}

export interface SendOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string | number | string[]>>;
  readonly body?: Buffer | string;
  /** Deadline for the whole exchange; past it the request is destroyed and the call rejects. @default 15000 */
  readonly timeoutMs?: number;
  /** @default false (a new connection per request) */
  readonly agent?: http.Agent | false;
  /** Source address, another loopback address to look like another client. */
  readonly localAddress?: string;
}

/** Answers the suite has scanned for leaks, and the leaks found (each a description). */
export const leakScan = { scanned: 0, leaks: [] as string[] };

/**
 * What must never appear in an answer: stack frames, source locations, this machine's paths, library internals
 * and error class names that betray the implementation.
 */
const LEAK_PATTERNS: readonly RegExp[] = [
  /\n\s+at \S+/,
  /\bat (?:async )?\S+ \(.*:\d+:\d+\)/,
  /\.(?:[cm]?js|ts|node):\d+(?::\d+)?\b/,
  /node_modules/,
  new RegExp(REPO.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
  /\/(?:home|root|tmp|usr|opt|var)\//,
  /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|MulterError|ModelLoadError|PipelineError|HttpProblem)\b/,
  /\b(?:vips_|VipsJpeg|libspng|libpng|jpeglib|onnxruntime|ort::|busboy)\b/i,
];

/** Scans one answer; only bodies a client reads as data (JSON, text) — /docs assets are third-party code. */
export function scanForLeaks(label: string, contentType: string | undefined, text: string): void {
  if (contentType !== undefined && !/json|text\/plain/.test(contentType)) return;
  leakScan.scanned++;
  const found = LEAK_PATTERNS.find((pattern) => pattern.test(text));
  if (found !== undefined) leakScan.leaks.push(`${label}: ${String(found)} in ${text.slice(0, 300)}`);
}

export async function send(port: number, options: SendOptions): Promise<Reply> {
  try {
    return await sendOnce(port, options);
  } catch (error) {
    // A server may close an idle keep-alive connection just as the client reuses it; the request then fails
    // before any answer. Node's documented remedy is to retry on a new connection (see `request.reusedSocket`).
    // A client whose event loop is starved misses the server's close, so this happens when the machine is busy.
    if (error instanceof ReusedSocketReset) return sendOnce(port, options);
    throw error;
  }
}

class ReusedSocketReset extends Error {}

function sendOnce(port: number, options: SendOptions): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const started = performance.now();
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      {
        host: LOOPBACK,
        port,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers,
        agent: options.agent ?? false,
        localAddress: options.localAddress,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          scanForLeaks(`${options.method ?? "GET"} ${options.path}`, res.headers["content-type"], text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - started });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms (hang)`));
    }, timeoutMs);
    req.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const idleClose = req.reusedSocket && error.code === "ECONNRESET" && !answered;
      reject(idleClose ? new ReusedSocketReset(error.message, { cause: error }) : error);
    });
    let answered = false;
    req.once("response", () => (answered = true));
    req.end(options.body);
  });
}

/** "status code" of a JSON error answer, "status" otherwise: the form the tables print. */
export function outcome(reply: Pick<Reply, "status" | "json">): string {
  const code = errorCode(reply.json);
  return code === undefined ? String(reply.status) : `${reply.status} ${code}`;
}

export function errorCode(json: unknown): string | undefined {
  const error = (json as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === "string" ? error.code : undefined;
}

/** True when the body is exactly the contract's error envelope with a useful message. */
export function isErrorEnvelope(json: unknown): boolean {
  if (typeof json !== "object" || json === null) return false;
  const keys = Object.keys(json);
  const error = (json as { error?: unknown }).error as { code?: unknown; message?: unknown } | undefined;
  return (
    keys.length === 1 &&
    keys[0] === "error" &&
    typeof error?.code === "string" &&
    /^[a-z0-9_]+$/.test(error.code) &&
    typeof error.message === "string" &&
    error.message.length > 10
  );
}

export interface Part {
  readonly name: string;
  readonly data: Buffer | string;
  /** Sent as filename="..." (raw UTF-8 bytes). */
  readonly filename?: string;
  /** Sent as filename*=UTF-8''<percent-encoded> (RFC 5987), which may carry any character, newlines included. */
  readonly filenameStar?: string;
  readonly contentType?: string;
}

export interface Multipart {
  readonly body: Buffer;
  readonly contentType: string;
}

export function multipart(parts: readonly Part[], boundary = `----reliability${randomBytes(8).toString("hex")}`): Multipart {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    let disposition = `form-data; name="${part.name}"`;
    if (part.filename !== undefined) disposition += `; filename="${part.filename}"`;
    if (part.filenameStar !== undefined) disposition += `; filename*=UTF-8''${encodeURIComponent(part.filenameStar)}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n` +
      (part.contentType === undefined ? "" : `Content-Type: ${part.contentType}\r\n`) + "\r\n";
    pieces.push(Buffer.from(head, "utf8"), Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data, "utf8"), Buffer.from("\r\n"));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  // A boundary with characters outside an HTTP token (such as / : ? ( ) ,) must be quoted in the header.
  const parameter = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(boundary) ? boundary : `"${boundary}"`;
  return { body: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${parameter}` };
}

/** POSTs files as multipart/form-data. */
export function upload(
  port: number,
  route: string,
  parts: readonly Part[],
  options: Omit<SendOptions, "path" | "body" | "method"> = {},
): Promise<Reply> {
  const { body, contentType } = multipart(parts);
  return send(port, {
    ...options,
    method: "POST",
    path: route,
    body,
    headers: { "Content-Type": contentType, "Content-Length": body.length, ...options.headers },
  });
}

export interface RawResult {
  /** Everything the server sent. */
  readonly raw: string;
  /** Parsed from the first response, when there was one. */
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly json: unknown;
  /** The server ended the connection (FIN or reset) before the deadline. */
  readonly closedByServer: boolean;
  /** Milliseconds from connecting to the connection's end (or the deadline). */
  readonly ms: number;
  /** Milliseconds from connecting to the first byte of the answer. */
  readonly firstByteMs: number | undefined;
  readonly bytesWritten: number;
}

export interface RawOptions {
  /** Drives the client side: write, wait, write more. Stop when `closed()` turns true. */
  readonly drive: (socket: net.Socket, closed: () => boolean) => Promise<void> | void;
  /** The exchange is cut here; a server that has not closed by then left the connection hanging. */
  readonly timeoutMs: number;
  /** End the exchange as soon as one whole answer has arrived (for answers that keep the connection open). */
  readonly untilAnswered?: boolean;
}

/** One connection driven byte by byte; resolves when the server closes it or the deadline passes. */
export function rawExchange(port: number, { drive, timeoutMs, untilAnswered = false }: RawOptions): Promise<RawResult> {
  return new Promise<RawResult>((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: LOOPBACK, port });
    const received: Buffer[] = [];
    let firstByteMs: number | undefined;
    let closed = false;
    let finished = false;
    const finish = (closedByServer: boolean) => {
      if (finished) return;
      finished = true;
      closed = true;
      clearTimeout(timer);
      const ms = performance.now() - started;
      const bytesWritten = socket.bytesWritten;
      socket.destroy();
      const raw = Buffer.concat(received).toString("utf8");
      const parsed = parseResponse(raw);
      scanForLeaks("raw exchange", parsed.headers["content-type"], parsed.body);
      resolve({ raw, ...parsed, closedByServer, ms, firstByteMs, bytesWritten });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      firstByteMs ??= performance.now() - started;
      received.push(chunk);
      if (untilAnswered && isComplete(Buffer.concat(received).toString("utf8"))) finish(false);
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.once("connect", () => {
      void Promise.resolve(drive(socket, () => closed)).catch(() => undefined);
    });
  });
}

function isComplete(raw: string): boolean {
  const end = raw.indexOf("\r\n\r\n");
  const length = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, Math.max(0, end)));
  return end >= 0 && length !== null && Buffer.byteLength(raw.slice(end + 4)) >= Number(length[1]);
}

function parseResponse(raw: string): Pick<RawResult, "status" | "headers" | "body" | "json"> {
  const end = raw.indexOf("\r\n\r\n");
  if (!raw.startsWith("HTTP/1.1 ") || end < 0) return { status: undefined, headers: {}, body: raw, json: undefined };
  const [statusLine, ...headerLines] = raw.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(end + 4);
  const length = Number(headers["content-length"]);
  if (Number.isInteger(length)) body = Buffer.from(body, "utf8").subarray(0, length).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body, json };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or `fallback` once `ms` pass; the timer is cleared either way (no handle left open). */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `chunk` and resolves once the socket can take more (backpressure), or at once when it is closed. */
export function writeChunk(socket: net.Socket, chunk: Buffer | string): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.destroyed || !socket.writable) return resolve();
    if (socket.write(chunk)) return resolve();
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

/** An upload whose headers and first half of the body are sent; `finish()` sends the rest. */
export interface HalfSentUpload {
  readonly finish: () => void;
  readonly answer: Promise<{ status: number; connection?: string; text: string }>;
}

/** Starts a POST of `body` to `urlPath` that stalls halfway: it holds a request slot until finished. */
export function startHalfSentUpload(port: number, urlPath: string, { body, contentType }: Multipart): HalfSentUpload {
  const req = http.request({
    host: LOOPBACK,
    port,
    method: "POST",
    path: urlPath,
    agent: false,
    headers: { "Content-Type": contentType, "Content-Length": body.length },
  });
  const answer = new Promise<{ status: number; connection?: string; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
    });
    req.on("error", reject);
  });
  req.write(body.subarray(0, body.length >> 1));
  return { finish: () => req.end(body.subarray(body.length >> 1)), answer };
}
