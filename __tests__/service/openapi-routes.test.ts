/**
 * /openapi.json describes every route the app mounts: walk Express's own routing table, so a route added
 * without its OpenAPI fragment fails here.
 */
import type { Express } from "express";
import request from "supertest";
import type { InferenceModel } from "../../service/model/onnx-model";
import { CARD_PATH, buildService, loadModelCard } from "./helpers";

/** Never called: nothing here runs inference. */
const unusedModel: InferenceModel = {
  run: () => Promise.reject(new Error("inference is not expected here")),
  close: () => Promise.resolve(),
};

/** The parts of Express 5's router layers this walk reads. */
interface Layer {
  readonly route?: { readonly path: string | string[]; readonly methods: Record<string, boolean> };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

/** Every [method, path] the app routes, in OpenAPI's template syntax (":model" becomes "{model}"). */
function mountedOperations(app: Express): [string, string][] {
  const operations: [string, string][] = [];
  const walk = (stack: readonly Layer[]) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        // "_all" is the 405 answer every route gives to other methods, not an operation.
        const methods = Object.keys(layer.route.methods).filter((m) => m !== "_all");
        for (const path of paths) for (const method of methods) operations.push([method, path.replace(/:(\w+)/g, "{$1}")]);
      } else if (layer.handle?.stack !== undefined) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: readonly Layer[] } }).router.stack);
  return operations;
}

describe("OpenAPI coverage", () => {
  let app: Express;
  let documented: Record<string, Record<string, unknown>>;
  beforeAll(async () => {
    app = buildService(await loadModelCard(CARD_PATH), unusedModel).app;
    documented = (await request(app).get("/openapi.json")).body.paths;
  });

  it("finds the app's routes by walking Express's routing table", () => {
    const operations = mountedOperations(app);
    // The walk itself must see the routes, or the test below would pass on nothing.
    expect(operations).toContainEqual(["post", "/predict"]);
    expect(operations).toContainEqual(["post", "/v2/models/{model}/versions/{version}/infer"]);
    expect(operations).toContainEqual(["get", "/health/ready"]);
    expect(operations.length).toBeGreaterThanOrEqual(25);
  });

  it("documents every mounted route and method in /openapi.json", () => {
    const missing = mountedOperations(app).filter(([method, path]) => documented[path]?.[method] === undefined);
    expect(missing).toEqual([]);
  });

  it("documents no path the app does not route", () => {
    const mounted = new Set(mountedOperations(app).map(([, path]) => path));
    expect(Object.keys(documented).filter((path) => !mounted.has(path))).toEqual([]);
  });
});
