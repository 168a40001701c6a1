/** ClassifierIngress alone: defaults, TLS, paths, and the body size it takes from its backend. */
import { ClassifierIngress, type ClassifierIngressProps, type HttpBackend } from "../../infra";
import { HTTP_CONTRACT } from "../../infra/service-contract";
import { oneOf, synthConstructs } from "./manifests";

const BACKEND: HttpBackend = { namespace: "vision", serviceName: "classifier", servicePortName: "web", maxRequestBytes: 3 * 2 ** 20 };
const ingressOf = (props: Partial<ClassifierIngressProps>) =>
  oneOf(
    synthConstructs((scope) => new ClassifierIngress(scope, "Ingress", { backend: BACKEND, host: "classify.example.org", ...props })),
    "Ingress",
  );

test("defaults: named after the Service, nginx class, 20 requests/s, the service's public paths, plain HTTP", () => {
  const ingress = ingressOf({});
  expect(ingress.metadata).toEqual({
    name: "classifier",
    namespace: "vision",
    annotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "3m", "nginx.ingress.kubernetes.io/limit-rps": "20" },
  });
  expect(ingress.spec!.ingressClassName).toBe("nginx");
  expect(ingress.spec!.tls).toBeUndefined();
  const backend = { service: { name: "classifier", port: { name: "web" } } };
  expect(ingress.spec!.rules).toEqual([
    {
      host: "classify.example.org",
      http: { paths: HTTP_CONTRACT.publicPaths.map(({ path, pathType }) => ({ path, pathType, backend })) },
    },
  ]);
});

test("TLS: cert-manager's ClusterIssuer, an HTTPS redirect, and the secret <name>-tls unless named", () => {
  const ingress = ingressOf({ name: "public", tls: { clusterIssuer: "letsencrypt" } });
  expect(ingress.metadata!.annotations).toMatchObject({
    "cert-manager.io/cluster-issuer": "letsencrypt",
    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
  });
  expect(ingress.spec!.tls).toEqual([{ hosts: ["classify.example.org"], secretName: "public-tls" }]);
  expect(ingressOf({ tls: { clusterIssuer: "letsencrypt", secretName: "certs" } }).spec!.tls).toEqual([
    { hosts: ["classify.example.org"], secretName: "certs" },
  ]);
});

test("class, rate limit, labels and paths are the props", () => {
  const ingress = ingressOf({
    ingressClassName: "internal",
    rateLimitPerSecond: 7,
    labels: { team: "ml" },
    paths: [{ path: "/predict", pathType: "Exact" }],
  });
  expect(ingress.spec!.ingressClassName).toBe("internal");
  expect(ingress.metadata!.annotations!["nginx.ingress.kubernetes.io/limit-rps"]).toBe("7");
  expect(ingress.metadata!.labels).toEqual({ team: "ml" });
  expect(ingress.spec!.rules![0].http!.paths.map((p) => [p.path, p.pathType])).toEqual([["/predict", "Exact"]]);
});

test("the body size follows the backend's limit exactly, in nginx units", () => {
  expect(ingressOf({ backend: { ...BACKEND, maxRequestBytes: 1536 * 1024 } }).metadata!.annotations!["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe(
    "1536k",
  );
  expect(ingressOf({ backend: { ...BACKEND, maxRequestBytes: 1000 } }).metadata!.annotations!["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("1000");
});

describe("a canary Ingress", () => {
  test("carries only ingress-nginx's canary annotations: weight, and X-Canary by default", () => {
    const ingress = ingressOf({ name: "classifier-canary", canary: { weight: 15 } });
    expect(ingress.metadata!.annotations).toEqual({
      "nginx.ingress.kubernetes.io/canary": "true",
      "nginx.ingress.kubernetes.io/canary-weight": "15",
      "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
    });
    expect(ingress.spec!.rules![0].host).toBe("classify.example.org");
  });

  test("has no TLS section and no cert-manager annotation: the main Ingress's certificate serves the host", () => {
    const ingress = ingressOf({ canary: { weight: 0, header: "X-Try-New-Model" }, tls: { clusterIssuer: "letsencrypt" } });
    expect(ingress.spec!.tls).toBeUndefined();
    expect(ingress.metadata!.annotations).not.toHaveProperty(["cert-manager.io/cluster-issuer"]);
    expect(ingress.metadata!.annotations!["nginx.ingress.kubernetes.io/canary-by-header"]).toBe("X-Try-New-Model");
    expect(ingress.metadata!.annotations!["nginx.ingress.kubernetes.io/canary-weight"]).toBe("0");
  });

  test("accepts the edges 0 and 100 and refuses beyond them", () => {
    expect(ingressOf({ canary: { weight: 100 } }).metadata!.annotations!["nginx.ingress.kubernetes.io/canary-weight"]).toBe("100");
    expect(() => ingressOf({ canary: { weight: 101 } })).toThrow("canary weight must be an integer from 0 to 100, got 101");
  });
});
