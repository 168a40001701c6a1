/**
 * The Express application: HTTP at the edge, plain calls into the inference pipeline inside. Everything it
 * uses is passed in; it does not listen (service/main.ts does).
 */
import express, { type Express } from "express";
import { v2Routes } from "../protocols/v2/router";
import { webRoutes } from "../web/router";
import { errorHandler, notFound } from "./errors";
import {
  closeConnectionsWhileDraining,
  corsFor,
  observeRequests,
  predictionGuards,
  requestId,
  securityHeaders,
} from "./middleware";
import { buildOpenApiDocument } from "./openapi";
import type { AppDependencies, RouteContext, RouteModule } from "./route-context";
import { docsRoutes } from "./routes/docs";
import { healthRoutes } from "./routes/health";
import { metricsRoutes } from "./routes/metrics";
import { predictRoutes } from "./routes/predict";

/** Every route module, in mounting order; /openapi.json describes exactly these. */
const ROUTE_MODULES: readonly RouteModule[] = [healthRoutes, metricsRoutes, docsRoutes, predictRoutes, v2Routes, webRoutes];

export function createApp(deps: AppDependencies): Express {
  const { config, metrics, logger, lifecycle, concurrency } = deps;
  const pipeline = deps.models.default;
  const described = { config, model: pipeline.model, versions: deps.models.loaded };
  const context: RouteContext = {
    ...deps,
    pipeline,
    predictionGuards: predictionGuards({ config, lifecycle, concurrency }),
    openApiDocument: buildOpenApiDocument(described, ROUTE_MODULES.map((module) => module.openApi(described))),
  };
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");

  app.use(requestId());
  app.use(observeRequests(metrics, logger));
  app.use(closeConnectionsWhileDraining(lifecycle));
  app.use(securityHeaders());
  const cors = corsFor(config.corsOrigins);
  if (cors !== undefined) app.use(cors);

  for (const module of ROUTE_MODULES) app.use(module.router(context));

  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}
