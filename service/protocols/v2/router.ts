/**
 * Open Inference Protocol (KServe v2) REST endpoints. They adapt HTTP to the same InferencePipeline calls as
 * /predict, behind the same guards (readiness, rate limit, concurrency limit), body limit and deadline, so the
 * batcher, its queue and the metrics are shared; only the wire format differs.
 */
import { Router, type ErrorRequestHandler, type RequestHandler } from "express";
import type { RouteContext, RouteModule } from "../../http/route-context";
import { methodNotAllowed } from "../../http/errors";
import { classifyOptions, noStore } from "../../http/handlers";
import { notFoundV2, unknownModel, v2ErrorHandler } from "./errors";
import { jsonBody } from "./json-body";
import { modelMetadata, serverMetadata } from "./metadata";
import { v2OpenApi } from "./openapi";
import { parseInferenceRequest } from "./request";
import { runInference } from "./infer";
import { buildInferenceResponse } from "./response";

const READ = ["GET", "HEAD"];

function v2Router({ pipeline, config, lifecycle, logger, predictionGuards }: RouteContext): Router {
  const router = Router();
  const model = pipeline.model;
  const server = serverMetadata();
  const metadata = modelMetadata(model);

  /** 404 unless the path names this model, and this version when it names one. */
  const resolveModel: RequestHandler = (req, _res, next) => {
    const { model: name, version } = req.params as { model: string; version?: string };
    if (name !== model.name) {
      return next(unknownModel(`Unknown model "${name}"; this server serves "${model.name}" (GET /v2/models/${model.name}).`));
    }
    if (version !== undefined && version !== model.version) {
      return next(unknownModel(`Model "${model.name}" has no version "${version}"; available: ${model.version}.`));
    }
    next();
  };

  // Health answers are status codes (200 true, 4xx false) with a small body saying the same.
  router.route("/v2/health/live").get(noStore, (_req, res) => {
    res.json({ live: true });
  }).all(methodNotAllowed(READ));
  router.route("/v2/health/ready").get(noStore, (_req, res) => {
    res.status(lifecycle.ready ? 200 : 400).json({ ready: lifecycle.ready });
  }).all(methodNotAllowed(READ));
  router.route("/v2").get((_req, res) => {
    res.json(server);
  }).all(methodNotAllowed(READ));

  // Each path with and without /versions/{version}: two routes, so metrics label each by its own template.
  for (const base of ["/v2/models/:model", "/v2/models/:model/versions/:version"]) {
    router.route(base).get(resolveModel, (_req, res) => {
      res.json(metadata);
    }).all(methodNotAllowed(READ));

    router.route(`${base}/ready`).get(noStore, resolveModel, (_req, res) => {
      res.status(lifecycle.ready ? 200 : 400).json({ name: model.name, ready: lifecycle.ready });
    }).all(methodNotAllowed(READ));

    router
      .route(`${base}/infer`)
      .post(resolveModel, ...predictionGuards, jsonBody(config.maxRequestSize), async (req, res) => {
        const request = parseInferenceRequest(req.body, model, { maxImages: config.maxBatchFiles });
        const options = classifyOptions(res, model.labels.length, config.predictionTimeoutMs);
        const results = await runInference(pipeline, request.input, options);
        // Without an id of its own, the request is answered under its X-Request-Id, which the logs carry too.
        res.json(buildInferenceResponse(model, request.id ?? res.locals.requestId, request.outputs, results));
      })
      .all(methodNotAllowed(["POST"]));
  }

  // Not mounted at "/v2" (router.use("/v2", ...)): mounting would prefix req.baseUrl to the route template that
  // labels the request's metrics. Requests outside /v2 pass through to the service's own 404 and errors.
  const notFound = notFoundV2();
  const handleError = v2ErrorHandler(logger);
  router.use((req, res, next) => (isV2(req.path) ? notFound(req, res, next) : next()));
  const handleV2Error: ErrorRequestHandler = (error, req, res, next) => (isV2(req.path) ? handleError(error, req, res, next) : next(error));
  router.use(handleV2Error);
  return router;
}

const isV2 = (path: string) => path === "/v2" || path.startsWith("/v2/");

export const v2Routes: RouteModule = { router: v2Router, openApi: v2OpenApi };
