/**
 * Cross-cutting HTTP middleware: request ids, the access log and HTTP metrics, security headers, CORS, and the
 * guards in front of prediction routes (readiness, rate limit, concurrency limit).
 */
import { randomUUID } from "node:crypto";
import cors from "cors";
import type { RequestHandler, Request } from "express";
import { rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import type { Config } from "../config/schema";
import type { ConcurrencyLimit } from "../lifecycle/concurrency-limit";
import type { Lifecycle } from "../lifecycle/lifecycle";
import { SANE_REQUEST_ID } from "../contract/http";
import { UNMATCHED_ROUTE, type Metrics } from "../metrics/metrics";
import { HEADER_LENGTH_HEADER } from "../protocols/v2/binary-body";
import { HttpProblem } from "./errors";

declare global {
  // Express merges this interface into res.locals.
  namespace Express {
    interface Locals {
      /** The request's id, echoed in X-Request-Id and in every log line about it. */
      requestId: string;
    }
  }
}

/** Echoes a sane X-Request-Id from the client, or makes one; every response carries it. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const offered = req.get("x-request-id");
    const id = offered !== undefined && SANE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.locals.requestId = id;
    res.setHeader("X-Request-Id", id);
    next();
  };
}

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The matched route's template ("/predict"), never the raw URL, so label values stay few. */
export function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === "string" ? req.baseUrl + route.path : UNMATCHED_ROUTE;
}

/**
 * One JSON log line and one metrics observation per request, when its response finishes or its connection
 * closes first. Log fields are values in a JSON object, so user input cannot forge a log line.
 */
export function observeRequests(metrics: Metrics, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const aborted = !res.writableFinished;
      const status = aborted && !res.headersSent ? 499 : res.statusCode;
      const labels = {
        method: KNOWN_METHODS.has(req.method) ? req.method : "OTHER",
        route: routeLabel(req),
        status_code: String(status),
      };
      metrics.httpRequestsTotal.inc(labels);
      metrics.httpRequestDuration.observe(labels, seconds);
      logger.info(
        {
          request_id: res.locals.requestId,
          method: req.method,
          route: labels.route,
          path: req.path.length > 256 ? `${req.path.slice(0, 256)}...` : req.path,
          status,
          latency_ms: Math.round(seconds * 1e6) / 1e3,
          bytes_in: Number(req.get("content-length") ?? 0) || undefined,
          aborted: aborted || undefined,
        },
        "request",
      );
    };
    res.once("finish", record);
    res.once("close", record);
    next();
  };
}

/**
 * Security headers. The CSP allows only this origin's scripts and styles (the /docs page loads swagger-ui from
 * here, not a CDN); swagger-ui needs inline styles and data: images. TLS ends before the pod, so no upgrade of
 * http subresources.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      directives: {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "upgrade-insecure-requests": null,
      },
    },
  });
}

/** CORS for the configured origins; none configured, no CORS headers at all. */
export function corsFor(origins: readonly string[]): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  return cors({
    origin: origins.includes("*") ? "*" : [...origins],
    methods: ["GET", "HEAD", "POST", "OPTIONS"],
    // A browser client of the binary tensor data extension needs the JSON's size to split the answer.
    exposedHeaders: ["X-Request-Id", "Retry-After", HEADER_LENGTH_HEADER],
    maxAge: 600,
  });
}

/** While draining, every response asks the client to close its connection, so keep-alive ends promptly. */
export function closeConnectionsWhileDraining(lifecycle: Lifecycle): RequestHandler {
  return (_req, res, next) => {
    if (lifecycle.draining) res.setHeader("Connection", "close");
    next();
  };
}

export interface GuardDependencies {
  readonly config: Pick<Config, "rateLimitPerMinute">;
  readonly lifecycle: Lifecycle;
  /** The budget every protocol's prediction requests share. */
  readonly concurrency: ConcurrencyLimit;
}

/**
 * The guards every prediction route runs before reading its body: readiness, the per-client rate limit (when
 * configured), and the concurrency limit. Other protocols' prediction routes use the same chain.
 */
export function predictionGuards(deps: GuardDependencies): RequestHandler[] {
  const guards: RequestHandler[] = [requireReady(deps.lifecycle)];
  if (deps.config.rateLimitPerMinute > 0) guards.push(rateLimitPerClient(deps.config.rateLimitPerMinute));
  guards.push(limitConcurrency(deps.concurrency));
  return guards;
}

export function requireReady(lifecycle: Lifecycle): RequestHandler {
  return (_req, _res, next) => {
    if (lifecycle.ready) return next();
    if (lifecycle.draining) {
      return next(
        new HttpProblem(503, "draining", "The service is shutting down; retry, another replica will answer.", {
          retryAfterSeconds: 1,
          closeConnection: true,
        }),
      );
    }
    next(new HttpProblem(503, "not_ready", "The model is not loaded yet; retry shortly.", { retryAfterSeconds: 5 }));
  };
}

/** A slot of the shared budget for the request's lifetime; without one, 503 at once, before its body is read. */
export function limitConcurrency(concurrency: ConcurrencyLimit): RequestHandler {
  return (_req, res, next) => {
    const release = concurrency.tryAcquire();
    if (release === undefined) {
      return next(
        new HttpProblem(503, "overloaded", `The service is handling ${concurrency.max} requests already; retry after the Retry-After delay.`, {
          retryAfterSeconds: 1,
        }),
      );
    }
    res.once("finish", release);
    res.once("close", release);
    next();
  };
}

/** Per client address, a fixed one-minute window. Behind a proxy, set Express's "trust proxy" to see clients. */
export function rateLimitPerClient(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    handler: (req, _res, next) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfterSeconds = resetTime === undefined ? 60 : Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000));
      next(
        new HttpProblem(429, "rate_limited", `More than ${perMinute} requests per minute from this client; retry later.`, {
          retryAfterSeconds,
        }),
      );
    },
  });
}
