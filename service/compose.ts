/**
 * The one composition root: from a configuration and the loaded model versions (each a card and a model), the
 * metrics, one inference pipeline per version, the Express app and the gRPC server, wired the same way for the
 * service (service/main.ts, the only caller that listens) and for the tests.
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
import { renderVersionPolicy } from "./config/version-policy";
import { InferencePipeline } from "./pipeline/classifier";
import { createGrpcServer } from "./protocols/grpc/server";
import { ModelVersions } from "./pipeline/model-versions";

/** One version to serve: its card, and its model, loaded and verified against the card. */
export interface ServedVersion {
  readonly card: ModelCard;
  /** Owned by the caller until the pipelines are closed. */
  readonly model: InferenceModel;
}

export interface CompositionInputs {
  readonly config: Config;
  /** Every version to serve, of one model; config.modelVersion must be one of them (the default). */
  readonly versions: readonly ServedVersion[];
  /** Every version the model repository holds, loaded or not. @default the served versions */
  readonly repositoryVersions?: readonly string[];
  readonly logger: Logger;
  /** Readiness and draining state. @default a new Lifecycle, starting */
  readonly lifecycle?: Lifecycle;
}

export interface ComposedService {
  readonly app: Express;
  /** The default version's pipeline (models.default). */
  readonly pipeline: InferencePipeline;
  readonly models: ModelVersions;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  /** The gRPC server, not yet bound (main binds it to CLASSIFIER_GRPC_PORT); undefined when CLASSIFIER_GRPC_ENABLED=false. */
  readonly grpc: GrpcServer | undefined;
}

export function compose({ config, versions, repositoryVersions, logger, lifecycle = new Lifecycle() }: CompositionInputs): ComposedService {
  const metrics = createMetrics({ maxBatchSize: config.batchMaxSize });
  // One pipeline, and so one batcher and queue, per version: versions never share a batch.
  const pipelines = versions.map(({ card, model }) => {
    metrics.modelInfo.set({ name: card.name, version: card.version, sha256: card.sha256 }, 1);
    return new InferencePipeline({ card, model, config, metrics });
  });
  const models = new ModelVersions({
    pipelines,
    defaultVersion: config.modelVersion,
    repositoryVersions,
    policy: renderVersionPolicy(config.modelVersionPolicy),
  });
  // One budget of requests in flight for every protocol and version, so the limit holds however clients connect.
  const concurrency = new ConcurrencyLimit(config.maxConcurrentRequests, metrics);
  const app = createApp({ models, config, metrics, logger, lifecycle, concurrency });
  const grpc = config.grpcEnabled ? createGrpcServer({ models, config, metrics, logger, lifecycle, concurrency }) : undefined;
  return { app, pipeline: models.default, models, metrics, lifecycle, grpc };
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
