/** Kubernetes probes and their aliases. Small JSON bodies; 503 carries Retry-After and the error envelope. */
import { Router, type RequestHandler } from "express";
import { HTTP_CONTRACT } from "../../contract/http";
import type { Lifecycle } from "../../lifecycle/lifecycle";
import { methodNotAllowed } from "../errors";
import { noStore } from "../handlers";
import { requestIdHeader, responseRef, schemaRef } from "../openapi-components";
import type { OpenApiFragment, RouteModule } from "../route-context";

const MESSAGES = {
  starting: "The model is loading; not ready yet.",
  draining: "The service is shutting down.",
  failed: "The model failed; the service is about to restart.",
} as const;

function healthRouter(lifecycle: Lifecycle): Router {
  const router = Router();

  const live: RequestHandler = (_req, res) => {
    res.json({ status: "alive" });
  };
  const ready: RequestHandler = (_req, res) => {
    const phase = lifecycle.phase;
    if (phase === "ready") {
      res.json({ status: "ready" });
      return;
    }
    res.setHeader("Retry-After", phase === "starting" ? "5" : "1");
    res.status(503).json({ status: phase, error: { code: `not_ready_${phase}`, message: MESSAGES[phase] } });
  };
  const startup: RequestHandler = (_req, res) => {
    if (lifecycle.started) {
      res.json({ status: "started" });
      return;
    }
    res.setHeader("Retry-After", "5");
    res.status(503).json({ status: "starting", error: { code: "not_ready_starting", message: MESSAGES.starting } });
  };

  const probes: [string, RequestHandler][] = [
    [HTTP_CONTRACT.probes.live, live],
    [HTTP_CONTRACT.probeAliases.live, live],
    [HTTP_CONTRACT.probes.ready, ready],
    [HTTP_CONTRACT.probeAliases.ready, ready],
    [HTTP_CONTRACT.probes.startup, startup],
    [HTTP_CONTRACT.probeAliases.startup, startup],
  ];
  for (const [path, handler] of probes) {
    router.route(path).get(noStore, handler).all(methodNotAllowed(["GET", "HEAD"]));
  }
  return router;
}


function probe(summary: string, description: string, canFail: boolean) {
  return {
    get: {
      tags: ["health"],
      summary,
      description,
      responses: {
        "200": { description: "Healthy.", content: { "application/json": { schema: schemaRef("Health") } } },
        ...(canFail ? { "503": responseRef("ProbeUnavailable") } : {}),
        "405": responseRef("MethodNotAllowed"),
      },
    },
  };
}

function healthOpenApi(): OpenApiFragment {
  const { probes, probeAliases } = HTTP_CONTRACT;
  return {
    paths: {
      [probes.live]: probe("Liveness", "200 while the process runs.", false),
      [probeAliases.live]: probe("Liveness (alias)", `Same as ${probes.live}.`, false),
      [probes.ready]: probe(
        "Readiness",
        "200 only when the model is loaded, its sha256 matches the model card, and a warm-up inference has run; 503 before that and while draining.",
        true,
      ),
      [probeAliases.ready]: probe("Readiness (alias)", `Same as ${probes.ready}.`, true),
      [probes.startup]: probe("Startup", "200 once start-up (model load and warm-up) has finished.", true),
      [probeAliases.startup]: probe("Startup (alias)", `Same as ${probes.startup}.`, true),
    },
    schemas: {
      Health: {
        type: "object",
        required: ["status"],
        properties: { status: { type: "string", examples: ["ready"] }, error: { $ref: "#/components/schemas/Error/properties/error" } },
      },
    },
    responses: {
      ProbeUnavailable: {
        description: "Not ready (starting, draining or failed).",
        headers: { ...requestIdHeader(), "Retry-After": { $ref: "#/components/headers/Retry-After" } },
        content: { "application/json": { schema: schemaRef("Health") } },
      },
    },
  };
}

export const healthRoutes: RouteModule = { router: ({ lifecycle }) => healthRouter(lifecycle), openApi: healthOpenApi };
