/**
 * GET / : the demo page, and its script and stylesheet. Static text rendered once at start; Express answers
 * conditional requests from its ETag, and no-cache makes browsers revalidate, so a new release shows at once.
 */
import { Router, type RequestHandler } from "express";
import type { RouteContext } from "../http/app";
import { methodNotAllowed } from "../http/errors";
import { TOP_K_DEFAULT } from "../http/routes/predict";
import { SCRIPT_PATH, STYLES_PATH, renderIndexPage } from "./page";
import { APP_SCRIPT } from "./script";
import { APP_STYLES } from "./styles";

export function webRouter({ pipeline, config }: RouteContext): Router {
  const router = Router();
  const page = renderIndexPage({ model: pipeline.model, maxRequestSize: config.maxRequestSize, topK: TOP_K_DEFAULT });
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
