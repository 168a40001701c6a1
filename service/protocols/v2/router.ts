/**
 * Open Inference Protocol (KServe v2) REST endpoints, for every loaded model version (/versions/{v}) and the
 * default one (no version in the path). They adapt HTTP to the same InferencePipeline calls as /predict, behind
 * the same guards (readiness, rate limit, concurrency limit), body limit and deadline, so each version's batcher,
 * its queue and the metrics are shared with /predict; only the wire format differs.
 */
import { Router, type ErrorRequestHandler, type Request, type RequestHandler } from "express";
import type { RouteContext, RouteModule } from "../../http/route-context";
import { methodNotAllowed } from "../../http/errors";
import { announceVersion, classifyOptions, noStore, pipelineOf } from "../../http/handlers";
import { sendCompressible } from "../../http/response-coding";
import type { InferencePipeline } from "../../pipeline/classifier";
import { binaryOutputNames, encodeInferenceResponse } from "./binary-response";
import { notFoundV2, unknownModel, v2ErrorHandler } from "./errors";
import { inferenceBody } from "./infer-body";
import { modelMetadata, serverMetadata, type ModelMetadata } from "./metadata";
import { v2OpenApi } from "./openapi";
import { parseInferenceRequest } from "./request";
import { runInference } from "./infer";
import { buildInferenceResponse } from "./response";

const READ = ["GET", "HEAD"];

function v2Router({ models, config, lifecycle, logger, predictionGuards }: RouteContext): Router {
  const router = Router();
  const server = serverMetadata();
  const metadata = new Map(models.pipelines.map((p) => [p, modelMetadata(p.model, models.loaded)]));
  const metadataOf = (pipeline: InferencePipeline): ModelMetadata => {
    const found = metadata.get(pipeline);
    if (found === undefined) throw new Error(`no metadata for ${pipeline.model.version}`);
    return found;
  };

  /**
   * The pipeline a path names: its version, or the default version when the path names none. 404 for another
   * model, an unknown version, or a version the repository holds that this server does not load.
   */
  const pipelineFor = (req: Request): InferencePipeline => {
    const { model: name, version } = req.params as { model: string; version?: string };
    if (name !== models.name) {
      throw unknownModel(`Unknown model "${name}"; this server serves "${models.name}" (GET /v2/models/${models.name}).`);
    }
    return pipelineOf(models, version);
  };
  const resolveModel: RequestHandler = (req, _res, next) => {
    pipelineFor(req);
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
    router.route(base).get((req, res) => {
      res.json(metadataOf(pipelineFor(req)));
    }).all(methodNotAllowed(READ));

    router.route(`${base}/ready`).get(noStore, (req, res) => {
      const pipeline = pipelineFor(req);
      // Every loaded version was checked and warmed up before the service turned ready.
      res.status(lifecycle.ready ? 200 : 400).json({ name: pipeline.model.name, ready: lifecycle.ready });
    }).all(methodNotAllowed(READ));

    router
      .route(`${base}/infer`)
      .post(resolveModel, ...predictionGuards, inferenceBody(config.maxRequestSize), async (req, res) => {
        const pipeline = pipelineFor(req);
        const model = pipeline.model;
        announceVersion(res, pipeline);
        const request = parseInferenceRequest(req.body, model, { maxImages: config.maxBatchFiles }, res.locals.rawInputs);
        const options = classifyOptions(res, model.labels.length, config.predictionTimeoutMs);
        const results = await runInference(pipeline, request.input, options);
        // Without an id of its own, the request is answered under its X-Request-Id, which the logs carry too.
        const response = buildInferenceResponse(model, request.id ?? res.locals.requestId, request.outputs, results);
        const { body, headers } = encodeInferenceResponse(response, binaryOutputNames(req.body, request.outputs));
        await sendCompressible(req, res, body, headers);
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
