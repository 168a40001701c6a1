/**
 * The Express application: HTTP at the edge, plain calls into the inference pipeline inside. Everything it
 * uses is passed in; it does not listen (service/main.ts does).
 */
import express, { type Express, type RequestHandler, type Router } from "express";
import type { Logger } from "pino";
import type { Config } from "../config/schema";
import type { Lifecycle } from "../lifecycle/lifecycle";
import type { Metrics } from "../metrics/metrics";
import type { InferencePipeline } from "../pipeline/classifier";
import { v2Router } from "../protocols/v2/router";
import { webRouter } from "../web/router";
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
import { docsRouter } from "./routes/docs";
import { healthRouter } from "./routes/health";
import { metricsRouter } from "./routes/metrics";
import { predictRouter } from "./routes/predict";

export interface AppDependencies {
  readonly pipeline: InferencePipeline;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  /** More routes (other protocols, pages), mounted after the built-in ones and before the 404 handler. */
  readonly routes?: readonly RouteFactory[];
}

/** What every router gets: the dependencies, and the one shared chain of prediction guards. */
export interface RouteContext extends Omit<AppDependencies, "routes"> {
  /**
   * Readiness, rate limit and concurrency limit, in that order: put them before any prediction handler, so
   * every protocol shares one concurrency budget and one rate limit per client.
   */
  readonly predictionGuards: readonly RequestHandler[];
}

export type RouteFactory = (context: RouteContext) => Router;

export function createApp(deps: AppDependencies): Express {
  const { config, metrics, logger, lifecycle } = deps;
  const context: RouteContext = {
    pipeline: deps.pipeline,
    config,
    metrics,
    logger,
    lifecycle,
    predictionGuards: predictionGuards({ config, metrics, lifecycle }),
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

  const builtIn: RouteFactory[] = [
    (c) => healthRouter(c.lifecycle),
    (c) => metricsRouter(c.metrics),
    (c) => docsRouter(buildOpenApiDocument(c.config, c.pipeline.model)),
    predictRouter,
    v2Router,
    webRouter,
  ];
  for (const route of [...builtIn, ...(deps.routes ?? [])]) app.use(route(context));

  app.use(notFound());
  app.use(errorHandler(logger));
  return app;
}
