/**
 * Where our service spends a measured window, from its own Prometheus histograms scraped before and after:
 * mean batch size, and mean time per stage. Explains the load generator's figures; not a second measurement.
 */
import { METRIC_NAMES } from "../service/contract/metrics";

/**
 * Sums and counts of the histograms of interest, keyed like `name{stage="decode"}`: only the `stage` label is kept,
 * and series that differ in any other label (model_version, ...) are added up, so the breakdown covers every
 * version the server loaded.
 */
export type MetricSnapshot = ReadonlyMap<string, number>;

/** The label that tells the stage histogram's series apart; every other label is summed over. */
const KEPT_LABEL = "stage";
const KEPT_LABEL_VALUE = new RegExp(`[{,]${KEPT_LABEL}="([^"]*)"`);

export interface StageBreakdown {
  /** Images per ONNX Runtime run. */
  readonly meanBatchSize: number;
  readonly batches: number;
  /** Mean milliseconds per image (decode, batcher wait) or per run (inference), from the stage histograms. */
  readonly decodeMs: number;
  readonly queueWaitMs: number;
  readonly inferenceMsPerRun: number;
  readonly postprocessMs: number;
}

const WANTED = [METRIC_NAMES.batchSize, METRIC_NAMES.stageDuration];

export async function scrapeMetrics(baseUrl: string): Promise<MetricSnapshot | undefined> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    return parseSumsAndCounts(await res.text());
  } catch {
    return undefined;
  }
}

export function parseSumsAndCounts(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, name, labels = "", value] = match;
    if (!WANTED.some((w) => name === `${w}_sum` || name === `${w}_count`)) continue;
    const stage = KEPT_LABEL_VALUE.exec(labels)?.[1];
    const key = stage === undefined ? name : `${name}{${KEPT_LABEL}="${stage}"}`;
    values.set(key, (values.get(key) ?? 0) + Number(value));
  }
  return values;
}

export function breakdown(before: MetricSnapshot, after: MetricSnapshot): StageBreakdown {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const stage = (name: string): { sum: number; count: number } => ({
    sum: delta(`${METRIC_NAMES.stageDuration}_sum{stage="${name}"}`),
    count: delta(`${METRIC_NAMES.stageDuration}_count{stage="${name}"}`),
  });
  const meanMs = (s: { sum: number; count: number }): number => (s.count > 0 ? (1000 * s.sum) / s.count : 0);
  const batches = delta(`${METRIC_NAMES.batchSize}_count`);
  return {
    meanBatchSize: batches > 0 ? delta(`${METRIC_NAMES.batchSize}_sum`) / batches : 0,
    batches,
    decodeMs: meanMs(stage("decode")),
    queueWaitMs: meanMs(stage("batcher")),
    inferenceMsPerRun: meanMs(stage("inference")),
    postprocessMs: meanMs(stage("postprocess")),
  };
}
