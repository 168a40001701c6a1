/** Shared set-up for the service tests: fixtures, the real model, and an app built around it. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { compose, sessionOptions, type ComposedService } from "../../service/compose";
import { loadConfig, type Config } from "../../service/config/schema";
import type { Lifecycle } from "../../service/lifecycle/lifecycle";
import type { Metrics } from "../../service/metrics/metrics";
import { loadModelCard, type ModelCard } from "../../service/model/card";
import { OnnxModel, type InferenceModel } from "../../service/model/onnx-model";
import type { InferencePipeline } from "../../service/pipeline/classifier";

export const REPO = path.resolve(__dirname, "..", "..");
export const FIXTURES = path.join(REPO, "__tests__", "fixtures");
export const MODEL_PATH = path.join(REPO, "models", "pyramidnet.onnx");
export const CARD_PATH = path.join(REPO, "models", "pyramidnet.json");

export interface FixtureImage {
  readonly file: string;
  readonly label: string;
  readonly index: number;
  readonly bytes: Buffer;
}

export interface Golden {
  readonly images: readonly FixtureImage[];
  /** The training recipe's preprocessing of each image, NCHW float32. */
  readonly inputs: Float32Array;
  /** PyTorch's logits for `inputs`. */
  readonly logits: Float32Array;
}

function readF32(file: string): Float32Array {
  const bytes = readFileSync(file);
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return new Float32Array(copy);
}

export function loadGolden(): Golden {
  const manifest = JSON.parse(readFileSync(path.join(FIXTURES, "golden", "manifest.json"), "utf8")) as {
    images: { file: string; label: string; index: number }[];
  };
  return {
    images: manifest.images.map((image) => ({ ...image, bytes: readFileSync(path.join(FIXTURES, image.file)) })),
    inputs: readF32(path.join(FIXTURES, "golden", "inputs.f32")),
    logits: readF32(path.join(FIXTURES, "golden", "logits.f32")),
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ CLASSIFIER_LOG_LEVEL: "silent", CLASSIFIER_ENVIRONMENT: "test", ...overrides });
}

export async function loadRealModel(card: ModelCard, config: Config = testConfig()): Promise<OnnxModel> {
  return OnnxModel.load({
    modelPath: MODEL_PATH,
    card,
    ...sessionOptions(config),
    warmUpBatchSizes: [1],
  });
}

/** Log lines written by an app, parsed. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.length === 0) continue;
        this.raw.push(line);
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
}

export interface TestService {
  readonly app: ComposedService["app"];
  readonly pipeline: InferencePipeline;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  readonly config: Config;
  readonly logs: LogCapture;
  /** The gRPC server, unbound (tests that call it bind it on loopback); undefined when gRPC is disabled. */
  readonly grpc: ComposedService["grpc"];
}

/** An app around `model` (shared, not closed here), ready unless told otherwise. */
export function buildService(
  card: ModelCard,
  model: InferenceModel,
  overrides: Record<string, string> = {},
  options: { ready?: boolean } = {},
): TestService {
  const config = testConfig({ CLASSIFIER_LOG_LEVEL: "info", ...overrides });
  const logs = new LogCapture();
  const logger = pino({ level: config.logLevel }, logs.stream);
  const { app, pipeline, metrics, lifecycle, grpc } = compose({ config, card, model, logger });
  if (options.ready ?? true) lifecycle.markReady();
  return { app, pipeline, metrics, lifecycle, config, logs, grpc };
}

export { loadModelCard };

/** Model wrapper whose runs can be delayed or made to fail, to reach timeout and fault paths. */
export class ControllableModel implements InferenceModel {
  delayMs = 0;
  failWith: Error | undefined;
  readonly batchSizes: number[] = [];

  constructor(private readonly inner: InferenceModel) {}

  async run(batch: Float32Array, n: number): Promise<Float32Array> {
    this.batchSizes.push(n);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failWith !== undefined) throw this.failWith;
    return this.inner.run(batch, n);
  }

  async close(): Promise<void> {
    // The inner model is shared and closed by its owner.
  }
}
