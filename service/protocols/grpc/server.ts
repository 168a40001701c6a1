/**
 * The Open Inference Protocol's gRPC API (inference.GRPCInferenceService) and the standard health service on
 * one grpc-js Server. The handlers adapt gRPC to the same calls as the REST routes: the same readiness, the same
 * concurrency budget (ConcurrencyLimit, shared with HTTP), the same pipeline, batcher and deadline, and the
 * pipeline's metrics; only the wire format differs. Returned unbound: service/main.ts alone listens.
 */
import { randomUUID } from "node:crypto";
import {
  Metadata,
  Server,
  status as Status,
  type Deadline,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Config } from "../../config/schema";
import { GRPC_CONTRACT } from "../../contract/grpc";
import { SANE_REQUEST_ID } from "../../contract/http";
import type { ConcurrencyLimit } from "../../lifecycle/concurrency-limit";
import type { Lifecycle } from "../../lifecycle/lifecycle";
import type { Drainable } from "../../lifecycle/shutdown";
import type { Metrics } from "../../metrics/metrics";
import type { ClassifyOptions, InferencePipeline } from "../../pipeline/classifier";
import type { ModelVersions } from "../../pipeline/model-versions";
import { runInference } from "../v2/infer";
import { modelMetadata, serverMetadata } from "../v2/metadata";
import { buildInferenceResponse } from "../v2/response";
import { serviceDefinitions, type ModelInferRequest, type ModelRequest } from "./definition";
import { healthImplementation } from "./health";
import { parseModelInferRequest, resolveModel } from "./request";
import { GrpcProblem, notFound, statusName, toGrpcProblem, toServiceError } from "./status";
import { toModelInferResponse } from "./response";

export interface GrpcDependencies {
  /** The loaded versions; a request naming no version gets the default one's pipeline. */
  readonly models: ModelVersions;
  readonly config: Pick<Config, "maxRequestSize" | "maxBatchFiles" | "predictionTimeoutMs">;
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, "grpcRequestsTotal" | "grpcRequestDuration">;
  /** The prediction budget shared with the HTTP routes. */
  readonly concurrency: ConcurrencyLimit;
}

/** What a handler knows about its call besides the request message. */
interface CallContext {
  readonly requestId: string;
  /** The pipeline's options: every class, the earlier of the client's deadline and ours, cancellation. */
  readonly classify: ClassifyOptions;
}

type Handler<Request, Response> = (request: Request, context: CallContext) => Promise<Response> | Response;

export function createGrpcServer(deps: GrpcDependencies): Server {
  // Messages above CLASSIFIER_MAX_REQUEST_SIZE are refused by grpc-js with RESOURCE_EXHAUSTED before they are
  // decoded, as HTTP bodies above it get 413 while streaming.
  const server = new Server({ "grpc.max_receive_message_length": deps.config.maxRequestSize });
  const definitions = serviceDefinitions();
  server.addService(definitions.inference, inferenceImplementation(deps));
  server.addService(definitions.health, healthImplementation(deps.lifecycle));
  return server;
}

function inferenceImplementation(deps: GrpcDependencies): UntypedServiceImplementation {
  const { models, config, lifecycle, concurrency } = deps;
  const server = serverMetadata();
  const metadata = new Map(models.pipelines.map((p) => [p.model.version, modelMetadata(p.model, models.loaded)]));
  const rpc = <Request, Response>(name: string, handler: Handler<Request, Response>) => unary(deps, name, handler);

  return {
    ServerLive: rpc("ServerLive", () => ({ live: true })),
    ServerReady: rpc("ServerReady", () => ({ ready: lifecycle.ready })),
    ModelReady: rpc("ModelReady", (request: ModelRequest) => {
      pipelineFor(models, request.name, request.version);
      return { ready: lifecycle.ready };
    }),
    ServerMetadata: rpc("ServerMetadata", () => server),
    ModelMetadata: rpc("ModelMetadata", (request: ModelRequest) => {
      const { model } = pipelineFor(models, request.name, request.version);
      return metadata.get(model.version);
    }),
    ModelInfer: rpc("ModelInfer", async (message: ModelInferRequest, context) => {
      requireReady(lifecycle);
      const pipeline = pipelineFor(models, message.model_name, message.model_version);
      const model = pipeline.model;
      const release = concurrency.tryAcquire();
      if (release === undefined) {
        throw new GrpcProblem(Status.RESOURCE_EXHAUSTED, `The service is handling ${concurrency.max} requests already; retry after 1 s.`, 1);
      }
      try {
        const request = parseModelInferRequest(message, model, { maxImages: config.maxBatchFiles });
        const results = await runInference(pipeline, request.input, { ...context.classify, topK: model.labels.length });
        // Without an id of its own, the call is answered under its x-request-id, which the logs carry too.
        return toModelInferResponse(buildInferenceResponse(model, request.id ?? context.requestId, request.outputs, results), request.raw);
      } finally {
        release();
      }
    }),
  };
}

/** The pipeline of the named model's `version` (the default version when empty), or NOT_FOUND. */
function pipelineFor(models: ModelVersions, name: string, version: string): InferencePipeline {
  resolveModel(models.default.model, name, "");
  const found = models.lookup(version === "" ? undefined : version);
  if (!found.ok) throw notFound(found.message);
  return found.pipeline;
}

/** UNAVAILABLE with a retry hint unless the service is ready, exactly when REST answers 503. */
function requireReady(lifecycle: Lifecycle): void {
  if (lifecycle.ready) return;
  if (lifecycle.draining) throw new GrpcProblem(Status.UNAVAILABLE, "The service is shutting down; retry, another replica will answer.", 1);
  throw new GrpcProblem(Status.UNAVAILABLE, "The model is not loaded yet; retry shortly.", 5);
}

/**
 * One unary method: the request id (the client's x-request-id when sane), the deadline and cancellation, the
 * answer or its status with the id in the trailers, and one log line and one metrics observation per call.
 */
function unary<Request, Response>(deps: GrpcDependencies, name: string, handler: Handler<Request, Response>) {
  const method = `${GRPC_CONTRACT.inferenceService}/${name}`;
  const { logger, metrics, models, config } = deps;
  return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>): void => {
    const started = performance.now();
    const offered = call.metadata.get("x-request-id")[0];
    const requestId = typeof offered === "string" && SANE_REQUEST_ID.test(offered) ? offered : randomUUID();
    const abandoned = new AbortController();
    call.once("cancelled", () => abandoned.abort());
    const context: CallContext = {
      requestId,
      classify: {
        topK: models.default.model.labels.length,
        deadline: started + Math.min(config.predictionTimeoutMs, remainingMs(call.getDeadline())),
        signal: abandoned.signal,
      },
    };
    const finish = (code: Status, error?: unknown) => {
      const seconds = (performance.now() - started) / 1000;
      const labels = { method, code: statusName(code) };
      metrics.grpcRequestsTotal.inc(labels);
      metrics.grpcRequestDuration.observe(labels, seconds);
      const fields = { request_id: requestId, method, code: labels.code, latency_ms: Math.round(seconds * 1e6) / 1e3 };
      if (code === Status.INTERNAL || code === Status.UNKNOWN) logger.error({ ...fields, err: error }, "grpc call failed");
      else logger.info(fields, "grpc call");
    };
    Promise.resolve()
      .then(() => handler(call.request, context))
      .then(
        (response) => {
          finish(Status.OK);
          callback(null, response, trailers(requestId));
        },
        (error: unknown) => {
          const problem = toGrpcProblem(error);
          finish(problem.code, problem.cause ?? problem);
          callback(toServiceError(problem, requestId));
        },
      );
  };
}

function trailers(requestId: string): Metadata {
  const metadata = new Metadata();
  metadata.set("x-request-id", requestId);
  return metadata;
}

/** Milliseconds until a call's deadline; Infinity when the client set none. */
function remainingMs(deadline: Deadline): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : Infinity;
}

/** How main drains the server on shutdown (service/lifecycle/shutdown.ts). */
export function grpcDrain(server: Server): Drainable {
  return {
    // Refuses new calls (GOAWAY) and resolves once the calls in flight have finished.
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    forceClose: () => server.forceShutdown(),
  };
}
