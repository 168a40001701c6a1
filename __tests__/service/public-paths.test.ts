/**
 * The Ingress routes only HTTP_CONTRACT.publicPaths: each must lead somewhere in the app, and together they must
 * cover what clients use while leaving probes and /metrics inside the cluster.
 */
import request from "supertest";
import { HTTP_CONTRACT } from "../../service/contract/http";
import type { InferenceModel } from "../../service/model/onnx-model";
import { CARD_PATH, buildService, loadModelCard } from "./helpers";

/** Never called: these requests stop before inference. */
const unusedModel: InferenceModel = {
  run: () => Promise.reject(new Error("inference is not expected here")),
  close: () => Promise.resolve(),
};

/** Would the Ingress send this URL path to the service? (Kubernetes Exact and Prefix semantics.) */
function routedByIngress(urlPath: string): boolean {
  return HTTP_CONTRACT.publicPaths.some(({ path, pathType }) =>
    pathType === "Exact" ? urlPath === path : urlPath === path || urlPath.startsWith(`${path.replace(/\/$/, "")}/`),
  );
}

describe("public paths", () => {
  let app: ReturnType<typeof buildService>["app"];
  beforeAll(async () => {
    app = buildService(await loadModelCard(CARD_PATH), unusedModel).app;
  });

  /** What clients use, each with the status a plain GET gets (405: the route exists, only the method differs). */
  const clientPaths: [string, number][] = [
    ["/", 200],
    ["/ui/app.js", 200],
    ["/ui/app.css", 200],
    ["/predict", 405],
    ["/predict/batch", 405],
    ["/v2", 200],
    ["/v2/models/pyramidnet", 200],
    ["/docs", 200],
    ["/openapi.json", 200],
  ];

  it.each(clientPaths)("the app serves %s and the Ingress routes it", async (path, status) => {
    expect((await request(app).get(path)).status).toBe(status);
    expect(routedByIngress(path)).toBe(true);
  });

  it.each(HTTP_CONTRACT.publicPaths.map((p) => [p.path, p.pathType]))("%s (%s) leads to something the app serves", (path, pathType) => {
    const covered = clientPaths.filter(([url]) => (pathType === "Exact" ? url === path : url === path || url.startsWith(`${path}/`)));
    expect(covered.length).toBeGreaterThan(0);
  });

  it.each([
    "/metrics",
    ...Object.values(HTTP_CONTRACT.probes),
    ...Object.values(HTTP_CONTRACT.probeAliases),
  ])("%s stays inside the cluster", (path) => expect(routedByIngress(path)).toBe(false));
});
