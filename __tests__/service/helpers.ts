/** Shared set-up for the service tests: fixtures, the real model, and an app built around it. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { readFloat32File } from "../../scripts/float32-file";
import { FIXTURES_DIR, goldenDir } from "../../scripts/golden-fixtures";
import { compose, sessionOptions, type ComposedService, type ServedVersion } from "../../service/compose";
import { CONFIG_SCHEMA, ConfigError, loadConfig, type Config } from "../../service/config/schema";
import type { Lifecycle } from "../../service/lifecycle/lifecycle";
import type { Metrics } from "../../service/metrics/metrics";
import { loadModelCard, type ModelCard } from "../../service/model/card";
import { OnnxModel, type InferenceModel } from "../../service/model/onnx-model";
import { modelCardPath } from "../../service/model/repository";
import type { InferencePipeline } from "../../service/pipeline/classifier";
import type { ModelVersions } from "../../service/pipeline/model-versions";

export const REPO = path.resolve(__dirname, "..", "..");
export const FIXTURES = path.join(REPO, FIXTURES_DIR);
/** The committed model repository, and the default version's card and ONNX file in it. */
export const MODEL_REPOSITORY = path.join(REPO, CONFIG_SCHEMA.modelRepository.default);
export const CARD_PATH = modelCardPath(MODEL_REPOSITORY, CONFIG_SCHEMA.modelName.default, CONFIG_SCHEMA.modelVersion.default);
export const MODEL_PATH = path.join(path.dirname(CARD_PATH), `${CONFIG_SCHEMA.modelName.default}.onnx`);
/** Another committed version (1.0.0, PyramidNet-20), for the tests that serve two side by side. */
export const PREVIOUS_VERSION = "1.0.0";
export const PREVIOUS_CARD_PATH = modelCardPath(MODEL_REPOSITORY, CONFIG_SCHEMA.modelName.default, PREVIOUS_VERSION);

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

/** One version's golden fixtures (the default version's unless named): the images, their tensors and logits. */
export function loadGolden(version: string = CONFIG_SCHEMA.modelVersion.default): Golden {
  const dir = path.join(REPO, goldenDir(version));
  const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as {
    version: string;
    images: { file: string; label: string; index: number }[];
  };
  if (manifest.version !== version) throw new Error(`${dir}/manifest.json describes version ${manifest.version}, not ${version}`);
  return {
    // The images are shared by every version; the manifest names them relative to the fixtures folder.
    images: manifest.images.map((image) => ({ ...image, bytes: readFileSync(path.join(FIXTURES, image.file)) })),
    inputs: readFloat32File(path.join(dir, "inputs.f32")),
    logits: readFloat32File(path.join(dir, "logits.f32")),
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ CLASSIFIER_LOG_LEVEL: "silent", CLASSIFIER_ENVIRONMENT: "test", ...overrides });
}

/** The message of the ConfigError that loadConfig throws for `env`; fails the test when it throws none. */
export function configProblems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

/** The ONNX model a committed card describes (the default version's unless `card` is another's). */
export async function loadRealModel(card: ModelCard, config: Config = testConfig()): Promise<OnnxModel> {
  return OnnxModel.load({
    modelPath: path.join(path.dirname(modelCardPath(MODEL_REPOSITORY, card.name, card.version)), card.file),
    card,
    ...sessionOptions(config),
    warmUpBatchSizes: [1],
  });
}

export interface VersionToWrite {
  /** @default "pyramidnet" */
  readonly name?: string;
  readonly version: string;
  /** The committed card the new one starts from. @default CARD_PATH */
  readonly from?: string;
  /** Fields replaced in the card (name and version are set from above unless given here). */
  readonly card?: Readonly<Record<string, unknown>>;
  /** The ONNX file's bytes: the card's own committed file when undefined, no file at all when null. */
  readonly onnx?: Buffer | null;
}

/**
 * Writes one version into a test model repository under `root` (<root>/<name>/<version>/<name>.json and the
 * ONNX file the card names) and returns its folder. The card's sha256 is the written file's unless `card` sets it.
 */
export function writeModelVersion(root: string, spec: VersionToWrite): string {
  const name = spec.name ?? CONFIG_SCHEMA.modelName.default;
  const from = spec.from ?? CARD_PATH;
  const source = JSON.parse(readFileSync(from, "utf8")) as Record<string, unknown>;
  const onnx = spec.onnx === undefined ? readFileSync(path.join(path.dirname(from), String(source.file))) : spec.onnx;
  const card: Record<string, unknown> = { ...source, name, version: spec.version, ...spec.card };
  if (onnx !== null && spec.card?.sha256 === undefined) card.sha256 = createHash("sha256").update(onnx).digest("hex");
  const directory = path.dirname(modelCardPath(root, name, spec.version));
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, `${name}.json`), JSON.stringify(card, null, 2));
  if (onnx !== null) writeFileSync(path.join(directory, String(card.file)), onnx);
  return directory;
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
  readonly models: ModelVersions;
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
  return buildVersionedService([{ card, model }], overrides, options);
}

/**
 * An app serving several versions side by side (models shared, not closed here). The default version is
 * CLASSIFIER_MODEL_VERSION when the overrides set it, else the last one given.
 */
export function buildVersionedService(
  versions: readonly ServedVersion[],
  overrides: Record<string, string> = {},
  options: { ready?: boolean; repositoryVersions?: readonly string[] } = {},
): TestService {
  const config = testConfig({
    CLASSIFIER_LOG_LEVEL: "info",
    [CONFIG_SCHEMA.modelVersion.name]: versions[versions.length - 1].card.version,
    ...overrides,
  });
  const logs = new LogCapture();
  const logger = pino({ level: config.logLevel }, logs.stream);
  const { app, pipeline, models, metrics, lifecycle, grpc } = compose({
    config,
    versions,
    repositoryVersions: options.repositoryVersions,
    logger,
  });
  if (options.ready ?? true) lifecycle.markReady();
  return { app, pipeline, models, metrics, lifecycle, config, logs, grpc };
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
