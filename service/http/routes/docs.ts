/**
 * GET /openapi.json and GET /docs. The docs page is Swagger UI from the swagger-ui-dist package, served from
 * this process (no CDN), with its own initializer script so the page needs no inline script under the CSP.
 */
import path from "node:path";
import { Router } from "express";
import { getAbsoluteFSPath } from "swagger-ui-dist";
import { methodNotAllowed, notFoundProblem } from "../errors";
import { readOnlyPath, responseRef } from "../openapi-components";
import type { OpenApiFragment, RouteContext, RouteModule } from "../route-context";
import { escapeHtml } from "../html";

/** The only swagger-ui-dist files served: the page needs nothing else. */
const ASSETS = new Set([
  "swagger-ui.css",
  "index.css",
  "swagger-ui-bundle.js",
  "swagger-ui-standalone-preset.js",
  "favicon-32x32.png",
  "favicon-16x16.png",
]);

/** The Swagger UI page, titled with the served model's name (HTML-escaped: it comes from the model card). */
const page = (modelName: string) => `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(modelName)} classifier API</title>
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
    <link rel="stylesheet" href="/docs/assets/index.css">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

const INIT = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
`;

function docsRouter({ openApiDocument, pipeline }: Pick<RouteContext, "openApiDocument" | "pipeline">): Router {
  const router = Router();
  const assetsDir = getAbsoluteFSPath();
  const documentJson = JSON.stringify(openApiDocument);
  const html = page(pipeline.model.name);

  router
    .route("/openapi.json")
    .get((_req, res) => {
      res.type("application/json").send(documentJson);
    })
    .all(methodNotAllowed(["GET", "HEAD"]));

  router
    .route("/docs")
    .get((_req, res) => {
      res.type("html").send(html);
    })
    .all(methodNotAllowed(["GET", "HEAD"]));

  router
    .route("/docs/init.js")
    .get((_req, res) => {
      res.type("application/javascript").send(INIT);
    })
    .all(methodNotAllowed(["GET", "HEAD"]));

  router
    .route("/docs/assets/:file")
    .get((req, res, next) => {
      const file = req.params["file"];
      if (file === undefined || !ASSETS.has(file)) return next(notFoundProblem());
      res.sendFile(path.join(assetsDir, file), { maxAge: "1d" });
    })
    .all(methodNotAllowed(["GET", "HEAD"]));

  return router;
}

function docsOpenApi(): OpenApiFragment {
  return {
    paths: {
      "/openapi.json": readOnlyPath("operations", "This document", "OpenAPI 3.1.", "application/json", { type: "object" }),
      "/docs": readOnlyPath("operations", "Interactive documentation (Swagger UI, served locally)", "HTML page.", "text/html", { type: "string" }),
      "/docs/init.js": readOnlyPath("operations", "The documentation page's initializer script", "JavaScript.", "application/javascript", {
        type: "string",
      }),
      "/docs/assets/{file}": {
        get: {
          tags: ["operations"],
          summary: "A Swagger UI asset of the documentation page (from swagger-ui-dist)",
          parameters: [{ name: "file", in: "path", required: true, schema: { type: "string", enum: [...ASSETS] } }],
          responses: {
            "200": { description: "The asset." },
            "404": { description: "Not one of the page's assets.", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
            "405": responseRef("MethodNotAllowed"),
          },
        },
      },
    },
  };
}

export const docsRoutes: RouteModule = { router: docsRouter, openApi: docsOpenApi };
