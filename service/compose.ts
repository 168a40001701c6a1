/**
 * The one composition root: from a configuration, a model card and a loaded model, the metrics, the
 * inference pipeline and the Express app, wired the same way for the service (service/main.ts, the only
 * caller that listens) and for the tests.
 */
import type { Express } from "express";
import type { Logger } from "pino";
import type { Config } from "./config/schema";
import { createApp } from "./http/app";
import { Lifecycle } from "./lifecycle/lifecycle";
import { createMetrics, type Metrics } from "./metrics/metrics";
import type { ModelCard } from "./model/card";
import type { InferenceModel, OnnxModelOptions } from "./model/onnx-model";
import { InferencePipeline } from "./pipeline/classifier";

export interface CompositionInputs {
  readonly config: Config;
  readonly card: ModelCard;
  /** Loaded and verified against the card; owned by the caller until the pipeline is closed. */
  readonly model: InferenceModel;
  readonly logger: Logger;
  /** Readiness and draining state. @default a new Lifecycle, starting */
  readonly lifecycle?: Lifecycle;
}

export interface ComposedService {
  readonly app: Express;
  readonly pipeline: InferencePipeline;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
}

export function compose({ config, card, model, logger, lifecycle = new Lifecycle() }: CompositionInputs): ComposedService {
  const metrics = createMetrics({ labels: card.labels, maxBatchSize: config.batchMaxSize });
  metrics.modelInfo.set({ name: card.name, version: card.version, sha256: card.sha256 }, 1);
  const pipeline = new InferencePipeline({ card, model, config, metrics });
  const app = createApp({ pipeline, config, metrics, logger, lifecycle });
  return { app, pipeline, metrics, lifecycle };
}

/** The ONNX Runtime session settings the configuration chooses. */
export function sessionOptions(
  config: Pick<Config, "intraOpThreads" | "interOpThreads" | "graphOptimizationLevel" | "spinWait" | "executionProvider">,
): Pick<OnnxModelOptions, "intraOpThreads" | "interOpThreads" | "graphOptimizationLevel" | "spinWait" | "executionProvider"> {
  return {
    executionProvider: config.executionProvider,
    intraOpThreads: config.intraOpThreads,
    interOpThreads: config.interOpThreads,
    graphOptimizationLevel: config.graphOptimizationLevel,
    spinWait: config.spinWait,
  };
}
