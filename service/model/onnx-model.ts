/**
 * Loads the ONNX model the model card describes: reads the file once, checks its sha256 against the card,
 * opens an ONNX Runtime session on a worker thread with the configured threads and graph optimization, checks
 * the session's input and output against the card, and warms it up. `run` then turns a batch into logits.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { InferenceSession } from "onnxruntime-node";
import { itemShape, itemSize, type ModelCard } from "./card";
import { CONFIG_SCHEMA, type EXECUTION_PROVIDERS, type GRAPH_OPTIMIZATION_LEVELS } from "../config/schema";

/** What the pipeline needs from a model; tests may pass their own. */
export interface InferenceModel {
  /**
   * Logits for `n` items laid out NCHW in `batch` (n x itemSize floats), n x classes floats back.
   * Takes ownership of `batch`: its buffer may be transferred to another thread and become unusable.
   */
  run(batch: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface OnnxModelOptions {
  readonly modelPath: string;
  readonly card: ModelCard;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly graphOptimizationLevel: GraphOptimizationLevel;
  /**
   * Where ONNX Runtime runs the model. A provider other than the CPU's that cannot load stops the load with a
   * ModelLoadError saying so (ONNX Runtime never falls back to the CPU on its own).
   * @default "cpu"
   */
  readonly executionProvider?: ExecutionProvider;
  /** Let idle ONNX Runtime threads spin-wait for work instead of sleeping. @default false */
  readonly spinWait?: boolean;
  /** Batch sizes run once at load so the first requests do not pay for allocation. @default [1] */
  readonly warmUpBatchSizes?: readonly number[];
  /** Called once if the inference thread dies after loading; the model is unusable from then on. */
  readonly onFailure?: (error: Error) => void;
}

/** The model could not be loaded; the message says which file and why. */
export class ModelLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModelLoadError";
  }
}

/** @internal The worker's start-up data. */
export interface WorkerInit {
  readonly modelBytes: Uint8Array;
  readonly sessionOptions: InferenceSession.SessionOptions;
  /** The provider asked for; when it is not the CPU's and the session fails, the worker checks whose fault it was. */
  readonly executionProvider: ExecutionProvider;
  readonly inputName: string;
  readonly outputName: string;
  /** Shape of one item, without the batch dimension. */
  readonly itemShape: readonly number[];
}

/** @internal */
export interface WorkerRequest {
  readonly id: number;
  readonly batch: Float32Array;
  readonly n: number;
}

/** @internal */
export type WorkerReply =
  | { readonly type: "loaded"; readonly inputs: ValueInfo[]; readonly outputs: ValueInfo[] }
  | {
      readonly type: "failed";
      readonly message: string;
      /** The model loads on the CPU provider: the requested provider is what failed. */
      readonly providerFailed: boolean;
    }
  | { readonly type: "result"; readonly id: number; readonly logits: Float32Array }
  | { readonly type: "error"; readonly id: number; readonly message: string };

interface ValueInfo {
  readonly name: string;
  readonly shape: (number | string)[];
}

interface PendingRun {
  readonly n: number;
  readonly resolve: (logits: Float32Array) => void;
  readonly reject: (error: Error) => void;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export class OnnxModel implements InferenceModel {
  private nextId = 0;
  private readonly pending = new Map<number, PendingRun>();
  private failure: Error | undefined;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly classes: number,
    private readonly onFailure: ((error: Error) => void) | undefined,
  ) {
    worker.on("message", (reply: WorkerReply) => this.settle(reply));
    worker.on("error", (error) => this.fail(new Error(`inference thread crashed: ${error.message}`)));
    worker.on("exit", (code) => {
      if (!this.closing) this.fail(new Error(`inference thread exited with code ${code}`));
    });
  }

  static async load(options: OnnxModelOptions): Promise<OnnxModel> {
    const { card, modelPath } = options;
    const modelBytes = await readModelFile(modelPath);
    const actual = sha256Hex(modelBytes);
    if (actual !== card.sha256) {
      throw new ModelLoadError(
        `sha256 mismatch: ${modelPath} has sha256 ${actual}, but the model card says ${card.sha256}. ` +
          "Deploy the model file together with the card it was exported with.",
      );
    }
    const executionProvider = options.executionProvider ?? "cpu";
    const init: WorkerInit = {
      modelBytes,
      executionProvider,
      sessionOptions: {
        executionProviders: executionProviders(executionProvider),
        intraOpNumThreads: options.intraOpThreads,
        interOpNumThreads: options.interOpThreads,
        graphOptimizationLevel: options.graphOptimizationLevel,
        executionMode: options.interOpThreads > 1 ? "parallel" : "sequential",
        extra: spinningConfig(options.spinWait ?? false),
      },
      inputName: card.input.name,
      outputName: card.output.name,
      itemShape: itemShape(card.input),
    };
    const worker = startWorker(init);
    const loaded = await waitForLoad(worker, modelPath, executionProvider);
    try {
      checkSignature(loaded, card, modelPath);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    const model = new OnnxModel(worker, card.labels.length, options.onFailure);
    try {
      const floatsPerItem = itemSize(card.input);
      for (const n of options.warmUpBatchSizes ?? [1]) await model.run(new Float32Array(n * floatsPerItem), n);
    } catch (error) {
      await model.close();
      throw new ModelLoadError(`${modelPath}: warm-up inference failed: ${(error as Error).message}`, { cause: error });
    }
    return model;
  }

  run(batch: Float32Array, n: number): Promise<Float32Array> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error("the model is closed"));
    const id = this.nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { n, resolve, reject });
      const request: WorkerRequest = { id, batch, n };
      // Transfer only a buffer the batch owns whole; a view of a larger buffer is cloned instead.
      const owned = batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
      this.worker.postMessage(request, owned ? [batch.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const run of this.pending.values()) run.reject(new Error("the model was closed"));
    this.pending.clear();
    await this.worker.terminate();
  }

  private settle(reply: WorkerReply): void {
    if (reply.type !== "result" && reply.type !== "error") return;
    const run = this.pending.get(reply.id);
    if (run === undefined) return;
    this.pending.delete(reply.id);
    if (reply.type === "error") run.reject(new Error(reply.message));
    else if (reply.logits.length !== run.n * this.classes) {
      run.reject(new Error(`expected ${run.n * this.classes} logits, got ${reply.logits.length}`));
    } else run.resolve(reply.logits);
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const run of this.pending.values()) run.reject(error);
    this.pending.clear();
    this.onFailure?.(error);
  }
}

async function readModelFile(modelPath: string): Promise<Uint8Array> {
  try {
    const buffer = await readFile(modelPath);
    // A Uint8Array of its own ArrayBuffer, transferable to the worker without a copy.
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : (code ?? String(error));
    throw new ModelLoadError(`cannot read the model file ${modelPath} (${reason})`, { cause: error });
  }
}

/**
 * ONNX Runtime 1.30 reads no session option for telemetry, only this variable, from the process environment when
 * the worker first loads it. Off because the service never sends it anywhere, and because on a read-only root
 * filesystem ONNX Runtime otherwise warns at every start that it cannot persist a telemetry device id.
 */
const ORT_TELEMETRY_SWITCH = { name: "ORT_DISABLE_TELEMETRY", value: "1" } as const;

function startWorker(init: WorkerInit): Worker {
  // Set in the main thread: a worker's process.env is its own copy, but the native library reads the real one.
  process.env[ORT_TELEMETRY_SWITCH.name] = ORT_TELEMETRY_SWITCH.value;
  // Compiled, the worker is a .js file beside this one; under ts-jest or ts-node it is the .ts source.
  const extension = path.extname(__filename);
  const file = path.join(__dirname, `onnx-worker${extension}`);
  const execArgv = extension === ".ts" ? ["--require", "ts-node/register/transpile-only"] : [];
  const transfer = init.modelBytes.byteLength === init.modelBytes.buffer.byteLength ? [init.modelBytes.buffer as ArrayBuffer] : [];
  return new Worker(file, { workerData: init, transferList: transfer, execArgv });
}

function waitForLoad(
  worker: Worker,
  modelPath: string,
  provider: ExecutionProvider,
): Promise<{ inputs: ValueInfo[]; outputs: ValueInfo[] }> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    const onMessage = (reply: WorkerReply) => {
      if (reply.type === "loaded") {
        cleanup();
        resolve(reply);
      } else if (reply.type === "failed") {
        cleanup();
        void worker.terminate();
        reject(
          new ModelLoadError(
            reply.providerFailed
              ? providerFailureMessage(provider, reply.message)
              : `ONNX Runtime cannot load ${modelPath}: ${reply.message}`,
          ),
        );
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new ModelLoadError(`the inference thread failed while loading ${modelPath}: ${error.message}`, { cause: error }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new ModelLoadError(`the inference thread exited with code ${code} while loading ${modelPath}`));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}

function checkSignature(loaded: { inputs: ValueInfo[]; outputs: ValueInfo[] }, card: ModelCard, modelPath: string): void {
  const check = (kind: "input" | "output", values: ValueInfo[], expected: readonly number[], name: string) => {
    const value = values.find((v) => v.name === name);
    if (value === undefined) {
      throw new ModelLoadError(
        `${modelPath} has no ${kind} named "${name}" (the model card's ${kind}.name); it has ${values.map((v) => `"${v.name}"`).join(", ")}`,
      );
    }
    const compatible =
      value.shape.length === expected.length &&
      value.shape.every((dim, i) => typeof dim === "string" || expected[i] === -1 || dim === expected[i]);
    if (!compatible) {
      throw new ModelLoadError(
        `${modelPath}: ${kind} "${name}" has shape [${value.shape.join(", ")}], the model card says [${expected.join(", ")}]`,
      );
    }
  };
  check("input", loaded.inputs, card.input.shape, card.input.name);
  check("output", loaded.outputs, card.output.shape, card.output.name);
}

/**
 * The session's `executionProviders`. CUDA runs on device 0: the NVIDIA device plugin exposes only the GPUs the
 * pod was allotted, numbered from 0. ONNX Runtime still places the few operators CUDA lacks on the CPU.
 */
export function executionProviders(provider: ExecutionProvider): InferenceSession.ExecutionProviderConfig[] {
  return provider === "cuda" ? [{ name: "cuda", deviceId: 0 }] : ["cpu"];
}

/** Why the service cannot start on the provider it was asked for, and what to change. */
export function providerFailureMessage(provider: ExecutionProvider, ortMessage: string): string {
  return (
    `${CONFIG_SCHEMA.executionProvider.name}=${provider}, but ONNX Runtime's ${provider.toUpperCase()} execution ` +
    `provider cannot be loaded (${ortMessage.trim()}). It needs the image's runtime-cuda build (onnxruntime-node's ` +
    "CUDA provider libraries with CUDA 12 and cuDNN 9), an NVIDIA GPU with its driver, and a pod that requests " +
    `nvidia.com/gpu; set ${CONFIG_SCHEMA.executionProvider.name}=cpu to run on the CPU.`
  );
}

/**
 * Session options `extra` that turn ONNX Runtime's spin-waiting on or off. The Node.js binding flattens it into the
 * config keys "session.intra_op.allow_spinning" and "session.inter_op.allow_spinning"; the values must be strings.
 */
export function spinningConfig(spinWait: boolean): Record<string, unknown> {
  const allow = spinWait ? "1" : "0";
  return { session: { intra_op: { allow_spinning: allow }, inter_op: { allow_spinning: allow } } };
}
