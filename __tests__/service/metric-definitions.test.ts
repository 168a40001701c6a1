/** The registry is exactly METRIC_DEFINITIONS: each entry's name, type, help, labels and buckets, nothing else. */
import { METRIC_DEFINITIONS, METRIC_NAMES } from "../../service/contract/metrics";
import { createMetrics } from "../../service/metrics/metrics";

describe("METRIC_DEFINITIONS", () => {
  const metrics = createMetrics({ processMetrics: false, maxBatchSize: 8 });

  it.each(Object.entries(METRIC_DEFINITIONS))("registers %s with its definition's name, type, help and labels", async (key, definition) => {
    const metric = metrics.registry.getSingleMetric(definition.name);
    expect(metric).toBe(metrics[key as keyof typeof METRIC_DEFINITIONS]);
    // prom-client keeps the label names on the metric object (not in its typings).
    expect((metric as unknown as { labelNames: readonly string[] }).labelNames).toEqual([...definition.labels]);
    const json = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === definition.name);
    expect(json).toMatchObject({ name: definition.name, type: definition.type, help: definition.help });
    expect(METRIC_NAMES[key as keyof typeof METRIC_DEFINITIONS]).toBe(definition.name);
  });

  it("registers nothing the table does not define (process metrics off)", async () => {
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(Object.values(METRIC_DEFINITIONS).map((d) => d.name).sort());
  });

  it("gives histograms their buckets: fixed ones as written, batch sizes as powers of two up to the largest batch", async () => {
    // Both are per version: their series exist once a version's pipeline creates them, as zero() does here.
    metrics.predictionConfidence.zero({ model_version: "1.0.0" });
    metrics.batchSize.zero({ model_version: "1.0.0" });
    const exposition = await metrics.registry.metrics();
    expect(exposition).toContain('prediction_confidence_bucket{le="0.99",model_version="1.0.0"} 0');
    for (const le of ["1", "2", "4", "8", "+Inf"]) expect(exposition).toContain(`inference_batch_size_bucket{le="${le}",model_version="1.0.0"} 0`);
    expect(exposition).not.toContain('inference_batch_size_bucket{le="16"');
  });
});
