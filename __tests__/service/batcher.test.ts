import { createMetrics } from "../../service/metrics/metrics";
import type { InferenceModel } from "../../service/model/onnx-model";
import { DynamicBatcher, type BatcherOptions } from "../../service/pipeline/batcher";
import { PipelineError } from "../../service/pipeline/errors";

const ITEM = 4;
const CLASSES = 2;

/** A model whose logits are [sum of the item, item index in its batch], and whose runs finish when told to. */
class ManualModel implements InferenceModel {
  readonly runs: { n: number; finish: () => void; fail: (error: Error) => void }[] = [];

  run(batch: Float32Array, n: number): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      const logits = new Float32Array(n * CLASSES);
      for (let i = 0; i < n; i++) {
        logits[i * CLASSES] = batch.subarray(i * ITEM, (i + 1) * ITEM).reduce((a, b) => a + b, 0);
        logits[i * CLASSES + 1] = i;
      }
      this.runs.push({ n, finish: () => resolve(logits), fail: reject });
    });
  }

  async close(): Promise<void> {}
}

const item = (value: number) => new Float32Array(ITEM).fill(value);
const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const far = () => performance.now() + 60_000;

function make(overrides: Partial<BatcherOptions> = {}) {
  const model = new ManualModel();
  const metrics = createMetrics({ processMetrics: false });
  const batcher = new DynamicBatcher({
    model,
    itemSize: ITEM,
    classes: CLASSES,
    enabled: true,
    maxBatchSize: 4,
    maxDelayMs: 20,
    maxQueue: 8,
    metrics,
    modelVersion: "1.0.0",
    ...overrides,
  });
  return { model, metrics, batcher };
}

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return error instanceof PipelineError ? error.kind : "other";
  }
}

describe("DynamicBatcher", () => {
  it("runs concurrent requests as one batch once it is full, and routes each row back to its request", async () => {
    const { model, batcher, metrics } = make();
    const results = [1, 2, 3, 4].map((v) => batcher.submit([item(v)], { deadline: far() }));
    await tick();
    expect(model.runs.map((r) => r.n)).toEqual([4]);
    model.runs[0].finish();
    const rows = await Promise.all(results);
    expect(rows.map(([row]) => row[0])).toEqual([4, 8, 12, 16]);
    expect(rows.map(([row]) => row[1])).toEqual([0, 1, 2, 3]);
    const batchSizes = await metrics.batchSize.get();
    expect(batchSizes.values.find((v) => v.metricName === "inference_batch_size_sum")?.value).toBe(4);
  });

  it("waits at most maxDelayMs for a batch to fill", async () => {
    const { model, batcher } = make({ maxDelayMs: 30 });
    const started = performance.now();
    const result = batcher.submit([item(1)], { deadline: far() });
    await sleep(10);
    expect(model.runs).toHaveLength(0);
    const second = batcher.submit([item(2)], { deadline: far() });
    while (model.runs.length === 0) await sleep(2);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(1000);
    expect(model.runs[0].n).toBe(2);
    model.runs[0].finish();
    await Promise.all([result, second]);
  });

  it("queues images that arrive during a run and sends them together next, up to maxBatchSize", async () => {
    const { model, batcher } = make({ maxDelayMs: 0 });
    const first = batcher.submit([item(1)], { deadline: far() });
    await tick();
    expect(model.runs.map((r) => r.n)).toEqual([1]);
    const later = [2, 3, 4, 5, 6].map((v) => batcher.submit([item(v)], { deadline: far() }));
    await tick();
    expect(batcher.depth).toBe(5);
    model.runs[0].finish();
    await first;
    await tick();
    expect(model.runs.map((r) => r.n)).toEqual([1, 4]);
    model.runs[1].finish();
    await tick();
    expect(model.runs.map((r) => r.n)).toEqual([1, 4, 1]);
    model.runs[2].finish();
    expect((await Promise.all(later)).map(([row]) => row[0])).toEqual([8, 12, 16, 20, 24]);
  });

  it("refuses work at once when the queue cannot take a whole request", async () => {
    const { model, batcher } = make({ maxQueue: 3, maxBatchSize: 8, maxDelayMs: 50 });
    const accepted = batcher.submit([item(1), item(2)], { deadline: far() });
    const refused = batcher.submit([item(3), item(4)], { deadline: far() });
    const error = await refused.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).kind).toBe("overloaded");
    expect((error as PipelineError).retryAfterSeconds).toBeGreaterThan(0);
    expect(batcher.depth).toBe(2);
    const fits = batcher.submit([item(5)], { deadline: far() });
    while (model.runs.length === 0) await sleep(5);
    expect(model.runs[0].n).toBe(3);
    model.runs[0].finish();
    await Promise.all([accepted, fits]);
  });

  it("times a request out while it waits, and drops its images from the queue", async () => {
    const { model, batcher, metrics } = make({ maxDelayMs: 0 });
    const running = batcher.submit([item(1)], { deadline: far() });
    await tick();
    const waiting = batcher.submit([item(2), item(3)], { deadline: performance.now() + 30 });
    await tick();
    expect(batcher.depth).toBe(2);
    expect(await kindOf(waiting)).toBe("timeout");
    expect(batcher.depth).toBe(0);
    expect((await metrics.queueDepth.get()).values[0].value).toBe(0);
    model.runs[0].finish();
    await running;
    await tick();
    expect(model.runs).toHaveLength(1);
  });

  it("drops the images of a cancelled request", async () => {
    const { model, batcher } = make({ maxDelayMs: 0 });
    const running = batcher.submit([item(1)], { deadline: far() });
    await tick();
    const controller = new AbortController();
    const waiting = batcher.submit([item(2)], { deadline: far(), signal: controller.signal });
    controller.abort();
    expect(await kindOf(waiting)).toBe("cancelled");
    expect(batcher.depth).toBe(0);
    model.runs[0].finish();
    await running;
  });

  it("with batching disabled, runs each request's images alone and without waiting", async () => {
    const { model, batcher } = make({ enabled: false, maxDelayMs: 1000 });
    const a = batcher.submit([item(1), item(2)], { deadline: far() });
    const b = batcher.submit([item(3)], { deadline: far() });
    await tick();
    expect(model.runs.map((r) => r.n)).toEqual([2]);
    model.runs[0].finish();
    await a;
    await tick();
    expect(model.runs.map((r) => r.n)).toEqual([2, 1]);
    model.runs[1].finish();
    expect((await b)[0][0]).toBe(12);
  });

  it("fails every request in a batch whose inference throws, then keeps serving", async () => {
    const { model, batcher } = make({ maxDelayMs: 0, maxBatchSize: 2 });
    const a = batcher.submit([item(1)], { deadline: far() });
    await tick();
    model.runs[0].fail(new Error("onnxruntime exploded"));
    const error = await a.catch((e: unknown) => e as PipelineError);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).kind).toBe("internal");
    expect((error as PipelineError).message).not.toMatch(/exploded/);
    const b = batcher.submit([item(2)], { deadline: far() });
    await tick();
    model.runs[1].finish();
    expect((await b)[0][0]).toBe(8);
  });

  it("rejects a request whose deadline has already passed without queueing it", async () => {
    const { batcher } = make();
    expect(await kindOf(batcher.submit([item(1)], { deadline: performance.now() - 1 }))).toBe("timeout");
    expect(batcher.depth).toBe(0);
  });
});
