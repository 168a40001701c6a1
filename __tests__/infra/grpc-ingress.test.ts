/** GrpcIngress alone: ingress-nginx's gRPC proxying, TLS always, the inference service's path, the message limit. */
import { GRPC_INGRESS_DEFAULTS, GRPC_INGRESS_PATH, GrpcIngress, type GrpcIngressProps, type HttpBackend, grpcBackendOf } from "../../infra";
import { GRPC_CONTRACT } from "../../infra/service-contract";
import { oneOf, synthConstructs } from "./manifests";

const BACKEND: HttpBackend = { namespace: "vision", serviceName: "classifier", servicePortName: "grpc", maxRequestBytes: 3 * 2 ** 20 };
const TLS = { clusterIssuer: "letsencrypt" } as const;
const ingressOf = (props: Partial<GrpcIngressProps>) =>
  oneOf(
    synthConstructs((scope) => new GrpcIngress(scope, "GrpcIngress", { backend: BACKEND, host: "grpc.example.org", tls: TLS, ...props })),
    "Ingress",
  );

test("defaults: <service>-grpc, nginx class, backend-protocol GRPC, 20 calls/s, TLS into <name>-tls", () => {
  const ingress = ingressOf({});
  expect(ingress.metadata).toEqual({
    name: "classifier-grpc",
    namespace: "vision",
    annotations: {
      "nginx.ingress.kubernetes.io/backend-protocol": "GRPC",
      "nginx.ingress.kubernetes.io/proxy-body-size": String(3 * 2 ** 20 + 5),
      "nginx.ingress.kubernetes.io/limit-rps": "20",
      "cert-manager.io/cluster-issuer": "letsencrypt",
    },
  });
  expect(ingress.spec).toEqual({
    ingressClassName: "nginx",
    tls: [{ hosts: ["grpc.example.org"], secretName: "classifier-grpc-tls" }],
    rules: [
      {
        host: "grpc.example.org",
        http: {
          paths: [{ path: "/inference.GRPCInferenceService", pathType: "Prefix", backend: { service: { name: "classifier", port: { name: "grpc" } } } }],
        },
      },
    ],
  });
  expect(GRPC_INGRESS_DEFAULTS).toEqual({ ingressClassName: "nginx", rateLimitPerSecond: 20, nameSuffix: "-grpc" });
});

test("routes only the inference service: the health service and anything else on the port stay in the cluster", () => {
  expect(GRPC_INGRESS_PATH).toEqual({ path: `/${GRPC_CONTRACT.inferenceService}`, pathType: "Prefix" });
  const routed = ingressOf({}).spec!.rules![0].http!.paths.map((p) => p.path);
  expect(routed).toEqual(["/inference.GRPCInferenceService"]);
  expect(routed.some((path) => (path ?? "").includes(GRPC_CONTRACT.healthService))).toBe(false);
});

test("name, class, rate limit, labels and the TLS secret are the props", () => {
  const ingress = ingressOf({
    name: "rpc",
    ingressClassName: "nginx-internal",
    rateLimitPerSecond: 7,
    labels: { team: "ml" },
    tls: { clusterIssuer: "internal-ca", secretName: "rpc-cert" },
  });
  expect(ingress.metadata!.name).toBe("rpc");
  expect(ingress.spec!.ingressClassName).toBe("nginx-internal");
  expect(ingress.metadata!.annotations).toMatchObject({ "nginx.ingress.kubernetes.io/limit-rps": "7", "cert-manager.io/cluster-issuer": "internal-ca" });
  expect(ingress.metadata!.labels).toEqual({ team: "ml" });
  expect(ingress.spec!.tls).toEqual([{ hosts: ["grpc.example.org"], secretName: "rpc-cert" }]);
});

test("the body limit lets through the largest message the service accepts, behind gRPC's 5-byte prefix, and no more", () => {
  const bodySize = (maxRequestBytes: number) =>
    ingressOf({ backend: { ...BACKEND, maxRequestBytes } }).metadata!.annotations!["nginx.ingress.kubernetes.io/proxy-body-size"];
  expect(bodySize(10 * 2 ** 20)).toBe("10485765");
  expect(bodySize(1000)).toBe("1005");
  // 1 MiB - 5 plus the prefix is exactly 1 MiB, which nginx units spell "1m".
  expect(bodySize(2 ** 20 - 5)).toBe("1m");
});

test("a canary carries only the canary annotations and no TLS: the main gRPC Ingress's certificate serves the host", () => {
  const ingress = ingressOf({ name: "classifier-grpc-canary", tls: undefined, canary: { weight: 10 } });
  expect(ingress.metadata!.annotations).toEqual({
    "nginx.ingress.kubernetes.io/canary": "true",
    "nginx.ingress.kubernetes.io/canary-weight": "10",
    "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
  });
  expect(ingress.spec!.tls).toBeUndefined();
  expect(ingressOf({ canary: { weight: 0, header: "X-Try" } }).spec!.tls).toBeUndefined();
});

test("grpcBackendOf hands over a classifier's gRPC port", () => {
  expect(grpcBackendOf({ objectName: "classifier", grpcBackend: BACKEND })).toBe(BACKEND);
});
