/**
 * Protocol cells (`npm run bench -- --protocols`): the same FP32 tensors [N, 3, 32, 32] (the golden fixture's
 * preprocessed CIFAR-10 images) through the Open Inference Protocol's three ways in, at batch 1 and 32:
 *
 * - rest-json: POST /v2/models/<model>/infer with the tensor as JSON numbers, JSON answer;
 * - rest-binary: the binary tensor data extension, `Inference-Header-Content-Length`, raw little-endian FP32 in
 *   and out (`binary_data_output`);
 * - grpc: inference.GRPCInferenceService/ModelInfer with raw_input_contents (raw_output_contents back).
 *
 * Each cell starts the service fresh (defaults, batching on), checks one call per protocol against the others
 * (same top-1 for every image), warms up, then drives a closed loop of `concurrency` calls in flight from this
 * process for the measured window: req/s, inferences/s (req/s x N), latency percentiles, and the CPU seconds
 * the server's process tree used per inference (from /proc). Bodies are built once, before the window, so the
 * client only sends bytes and reads answers.
 */
import http from "node:http";
import { join } from "node:path";
import { Client, Metadata, credentials, type ServiceError } from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { readFloat32File } from "../scripts/float32-file";
import { goldenInputsFor } from "../scripts/golden-fixtures";
import { GRPC_CONTRACT } from "../service/contract/grpc";
import { itemShape, itemSize, loadModelCard } from "../service/model/card";
import { committedVersionFiles } from "../service/model/repository";
import type { Message } from "../service/protocols/grpc/client";
import { loadProtos } from "../service/protocols/grpc/definition";
import { fp32ToBytes } from "../service/protocols/v2/tensor-bytes";
import { machineBusySeconds, processCpuSeconds, processTree } from "./processes";
import { startSystem, stopSystem, type RunContext, type SystemSpec } from "./systems";
import { tileImages } from "./tensor-batch";

export const PROTOCOLS = ["rest-json", "rest-binary", "grpc"] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export const PROTOCOL_BATCHES = [1, 32] as const;

export const PROTOCOL_DESCRIPTIONS: Readonly<Record<Protocol, string>> = {
  "rest-json": "REST, JSON tensor in, JSON out (POST /v2/models/{model}/infer)",
  "rest-binary": "REST, binary tensor data extension in and out (Inference-Header-Content-Length)",
  grpc: "gRPC ModelInfer, raw_input_contents in, raw_output_contents out",
};

/** Distinct request bodies per cell, rotated, so consecutive calls carry different images. */
const VARIANTS = 4;

export interface ProtocolCellSpec {
  readonly protocol: Protocol;
  readonly batch: number;
  readonly concurrency: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
}

export interface ProtocolCellResult {
  readonly protocol: Protocol;
  readonly batch: number;
  readonly concurrency: number;
  readonly durationSeconds: number;
  /** Calls answered with 200 / OK in the measured window. */
  readonly ok: number;
  /** Calls that failed, by HTTP status or gRPC code name. */
  readonly failures: Readonly<Record<string, number>>;
  readonly requestsPerSecond: number;
  readonly inferencesPerSecond: number;
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  /** Bytes of one request body (gRPC: the protobuf message). */
  readonly requestBytes: number;
  /** CPU seconds of the server's process tree in the window, and per successful inference. */
  readonly serverCpuSeconds: number;
  readonly cpuSecondsPerInference: number;
  /** CPU seconds of this process (the load) in the window. */
  readonly clientCpuSeconds: number;
  /** What the rest of the machine kept busy in the window, in cores. */
  readonly backgroundCores: number;
  readonly startToReadyMs: number;
  /** Peak RSS of the server's process tree over the cell, MiB. */
  readonly peakRssMiB: number;
}

/** What every request of a run sends and reads back: names and sizes from the served version's card. */
export interface ProtocolInputs {
  readonly model: string;
  readonly inputName: string;
  readonly outputName: string;
  /** One image's dimensions, [3, 32, 32] for CIFAR-10. */
  readonly itemShape: readonly number[];
  /** Floats per image, the product of itemShape. */
  readonly itemSize: number;
  readonly classes: number;
  /** The golden fixture's preprocessed images, little-endian FP32, itemShape each. */
  readonly tensors: Float32Array;
}

/** The golden fixture's images for `version`, with the tensor layout its card declares. */
export async function loadProtocolInputs(repo: string, version: string): Promise<ProtocolInputs> {
  const card = await loadModelCard(join(repo, committedVersionFiles(version).cardPath));
  return {
    model: card.name,
    inputName: card.input.name,
    outputName: card.output.name,
    itemShape: itemShape(card.input),
    itemSize: itemSize(card.input),
    classes: card.labels.length,
    tensors: readFloat32File(goldenInputsFor(repo, version).path),
  };
}

/** One prepared call of a protocol: what to send, and how to read the logits out of the answer. */
interface PreparedCall {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

function restJson(inputs: ProtocolInputs, values: Float32Array, batch: number): PreparedCall {
  const body = Buffer.from(
    JSON.stringify({
      inputs: [{ name: inputs.inputName, datatype: "FP32", shape: [batch, ...inputs.itemShape], data: Array.from(values) }],
      outputs: [{ name: inputs.outputName }],
    }),
  );
  return { body, headers: { "Content-Type": "application/json" } };
}

function restBinary(inputs: ProtocolInputs, values: Float32Array, batch: number): PreparedCall {
  const tensor = fp32ToBytes(values);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: inputs.inputName, datatype: "FP32", shape: [batch, ...inputs.itemShape], parameters: { binary_data_size: tensor.length } }],
      outputs: [{ name: inputs.outputName, parameters: { binary_data: true } }],
    }),
  );
  // No Content-Type, as tritonclient sends it.
  return { body: Buffer.concat([header, tensor]), headers: { "Inference-Header-Content-Length": String(header.length) } };
}

type InferMethod = MethodDefinition<Message, Message>;

function inferMethod(): InferMethod {
  const service = loadProtos()[GRPC_CONTRACT.inferenceService] as unknown as Record<string, InferMethod>;
  return service.ModelInfer;
}

function grpcMessage(method: InferMethod, inputs: ProtocolInputs, values: Float32Array, batch: number): PreparedCall {
  const body = method.requestSerialize({
    model_name: inputs.model,
    inputs: [{ name: inputs.inputName, datatype: "FP32", shape: [batch, ...inputs.itemShape] }],
    outputs: [{ name: inputs.outputName }],
    raw_input_contents: [fp32ToBytes(values)],
  });
  return { body, headers: {} };
}

/** One call's end: ok, or why not; and the answer's bytes. */
interface CallEnd {
  readonly ok: boolean;
  readonly failure?: string;
  readonly answer?: Buffer;
}

interface Transport {
  call(prepared: PreparedCall): Promise<CallEnd>;
  /** Top-1 class of each image in an answer. */
  top1(answer: Buffer, batch: number): number[];
  close(): void;
}

function argmaxRows(logits: ArrayLike<number>, batch: number, classes: number): number[] {
  return Array.from({ length: batch }, (_, row) => {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[row * classes + k] > logits[row * classes + best]) best = k;
    return best;
  });
}

function restTransport(url: string, inputs: ProtocolInputs, concurrency: number, binary: boolean): Transport {
  const { classes } = inputs;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(`${url}/v2/models/${inputs.model}/infer`);
  return {
    call: (prepared) =>
      new Promise((resolve) => {
        const request = http.request(
          { host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent, headers: { ...prepared.headers, "Content-Length": prepared.body.length } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () => {
              const ok = response.statusCode === 200;
              resolve({ ok, failure: ok ? undefined : String(response.statusCode), answer: Buffer.concat(chunks) });
            });
            response.on("error", () => resolve({ ok: false, failure: "socket" }));
          },
        );
        request.on("error", () => resolve({ ok: false, failure: "socket" }));
        request.end(prepared.body);
      }),
    top1: (answer, batch) => {
      if (!binary) {
        const json = JSON.parse(answer.toString()) as { outputs: { data: number[] }[] };
        return argmaxRows(json.outputs[0].data, batch, classes);
      }
      // The JSON header's length is in the response header; the logits are the bytes after it.
      const headerEnd = answer.length - batch * classes * 4;
      const values = Array.from({ length: batch * classes }, (_, i) => answer.readFloatLE(headerEnd + 4 * i));
      return argmaxRows(values, batch, classes);
    },
    close: () => agent.destroy(),
  };
}

function grpcTransport(address: string, method: InferMethod, classes: number): Transport {
  const identity = (bytes: Buffer): Buffer => bytes;
  const client = new Client(address, credentials.createInsecure(), { "grpc.max_receive_message_length": 64 * 2 ** 20, "grpc.max_send_message_length": 64 * 2 ** 20 });
  const path = `/${GRPC_CONTRACT.inferenceService}/ModelInfer`;
  return {
    call: (prepared) =>
      new Promise((resolve) => {
        client.makeUnaryRequest(path, identity, identity, prepared.body, new Metadata(), {}, (error: ServiceError | null, answer?: Buffer) =>
          resolve(error === null ? { ok: true, answer } : { ok: false, failure: `grpc ${error.code}` }),
        );
      }),
    top1: (answer, batch) => {
      const response = method.responseDeserialize(answer) as { raw_output_contents: Buffer[] };
      const raw = response.raw_output_contents[0];
      return argmaxRows(Array.from({ length: batch * classes }, (_, i) => raw.readFloatLE(4 * i)), batch, classes);
    },
    close: () => client.close(),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `concurrency` calls in flight until `seconds` pass, each starting as the previous one of its lane ends. */
async function closedLoop(transport: Transport, calls: readonly PreparedCall[], concurrency: number, seconds: number) {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const started = performance.now();
  const end = started + seconds * 1000;
  let next = 0;
  const lane = async () => {
    while (performance.now() < end) {
      const prepared = calls[next++ % calls.length];
      const t0 = performance.now();
      const outcome = await transport.call(prepared);
      if (outcome.ok) latencies.push(performance.now() - t0);
      else failures[outcome.failure ?? "unknown"] = (failures[outcome.failure ?? "unknown"] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { latencies, failures, elapsedSeconds: (performance.now() - started) / 1000 };
}

/** Ours, with its defaults: the same service the other cells run. */
export const PROTOCOL_SYSTEM: SystemSpec = { id: "ours-batching", kind: "ours", env: {}, description: "the service with its defaults (batching on)" };

export async function runProtocolCell(cell: ProtocolCellSpec, ctx: RunContext, inputs: ProtocolInputs): Promise<ProtocolCellResult & { top1: number[] }> {
  const server = await startSystem(PROTOCOL_SYSTEM, ctx);
  let stopped = false;
  const method = inferMethod();
  const transport =
    cell.protocol === "grpc"
      ? grpcTransport(server.grpcAddress!, method, inputs.classes)
      : restTransport(server.url, inputs, cell.concurrency, cell.protocol === "rest-binary");
  try {
    const calls = Array.from({ length: VARIANTS }, (_, variant) => {
      const values = tileImages(inputs.tensors, inputs.itemSize, cell.batch, variant * cell.batch);
      if (cell.protocol === "rest-json") return restJson(inputs, values, cell.batch);
      if (cell.protocol === "rest-binary") return restBinary(inputs, values, cell.batch);
      return grpcMessage(method, inputs, values, cell.batch);
    });
    // Proof that the protocol answers, and what: the top-1 of every image of the first body.
    const first = await transport.call(calls[0]);
    if (!first.ok || first.answer === undefined) throw new Error(`${cell.protocol} batch ${cell.batch}: the first call failed (${first.failure})`);
    const top1 = transport.top1(first.answer, cell.batch);

    if (cell.warmupSeconds > 0) await closedLoop(transport, calls, cell.concurrency, cell.warmupSeconds);
    const pids = processTree(server.child.pid!);
    const cpuBefore = pids.map(processCpuSeconds);
    const busyBefore = machineBusySeconds();
    const clientBefore = process.cpuUsage();
    const load = await closedLoop(transport, calls, cell.concurrency, cell.durationSeconds);
    const client = process.cpuUsage(clientBefore);
    const serverCpuSeconds = pids.map((pid, i) => processCpuSeconds(pid) - cpuBefore[i]).reduce((a, b) => a + b, 0);
    const busy = machineBusySeconds() - busyBefore;
    const clientCpuSeconds = (client.user + client.system) / 1e6;
    const memory = await stopSystem(server);
    stopped = true;

    const sorted = [...load.latencies].sort((a, b) => a - b);
    const ok = sorted.length;
    const requestsPerSecond = ok / load.elapsedSeconds;
    return {
      protocol: cell.protocol,
      batch: cell.batch,
      concurrency: cell.concurrency,
      durationSeconds: load.elapsedSeconds,
      ok,
      failures: load.failures,
      requestsPerSecond,
      inferencesPerSecond: requestsPerSecond * cell.batch,
      latencyMs: {
        mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, ok),
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1] ?? 0,
      },
      requestBytes: calls[0].body.length,
      serverCpuSeconds,
      cpuSecondsPerInference: ok > 0 ? serverCpuSeconds / (ok * cell.batch) : 0,
      clientCpuSeconds,
      backgroundCores: Math.max(0, busy - serverCpuSeconds - clientCpuSeconds) / load.elapsedSeconds,
      startToReadyMs: server.startToReadyMs,
      peakRssMiB: memory.peakRssMiB,
      top1,
    };
  } finally {
    transport.close();
    if (!stopped) await stopSystem(server);
  }
}
