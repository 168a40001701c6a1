/**
 * The inference pipeline: decode -> batcher -> inference -> postprocess, each stage timed. It knows nothing of
 * HTTP: /predict, /predict/batch and the Open Inference Protocol all call it, and share its queue and limits.
 */
import type { Config } from "../config/schema";
import { PIPELINE_STAGES, type Metrics } from "../metrics/metrics";
import { itemShape, itemSize, type ModelCard } from "../model/card";
import type { InferenceModel } from "../model/onnx-model";
import { DynamicBatcher } from "./batcher";
import { createDecoder, type ImageDecoder } from "./decode";
import { PipelineError, cancelled, deadlineExceeded, inferenceFailed, invalidInput, isPipelineError, tensorOverflow } from "./errors";
import { classify, type Classification } from "./postprocess";

export type PipelineConfig = Pick<
  Config,
  "maxImagePixels" | "batchingEnabled" | "batchMaxSize" | "batchMaxDelayMs" | "maxQueue"
>;

export interface PipelineOptions {
  readonly card: ModelCard;
  readonly model: InferenceModel;
  readonly config: PipelineConfig;
  readonly metrics: Metrics;
  /** Replaces the sharp decoder (tests). @default createDecoder({ card, maxImagePixels }) */
  readonly decoder?: ImageDecoder;
  /** Monotonic clock in milliseconds. @default performance.now */
  readonly now?: () => number;
}

export interface ClassifyOptions {
  /** How many classes to return, most probable first (clamped to 1..number of labels). */
  readonly topK: number;
  /** Monotonic time (performance.now() milliseconds) after which the call rejects with a timeout. */
  readonly deadline: number;
  /** Abort when nobody waits for the answer any more (client gone); queued work is dropped. */
  readonly signal?: AbortSignal;
}

/** One image's outcome in a multi-image call: its own problems (not an image, too large) do not fail the others. */
export type ImageOutcome =
  | { readonly ok: true; readonly classification: Classification }
  | { readonly ok: false; readonly error: PipelineError };

export interface TensorClassification {
  /** n x classes logits, row-major, as the model returned them. */
  readonly logits: Float32Array;
  readonly classifications: readonly Classification[];
}

/** What clients and other protocols may learn about the model. */
export interface ModelDescription {
  readonly name: string;
  readonly version: string;
  /** The model card's one-line description (what it was trained on); may be empty. */
  readonly description: string;
  readonly sha256: string;
  readonly labels: readonly string[];
  readonly input: { readonly name: string; readonly shape: readonly number[] };
  readonly output: { readonly name: string; readonly shape: readonly number[] };
}

export class InferencePipeline {
  readonly model: ModelDescription;
  private readonly decoder: ImageDecoder;
  private readonly batcher: DynamicBatcher;
  private readonly itemSize: number;
  private readonly now: () => number;
  /** The labels of this version's prediction metrics. */
  private readonly modelLabels: { readonly model_name: string; readonly model_version: string };

  constructor(private readonly options: PipelineOptions) {
    const { card, config, metrics, model } = options;
    this.now = options.now ?? (() => performance.now());
    this.model = {
      name: card.name,
      version: card.version,
      description: card.description,
      sha256: card.sha256,
      labels: card.labels,
      input: { name: card.input.name, shape: card.input.shape },
      output: { name: card.output.name, shape: card.output.shape },
    };
    this.modelLabels = { model_name: card.name, model_version: card.version };
    this.itemSize = itemSize(card.input);
    // Series that exist before the first request, so dashboards show this version's zeros instead of gaps.
    const model_version = card.version;
    for (const stage of PIPELINE_STAGES) metrics.stageDuration.zero({ model_version, stage });
    metrics.predictionLatency.zero(this.modelLabels);
    metrics.predictionConfidence.zero({ model_version });
    metrics.batchSize.zero({ model_version });
    metrics.queueWait.zero({ model_version });
    for (const label of card.labels) metrics.predictedClassTotal.inc({ model_version, label }, 0);
    this.decoder = options.decoder ?? createDecoder({ card, maxImagePixels: config.maxImagePixels });
    this.batcher = new DynamicBatcher({
      model,
      itemSize: this.itemSize,
      classes: card.labels.length,
      enabled: config.batchingEnabled,
      maxBatchSize: config.batchMaxSize,
      maxDelayMs: config.batchMaxDelayMs,
      maxQueue: config.maxQueue,
      metrics,
      modelVersion: card.version,
      now: this.now,
    });
  }

  /** Images waiting for inference. */
  get queueDepth(): number {
    return this.batcher.depth;
  }

  /** Classifies one encoded image. Rejects with a PipelineError. */
  async classifyImage(bytes: Uint8Array, options: ClassifyOptions): Promise<Classification> {
    const [outcome] = await this.classifyImages([bytes], options);
    if (!outcome.ok) throw outcome.error;
    return outcome.classification;
  }

  /**
   * Classifies several encoded images as one request: one outcome per image, in order. An image that cannot be
   * decoded gets its own error; failures of the request as a whole (overloaded, timeout) reject the call.
   */
  async classifyImages(images: readonly Uint8Array[], options: ClassifyOptions): Promise<ImageOutcome[]> {
    const started = this.now();
    const outcomes = await this.observe(images.length, started, async () => {
      const decoded = await Promise.all(images.map((bytes) => this.decodeTimed(bytes)));
      const tensors = decoded.filter((d): d is Float32Array => d instanceof Float32Array);
      const rows = await this.batcher.submit(tensors, options);
      const classifications = this.postprocess(rows, options.topK);
      let next = 0;
      return decoded.map((d): ImageOutcome => {
        if (d instanceof PipelineError) return { ok: false, error: d };
        return { ok: true, classification: classifications[next++] };
      });
    }, options);
    this.count(outcomes);
    return outcomes;
  }

  /**
   * Classifies `n` already-preprocessed images: `tensor` holds n x 3 x height x width floats, NCHW, normalised
   * as the model card says. For protocols that send tensors (Open Inference Protocol v2).
   */
  async classifyTensor(tensor: Float32Array, n: number, options: ClassifyOptions): Promise<TensorClassification> {
    if (!Number.isInteger(n) || n < 1 || tensor.length !== n * this.itemSize) {
      throw invalidInput(
        `Expected ${n} x [${itemShape(this.model.input).join(", ")}] = ${n * this.itemSize} float32 values, got ${tensor.length}.`,
      );
    }
    const started = this.now();
    const result = await this.observe(n, started, async () => {
      const items = Array.from({ length: n }, (_, i) => tensor.subarray(i * this.itemSize, (i + 1) * this.itemSize));
      const rows = await this.batcher.submit(items, options);
      // The values are the client's: huge finite ones (1e38) overflow the network to infinite or NaN logits.
      // That is the request's fault, not the service's.
      const overflowed = rows.findIndex((row) => row.some((logit) => !Number.isFinite(logit)));
      if (overflowed >= 0) throw tensorOverflow(overflowed);
      const classifications = this.postprocess(rows, options.topK);
      const classes = this.model.labels.length;
      const logits = new Float32Array(n * classes);
      rows.forEach((row, i) => logits.set(row, i * classes));
      return { logits, classifications };
    }, options);
    this.count(result.classifications.map((classification) => ({ ok: true, classification })));
    return result;
  }

  async close(): Promise<void> {
    await this.options.model.close();
  }

  private async decodeTimed(bytes: Uint8Array): Promise<Float32Array | PipelineError> {
    const started = this.now();
    try {
      return await this.decoder(bytes);
    } catch (error) {
      return isPipelineError(error) ? error : inferenceFailed(error);
    } finally {
      this.options.metrics.stageDuration.observe({ model_version: this.model.version, stage: "decode" }, (this.now() - started) / 1000);
    }
  }

  private postprocess(rows: readonly Float32Array[], topK: number): Classification[] {
    const started = this.now();
    try {
      return rows.map((row) => classify(row, this.model.labels, topK));
    } catch (error) {
      throw inferenceFailed(error);
    } finally {
      this.options.metrics.stageDuration.observe({ model_version: this.model.version, stage: "postprocess" }, (this.now() - started) / 1000);
    }
  }

  /** Runs a call under its deadline and cancellation, and records its latency or its failure. */
  private async observe<T>(images: number, started: number, work: () => Promise<T>, options: ClassifyOptions): Promise<T> {
    const { metrics } = this.options;
    try {
      const result = await withDeadline(work(), options.deadline - started, options.signal);
      metrics.predictionLatency.observe(this.modelLabels, (this.now() - started) / 1000);
      return result;
    } catch (error) {
      const failure = isPipelineError(error) ? error : inferenceFailed(error);
      metrics.predictionsTotal.inc({ ...this.modelLabels, status: failure.kind }, images);
      throw failure;
    }
  }

  private count(outcomes: readonly ImageOutcome[]): void {
    const { metrics } = this.options;
    const labels = this.modelLabels;
    for (const outcome of outcomes) {
      if (outcome.ok) {
        const { prediction } = outcome.classification;
        metrics.predictionsTotal.inc({ ...labels, status: "success" });
        metrics.predictedClassTotal.inc({ model_version: labels.model_version, label: prediction.label });
        metrics.predictionConfidence.observe({ model_version: labels.model_version }, prediction.confidence);
      } else {
        metrics.predictionsTotal.inc({ ...labels, status: outcome.error.kind });
      }
    }
  }
}

/**
 * Settles with `work`, or rejects when `timeoutMs` passes or `signal` aborts, whichever comes first. The work
 * itself is not interrupted (a libvips decode cannot be), but its result is dropped; the batcher drops queued
 * images on its own at the same deadline.
 */
function withDeadline<T>(work: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
  if (signal?.aborted) {
    work.catch(() => undefined);
    return Promise.reject(cancelled());
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(deadlineExceeded()), Math.max(0, timeoutMs));
    timer.unref();
    const onAbort = () => reject(cancelled());
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    });
  });
}
