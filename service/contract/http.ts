/**
 * The fixed parts of the HTTP contract, written once: paths the service serves and infra/ routes, probes and
 * scrapes, and the limits a client sees on every prediction endpoint.
 *
 * This module must stay free of runtime dependencies (no express, sharp, onnxruntime): infra/ imports it.
 */

/** Paths and names that infra/ must agree with. */
export const HTTP_CONTRACT = {
  /** Name of the container port; the Service targets it by name. */
  portName: "http",
  metricsPath: "/metrics",
  probes: {
    live: "/health/live",
    ready: "/health/ready",
    startup: "/health/startup",
  },
  /** Kubernetes-style aliases of the probes. */
  probeAliases: {
    live: "/livez",
    ready: "/readyz",
    startup: "/healthz",
  },
  /**
   * What the Ingress exposes to clients, as Kubernetes Ingress paths. Probes and /metrics stay inside the
   * cluster: kubelet and Prometheus reach pods directly, and the metrics reveal traffic and model details.
   */
  publicPaths: [
    { path: "/predict", pathType: "Prefix" },
    { path: "/v2", pathType: "Prefix" },
    { path: "/docs", pathType: "Prefix" },
    { path: "/openapi.json", pathType: "Exact" },
    { path: "/ui", pathType: "Prefix" },
    { path: "/", pathType: "Exact" },
  ],
} as const;

/**
 * A client's request id (X-Request-Id, gRPC metadata x-request-id) is echoed only when it matches: printable,
 * bounded, no spaces or quotes, so it is safe in a header and in a log line; otherwise one is generated.
 */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Classes returned when a request does not say (`top_k` absent), capped by the model's class count. */
const TOP_K_DEFAULT = 5;

/** The `top_k` range a model allows: 1 up to its number of classes (there is nothing beyond the last). */
export function topKRange(labels: readonly string[]): { readonly min: 1; readonly max: number; readonly default: number } {
  return { min: 1, max: labels.length, default: Math.min(TOP_K_DEFAULT, labels.length) };
}

/**
 * How a client picks a model version and learns which one answered: the query parameter of /predict and
 * /predict/batch, and the response header on every prediction (any protocol). Infra's canary routing and the
 * release checks read the same names.
 */
export const MODEL_VERSION_CONTRACT = {
  queryParameter: "model_version",
  responseHeader: "X-Model-Version",
} as const;
