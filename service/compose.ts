/**
 * The one composition root: from a configuration, a model card and a loaded model, the metrics, the
 * inference pipeline, the Express app and the gRPC server, wired the same way for the service (service/main.ts, the only
 * caller that listens) and for the tests.
 */
import type { Server as GrpcServer } from "@grpc/grpc-js";
import type { Express } from "express";
import type { Logger } from "pino";
import type { Config } from "./config/schema";
import { createApp } from "./http/app";
import { ConcurrencyLimit } from "./lifecycle/concurrency-limit";
import { Lifecycle } from "./lifecycle/lifecycle";
import { createMetrics, type Metrics } from "./metrics/metrics";
import type { ModelCard } from "./model/card";
import type { InferenceModel, OnnxModelOptions } from "./model/onnx-model";
import { InferencePipeline } from "./pipeline/classifier";
import { createGrpcServer } from "./protocols/grpc/server";

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
  /** The gRPC server, not yet bound (main binds it to CLASSIFIER_GRPC_PORT); undefined when CLASSIFIER_GRPC_ENABLED=false. */
  readonly grpc: GrpcServer | undefined;
}

export function compose({ config, card, model, logger, lifecycle = new Lifecycle() }: CompositionInputs): ComposedService {
  const metrics = createMetrics({ labels: card.labels, maxBatchSize: config.batchMaxSize });
  metrics.modelInfo.set({ name: card.name, version: card.version, sha256: card.sha256 }, 1);
  const pipeline = new InferencePipeline({ card, model, config, metrics });
  // One budget of requests in flight for every protocol, so the limit holds however clients connect.
  const concurrency = new ConcurrencyLimit(config.maxConcurrentRequests, metrics);
  const app = createApp({ pipeline, config, metrics, logger, lifecycle, concurrency });
  const grpc = config.grpcEnabled ? createGrpcServer({ pipeline, config, metrics, logger, lifecycle, concurrency }) : undefined;
  return { app, pipeline, metrics, lifecycle, grpc };
}

/** The ONNX Runtime session settings the configuration chooses. */
export function sessionOptions(
  config: Pick<Config, "intraOpThreads" | "interOpThreads" | "graphOptimizationLevel" | "spinWait">,
): Pick<OnnxModelOptions, "intraOpThreads" | "interOpThreads" | "graphOptimizationLevel" | "spinWait"> {
  return {
    intraOpThreads: config.intraOpThreads,
    interOpThreads: config.interOpThreads,
    graphOptimizationLevel: config.graphOptimizationLevel,
    spinWait: config.spinWait,
  };
}
