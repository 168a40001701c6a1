/** GET /metrics: the Prometheus text exposition of the service's own registry. */
import { Router } from "express";
import { HTTP_CONTRACT } from "../../contract/http";
import type { Metrics } from "../../metrics/metrics";
import { methodNotAllowed } from "../errors";
import { readOnlyPath } from "../openapi-components";
import type { OpenApiFragment, RouteModule } from "../route-context";

function metricsRouter(metrics: Metrics): Router {
  const router = Router();
  router
    .route(HTTP_CONTRACT.metricsPath)
    .get(async (_req, res) => {
      const body = await metrics.registry.metrics();
      res.setHeader("Content-Type", metrics.registry.contentType);
      res.setHeader("Cache-Control", "no-store");
      res.send(body);
    })
    .all(methodNotAllowed(["GET", "HEAD"]));
  return router;
}

function metricsOpenApi(): OpenApiFragment {
  return {
    paths: {
      [HTTP_CONTRACT.metricsPath]: readOnlyPath("operations", "Prometheus metrics", "Prometheus text exposition format 0.0.4.", "text/plain", {
        type: "string",
      }),
    },
  };
}

export const metricsRoutes: RouteModule = { router: ({ metrics }) => metricsRouter(metrics), openApi: metricsOpenApi };
