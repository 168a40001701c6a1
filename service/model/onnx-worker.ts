/**
 * The ONNX Runtime session, on its own thread. onnxruntime-node's `run` computes synchronously on the calling
 * thread, so a batch of 32 would stall the event loop (and with it probes, uploads and timers) for tens of
 * milliseconds; here it stalls only this worker. Messages are handled one at a time, in order.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./onnx-model";

async function main(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(init.modelBytes, init.sessionOptions);
  } catch (error) {
    // A failure on another provider is the provider's only if the model opens on the CPU; otherwise the CPU's
    // reason is the one that names the model's problem.
    const cpuFailure = init.executionProvider === "cpu" ? errorMessage(error) : await cpuLoadFailure(init);
    const reply: WorkerReply =
      cpuFailure === undefined
        ? { type: "failed", message: errorMessage(error), providerFailed: true }
        : { type: "failed", message: cpuFailure, providerFailed: false };
    port.postMessage(reply);
    return;
  }
  port.postMessage({
    type: "loaded",
    inputs: session.inputMetadata.map(describe),
    outputs: session.outputMetadata.map(describe),
  } satisfies WorkerReply);

  port.on("message", (request: WorkerRequest) => {
    void run(session, init, request).then(
      (logits) => port.postMessage({ type: "result", id: request.id, logits } satisfies WorkerReply, [logits.buffer as ArrayBuffer]),
      (error: unknown) => port.postMessage({ type: "error", id: request.id, message: errorMessage(error) } satisfies WorkerReply),
    );
  });
}

async function run(session: ort.InferenceSession, init: WorkerInit, request: WorkerRequest): Promise<Float32Array> {
  const input = new ort.Tensor("float32", request.batch, [request.n, ...init.itemShape]);
  const outputs = await session.run({ [init.inputName]: input });
  const output = outputs[init.outputName];
  if (output === undefined || !(output.data instanceof Float32Array)) {
    throw new Error(`the model returned no float32 output named "${init.outputName}"`);
  }
  // A copy we own outright, so it can be transferred back without copying again.
  return new Float32Array(output.data);
}

/** Why the model does not open on the CPU provider alone, or undefined when it does. */
async function cpuLoadFailure(init: WorkerInit): Promise<string | undefined> {
  try {
    const session = await ort.InferenceSession.create(init.modelBytes, { ...init.sessionOptions, executionProviders: ["cpu"] });
    await session.release();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

function describe(meta: ort.InferenceSession.ValueMetadata): { name: string; shape: (number | string)[] } {
  return { name: meta.name, shape: meta.isTensor ? [...meta.shape] : [] };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (parentPort !== null) void main(parentPort, workerData as WorkerInit);
