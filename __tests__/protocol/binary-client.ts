/**
 * The client side of Triton's binary tensor data extension, written from its documentation (Triton
 * docs/protocol/extension_binary_data.md, KServe's "Binary Tensor Data Extension") and from what tritonclient's
 * HTTP client sends, not from the service's code:
 * - the body is the JSON request, then each binary input's bytes in the order of "inputs";
 * - Inference-Header-Content-Length gives the JSON's size in bytes; no Content-Type is sent;
 * - a binary input has "parameters": {"binary_data_size": N} and no "data";
 * - tensor data is little-endian, row-major, no padding; a BYTES element is a 4-byte little-endian unsigned
 *   length followed by its bytes;
 * - binary outputs come back the same way, each output's JSON carrying "binary_data_size" instead of "data".
 * Also a raw HTTP exchange that neither adds headers nor decompresses, so each test sees the wire.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export const HEADER_LENGTH = "Inference-Header-Content-Length";

export interface ClientInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly parameters?: Record<string, unknown>;
  /** JSON data; or `binary` instead. */
  readonly data?: unknown;
  /** Raw tensor bytes, sent after the JSON; `binary_data_size` is added from their length. */
  readonly binary?: Buffer;
}

export interface ClientRequest {
  readonly id?: string;
  readonly parameters?: Record<string, unknown>;
  readonly inputs: readonly ClientInput[];
  readonly outputs?: readonly { name: string; parameters?: Record<string, unknown> }[];
}

/** The body and the Inference-Header-Content-Length value a Triton-style client sends. */
export function encodeRequest(request: ClientRequest): { body: Buffer; headerLength: number } {
  const tensors: Buffer[] = [];
  const inputs = request.inputs.map(({ binary, ...input }) => {
    if (binary === undefined) return input;
    tensors.push(binary);
    return { ...input, parameters: { ...input.parameters, binary_data_size: binary.length } };
  });
  const json = Buffer.from(JSON.stringify({ ...request, inputs }), "utf8");
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}

/** Little-endian FP32, element by element through a DataView (independent of the platform's byte order). */
export function fp32Tensor(values: ArrayLike<number>): Buffer {
  const bytes = new ArrayBuffer(values.length * 4);
  const view = new DataView(bytes);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return Buffer.from(bytes);
}

export function fp32Values(bytes: Buffer): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** A BYTES tensor: each element behind its 4-byte little-endian length. */
export function bytesTensor(elements: readonly Buffer[]): Buffer {
  return Buffer.concat(
    elements.flatMap((element) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(element.length, 0);
      return [length, element];
    }),
  );
}

export interface DecodedOutput {
  readonly name: string;
  readonly shape: number[];
  readonly datatype: string;
  readonly parameters?: { binary_data_size?: number };
  readonly data?: number[];
  /** The output's bytes after the JSON, for a binary output. */
  readonly binary?: Buffer;
}

/** Splits a response as a Triton client does: the JSON (all of it without the header), then the binary outputs in order. */
export function decodeResponse(body: Buffer, headerLength: string | undefined): { json: Record<string, unknown>; outputs: DecodedOutput[] } {
  const jsonSize = headerLength === undefined ? body.length : Number(headerLength);
  const json = JSON.parse(body.subarray(0, jsonSize).toString("utf8")) as Record<string, unknown> & { outputs?: DecodedOutput[] };
  let offset = jsonSize;
  const outputs = (json.outputs ?? []).map((output) => {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) return output;
    const binary = body.subarray(offset, offset + size);
    offset += size;
    return { ...output, binary };
  });
  if (offset !== body.length) throw new Error(`${body.length - offset} bytes after the last binary output`);
  return { json, outputs };
}

export interface RawReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** As received: still compressed when the server compressed it. */
  readonly body: Buffer;
  /** Request body bytes written before the answer came (for streamed requests). */
  readonly bytesWritten: number;
}

/** One listening server for an app, on loopback, closed by `close` (and only that server). */
export async function listen(app: http.RequestListener): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * POSTs `body` with exactly `headers` (plus Host and, for a Buffer body, Content-Length; no Content-Type unless
 * given). A function body is a chunked stream: it is called for chunks until it returns undefined or the server
 * answers.
 */
export function post(port: number, path: string, body: Buffer | (() => Buffer | undefined), headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    let bytesWritten = 0;
    let answered = false;
    const streamed = typeof body === "function";
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: streamed ? { ...headers, "Transfer-Encoding": "chunked" } : { ...headers, "Content-Length": String(body.length) },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytesWritten }));
      },
    );
    // A server that answers early may close the connection while we still send: the answer is what counts.
    req.on("error", (error) => (answered ? undefined : reject(error)));
    if (!streamed) {
      bytesWritten = body.length;
      req.end(body);
      return;
    }
    const write = () => {
      while (!answered) {
        const chunk = body();
        if (chunk === undefined) return void req.end();
        bytesWritten += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}
