/**
 * What a route module receives and what it gives back: its router, and its part of the OpenAPI document.
 * A module of its own so that app.ts (which mounts the routers) and the routers (which need the context's
 * type) do not import each other.
 */
import type { RequestHandler, Router } from "express";
import type { Logger } from "pino";
import type { Config } from "../config/schema";
import type { ConcurrencyLimit } from "../lifecycle/concurrency-limit";
import type { Lifecycle } from "../lifecycle/lifecycle";
import type { Metrics } from "../metrics/metrics";
import type { InferencePipeline, ModelDescription } from "../pipeline/classifier";
import type { ModelVersions } from "../pipeline/model-versions";

/** Everything the HTTP layer is built from, passed in (createApp does not construct any of it). */
export interface AppDependencies {
  /** The loaded versions of the model, each with its own pipeline. */
  readonly models: ModelVersions;
  readonly config: Config;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  /** Prediction requests in flight, shared with the other front ends (gRPC). */
  readonly concurrency: ConcurrencyLimit;
}

/** What every router gets: the dependencies, the one shared chain of prediction guards, and the API document. */
export interface RouteContext extends AppDependencies {
  /** The default version's pipeline (models.default), for routes that serve only it. */
  readonly pipeline: InferencePipeline;
  /**
   * Readiness, rate limit and concurrency limit, in that order: put them before any prediction handler, so
   * every protocol shares one concurrency budget and one rate limit per client.
   */
  readonly predictionGuards: readonly RequestHandler[];
  /** The OpenAPI document assembled from every route module's fragment, for /openapi.json. */
  readonly openApiDocument: object;
}

export type RouteFactory = (context: RouteContext) => Router;

/** A JSON value, as an OpenAPI document holds. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What an OpenAPI fragment may depend on: the limits in force and the model being served. */
export interface OpenApiContext {
  readonly config: Config;
  /** The default version's description. */
  readonly model: ModelDescription;
  /** Every loaded version, the default among them. */
  readonly versions: readonly string[];
}

/** One route module's part of the OpenAPI document; the assembler merges them (names must not collide). */
export interface OpenApiFragment {
  readonly tags?: readonly { readonly name: string; readonly description: string }[];
  readonly paths: Record<string, Json>;
  readonly schemas?: Record<string, Json>;
  readonly responses?: Record<string, Json>;
}

/** A route module: its router, and its description beside it. */
export interface RouteModule {
  readonly router: RouteFactory;
  readonly openApi: (context: OpenApiContext) => OpenApiFragment;
}
