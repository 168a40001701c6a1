/**
 * Stage "batcher": dynamic batching in front of the model, in the manner of Triton's dynamic batcher.
 *
 * Requests put their images into one bounded queue. While the model is idle, the oldest image waits at most
 * `maxDelayMs` for others to join; then up to `maxBatchSize` images run as one batch. While a batch runs, new
 * images queue up and go together in the next one. A full queue refuses new work at once (overloaded), and an
 * image leaves the queue when its request's deadline passes or its client goes away, so no stale work runs.
 * With batching disabled, each run takes the images of exactly one request, and nothing waits for company.
 */
import type { Metrics } from "../metrics/metrics";
import type { InferenceModel } from "../model/onnx-model";
import { PipelineError, cancelled, deadlineExceeded, inferenceFailed, overloaded } from "./errors";

export interface BatcherOptions {
  readonly model: InferenceModel;
  /** Floats per image (3 x height x width). */
  readonly itemSize: number;
  /** Logits per image. */
  readonly classes: number;
  readonly enabled: boolean;
  readonly maxBatchSize: number;
  readonly maxDelayMs: number;
  /** Most images waiting at once. */
  readonly maxQueue: number;
  readonly metrics: Pick<Metrics, "batchSize" | "queueWait" | "queueDepth" | "stageDuration">;
  /** The model version this batcher runs, the `model_version` label of its metrics. */
  readonly modelVersion: string;
  /** Monotonic clock in milliseconds. @default performance.now */
  readonly now?: () => number;
}

export interface SubmitOptions {
  /** Monotonic time (performance.now()) after which the images are dropped and the promise rejects. */
  readonly deadline: number;
  /** Aborting drops the images still queued and rejects with a "cancelled" error. */
  readonly signal?: AbortSignal;
}

/** One request's images, settled together. */
interface Ticket {
  readonly rows: Float32Array[];
  /** Images still queued (not yet taken into a batch). */
  queued: number;
  /** Images whose logits have not arrived. */
  pending: number;
  settled: boolean;
  readonly resolve: (rows: Float32Array[]) => void;
  readonly reject: (error: PipelineError) => void;
  readonly cleanup: (() => void)[];
}

interface QueuedImage {
  readonly ticket: Ticket;
  readonly index: number;
  readonly tensor: Float32Array;
  readonly enqueuedAt: number;
}

export class DynamicBatcher {
  private queue: QueuedImage[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: BatcherOptions) {
    this.now = options.now ?? (() => performance.now());
    this.reportDepth();
  }

  /** Images waiting for a batch. */
  get depth(): number {
    return this.queue.length;
  }

  private reportDepth(): void {
    this.options.metrics.queueDepth.set({ model_version: this.options.modelVersion }, this.queue.length);
  }

  /**
   * Queues one request's images (each `itemSize` floats, NCHW) and resolves with one row of logits per image,
   * in order. Rejects at once when the queue cannot take them all (kind "overloaded").
   */
  submit(tensors: readonly Float32Array[], { deadline, signal }: SubmitOptions): Promise<Float32Array[]> {
    const { maxQueue, itemSize } = this.options;
    if (tensors.length === 0) return Promise.resolve([]);
    if (signal?.aborted) return Promise.reject(cancelled());
    const now = this.now();
    if (now >= deadline) return Promise.reject(deadlineExceeded());
    if (this.queue.length + tensors.length > maxQueue) return Promise.reject(overloaded(this.queue.length, maxQueue));
    for (const tensor of tensors) {
      if (tensor.length !== itemSize) throw new RangeError(`expected ${itemSize} floats per image, got ${tensor.length}`);
    }

    return new Promise<Float32Array[]>((resolve, reject) => {
      const ticket: Ticket = {
        rows: new Array<Float32Array>(tensors.length),
        queued: tensors.length,
        pending: tensors.length,
        settled: false,
        resolve,
        reject,
        cleanup: [],
      };
      const timer = setTimeout(() => this.fail(ticket, deadlineExceeded()), deadline - now);
      timer.unref();
      ticket.cleanup.push(() => clearTimeout(timer));
      if (signal !== undefined) {
        const onAbort = () => this.fail(ticket, cancelled());
        signal.addEventListener("abort", onAbort, { once: true });
        ticket.cleanup.push(() => signal.removeEventListener("abort", onAbort));
      }
      tensors.forEach((tensor, index) => this.queue.push({ ticket, index, tensor, enqueuedAt: now }));
      this.reportDepth();
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const { enabled, maxBatchSize, maxDelayMs } = this.options;
    const waited = this.now() - this.queue[0].enqueuedAt;
    if (!enabled || this.queue.length >= maxBatchSize || waited >= maxDelayMs) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      void this.runBatch(this.takeBatch());
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, maxDelayMs - waited);
    }
  }

  private takeBatch(): QueuedImage[] {
    const { enabled, maxBatchSize } = this.options;
    let count = Math.min(maxBatchSize, this.queue.length);
    if (!enabled) {
      const first = this.queue[0].ticket;
      count = 1;
      while (count < maxBatchSize && count < this.queue.length && this.queue[count].ticket === first) count++;
    }
    const batch = this.queue.splice(0, count);
    this.reportDepth();
    return batch;
  }

  private async runBatch(images: QueuedImage[]): Promise<void> {
    const { model, itemSize, classes, metrics, modelVersion: model_version } = this.options;
    this.running = true;
    const started = this.now();
    const n = images.length;
    const batch = new Float32Array(n * itemSize);
    images.forEach((image, i) => {
      image.ticket.queued--;
      const waitSeconds = (started - image.enqueuedAt) / 1000;
      metrics.queueWait.observe({ model_version }, waitSeconds);
      metrics.stageDuration.observe({ model_version, stage: "batcher" }, waitSeconds);
      batch.set(image.tensor, i * itemSize);
    });
    metrics.batchSize.observe({ model_version }, n);
    try {
      const logits = await model.run(batch, n);
      metrics.stageDuration.observe({ model_version, stage: "inference" }, (this.now() - started) / 1000);
      images.forEach((image, i) => this.deliver(image, logits.subarray(i * classes, (i + 1) * classes)));
    } catch (error) {
      const failure = inferenceFailed(error);
      for (const image of images) this.fail(image.ticket, failure);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private deliver(image: QueuedImage, row: Float32Array): void {
    const { ticket } = image;
    if (ticket.settled) return;
    ticket.rows[image.index] = row;
    if (--ticket.pending === 0) {
      this.finish(ticket);
      ticket.resolve(ticket.rows);
    }
  }

  private fail(ticket: Ticket, error: PipelineError): void {
    if (ticket.settled) return;
    this.finish(ticket);
    ticket.reject(error);
  }

  private finish(ticket: Ticket): void {
    ticket.settled = true;
    for (const cleanup of ticket.cleanup) cleanup();
    if (ticket.queued > 0) {
      this.queue = this.queue.filter((image) => image.ticket !== ticket);
      ticket.queued = 0;
      this.reportDepth();
    }
  }
}
