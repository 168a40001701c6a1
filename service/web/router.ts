/**
 * GET / : the demo page, and its script and stylesheet. Static text rendered once at start; Express answers
 * conditional requests from its ETag, and no-cache makes browsers revalidate, so a new release shows at once.
 */
import { Router, type RequestHandler } from "express";
import { topKRange } from "../contract/http";
import { methodNotAllowed } from "../http/errors";
import { readOnlyPath } from "../http/openapi-components";
import type { OpenApiContext, OpenApiFragment, RouteContext, RouteModule } from "../http/route-context";
import { SCRIPT_PATH, STYLES_PATH, renderIndexPage } from "./page";
import { APP_SCRIPT } from "./script";
import { APP_STYLES } from "./styles";

function webRouter({ pipeline, config }: RouteContext): Router {
  const router = Router();
  const page = renderIndexPage({ model: pipeline.model, maxRequestSize: config.maxRequestSize, topK: topKRange(pipeline.model.labels).default });
  const assets: [string, string, string][] = [
    ["/", "html", page],
    [SCRIPT_PATH, "text/javascript", APP_SCRIPT],
    [STYLES_PATH, "css", APP_STYLES],
  ];
  for (const [path, type, body] of assets) {
    router.route(path).get(serve(type, body)).all(methodNotAllowed(["GET", "HEAD"]));
  }
  return router;
}

function serve(type: string, body: string): RequestHandler {
  return (_req, res) => {
    res.setHeader("Cache-Control", "no-cache");
    res.type(type).send(body);
  };
}

function webOpenApi({ model }: OpenApiContext): OpenApiFragment {
  const top = topKRange(model.labels).default;
  return {
    paths: {
      "/": readOnlyPath("operations", `Demo page: pick or drop an image, see the top-${top} classes (served locally, no CDN)`, "HTML page.", "text/html", {
        type: "string",
      }),
      [SCRIPT_PATH]: readOnlyPath("operations", "The demo page's script", "JavaScript.", "text/javascript", { type: "string" }),
      [STYLES_PATH]: readOnlyPath("operations", "The demo page's stylesheet", "CSS.", "text/css", { type: "string" }),
    },
  };
}

export const webRoutes: RouteModule = { router: webRouter, openApi: webOpenApi };
