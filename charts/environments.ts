/**
 * The environments the classifier is deployed to: everything that differs between them, and nothing else.
 * Adding one is one more entry: its key names the chart, the dist/ file, the instance label and the
 * CLASSIFIER_ENVIRONMENT the pods run with, and the tests iterate over the table.
 */
import type {
  AcceleratorProps,
  AutoscalingProps,
  ContainerResources,
  ImagePullPolicy,
  IngressTlsProps,
  NetworkClient,
  ServiceType,
  SloObjectives,
  SpreadPolicy,
  VerticalAutoscalingProps,
} from "../infra";
import type { ConfigOverrides } from "../infra/service-contract";

/**
 * Who reaches the environment's Ingress. A "public" environment serves clients across networks the operator does
 * not control, so its Ingress must terminate TLS (the chart refuses one without `ingress.tls`, and the policy tests
 * require it); an "internal" one (a laptop's kind cluster) may serve plain HTTP.
 */
export type Exposure = "public" | "internal";

export interface EnvironmentSpec {
  /** Namespace everything is deployed into. */
  readonly namespace: string;
  /** Registry and path of the image, without tag (the tag is the package version, or IMAGE_TAG when set). */
  readonly imageRepository: string;
  /** When nodes pull the image. */
  readonly imagePullPolicy: ImagePullPolicy;
  /** Container requests and limits; the CPU limit (whole cores) also sets ONNX Runtime's intra-op threads. */
  readonly resources: ContainerResources;
  /** HPA range and targets. */
  readonly autoscaling: AutoscalingProps;
  /** How the Service is exposed besides the Ingress. */
  readonly serviceType: ServiceType;
  /** Whether uneven spreading across nodes blocks scheduling. */
  readonly nodeSpread: SpreadPolicy;
  /** Whether pods also spread across zones. */
  readonly spreadAcrossZones: boolean;
  /** Who reaches the Ingress; "public" requires `ingress.tls`. */
  readonly exposure: Exposure;
  /** The Ingress. */
  readonly ingress: {
    readonly host: string;
    readonly rateLimitPerSecond: number;
    /** HTTPS with a cert-manager certificate; required when `exposure` is "public". */
    readonly tls?: IngressTlsProps;
  };
  /**
   * What the environment promises; its PrometheusRule alerts on the error budgets' burn rates.
   * @default SLO_DEFAULTS (99.5% of prediction requests succeed, 99% of predictions under 250 ms)
   */
  readonly slo?: SloObjectives;
  /**
   * An Ingress for the gRPC API (ingress-nginx `backend-protocol: GRPC`) on its own host. It always needs `tls`
   * (ingress-nginx serves HTTP/2 only over TLS) and gRPC on in `config` (CLASSIFIER_GRPC_ENABLED, the default).
   * @default - none: gRPC is reached in the cluster, on the Service's port 8001
   */
  readonly grpcIngress?: {
    readonly host: string;
    /** Calls per second per client address. @default 20 */
    readonly rateLimitPerSecond?: number;
    readonly tls?: IngressTlsProps;
  };
  /** Service configuration besides CLASSIFIER_ENVIRONMENT (the entry's key), validated by the service's schema. */
  readonly config: Omit<ConfigOverrides, "environment">;
  /**
   * Secrets in the namespace the kubelet pulls the image with (a private registry).
   * @default [] (anonymous pulls, or the nodes' own registry credentials)
   */
  readonly imagePullSecrets?: readonly string[];
  /**
   * In-cluster clients admitted to the pods besides the ingress controller and Prometheus.
   * @default [] (none)
   */
  readonly networkClients?: readonly NetworkClient[];
  /**
   * GPUs: the pods request them and the service runs ONNX Runtime's CUDA provider (see AcceleratorProps).
   * @default - none: CPU only
   */
  readonly accelerator?: AcceleratorProps;
  /**
   * A VerticalPodAutoscaler in recommendation mode; the cluster needs the VPA's CRD and recommender.
   * @default - none
   */
  readonly verticalAutoscaling?: VerticalAutoscalingProps;
}

/** Environments by name. Each name must be a DNS label (it becomes part of label values and file names). */
export type EnvironmentTable = Readonly<Record<string, EnvironmentSpec>>;

export const ENVIRONMENTS = {
  development: {
    namespace: "pyramidnet-dev",
    // Built locally and loaded into kind or minikube; never pulled from a registry.
    imageRepository: "pyramidnet",
    imagePullPolicy: "IfNotPresent",
    resources: {
      cpu: { request: "500m", limit: "1" },
      memory: { request: "512Mi", limit: "1Gi" },
    },
    autoscaling: {
      minReplicas: 1,
      maxReplicas: 3,
      cpuUtilizationPercent: 70,
      memoryUtilizationPercent: 80,
      // A kind cluster from the README has no prometheus-adapter: CPU and memory only (see AutoscalingProps).
      prometheusAdapter: false,
    },
    serviceType: "ClusterIP",
    // A one-node kind cluster must still schedule every replica.
    nodeSpread: "ScheduleAnyway",
    spreadAcrossZones: false,
    exposure: "internal",
    ingress: { host: "pyramidnet.localhost", rateLimitPerSecond: 20 },
    slo: { availability: 0.995, latency: { target: 0.99, thresholdSeconds: 0.25 } },
    config: { logLevel: "debug" },
  },
  // Between development and production: production's image, registry and TLS, a smaller HPA range, and the place a
  // canary runs first (rel-infra's release entries). Host and ClusterIssuer are placeholders, like production's.
  staging: {
    namespace: "pyramidnet-staging",
    imageRepository: "ghcr.io/pyramidnet/pyramidnet",
    imagePullPolicy: "Always",
    resources: {
      cpu: { request: "1", limit: "2" },
      memory: { request: "1Gi", limit: "2Gi" },
    },
    autoscaling: {
      minReplicas: 2,
      maxReplicas: 6,
      cpuUtilizationPercent: 60,
      memoryUtilizationPercent: 70,
      prometheusAdapter: true,
      requestsPerSecondPerPod: 100,
    },
    serviceType: "ClusterIP",
    nodeSpread: "DoNotSchedule",
    spreadAcrossZones: false,
    exposure: "public",
    ingress: {
      host: "pyramidnet.staging.example.com",
      rateLimitPerSecond: 50,
      tls: { clusterIssuer: "letsencrypt-prod", secretName: "pyramidnet-staging-tls" },
    },
    grpcIngress: {
      host: "grpc.pyramidnet.staging.example.com",
      rateLimitPerSecond: 50,
      tls: { clusterIssuer: "letsencrypt-prod", secretName: "pyramidnet-staging-grpc-tls" },
    },
    // Production's objectives, so a canary that would page in production pages here first.
    slo: { availability: 0.995, latency: { target: 0.99, thresholdSeconds: 0.25 } },
    config: { logLevel: "info" },
    imagePullSecrets: ["registry-credentials"],
    // Load tests run in staging from their own namespace, straight to the pods (not through the Ingress's rate limit).
    networkClients: [{ namespace: "pyramidnet-loadtest", podLabels: { "app.kubernetes.io/name": "loadtest" } }],
    verticalAutoscaling: {},
  },
  production: {
    namespace: "pyramidnet-prod",
    imageRepository: "ghcr.io/pyramidnet/pyramidnet",
    // Re-checks registry credentials on every start; the tag is pinned, so the bytes do not change.
    imagePullPolicy: "Always",
    resources: {
      cpu: { request: "1", limit: "2" },
      memory: { request: "1Gi", limit: "2Gi" },
    },
    autoscaling: {
      minReplicas: 3,
      maxReplicas: 20,
      cpuUtilizationPercent: 60,
      memoryUtilizationPercent: 70,
      prometheusAdapter: true,
      requestsPerSecondPerPod: 100,
    },
    serviceType: "ClusterIP",
    nodeSpread: "DoNotSchedule",
    spreadAcrossZones: true,
    exposure: "public",
    ingress: {
      host: "pyramidnet.example.com",
      rateLimitPerSecond: 50,
      tls: { clusterIssuer: "letsencrypt-prod", secretName: "pyramidnet-tls" },
    },
    grpcIngress: {
      host: "grpc.pyramidnet.example.com",
      rateLimitPerSecond: 50,
      tls: { clusterIssuer: "letsencrypt-prod", secretName: "pyramidnet-grpc-tls" },
    },
    slo: { availability: 0.995, latency: { target: 0.99, thresholdSeconds: 0.25 } },
    config: { logLevel: "info" },
    imagePullSecrets: ["registry-credentials"],
    verticalAutoscaling: { maxAllowed: { cpu: "4", memory: "4Gi" } },
  },
  // The same service on NVIDIA GPUs: the image's runtime-cuda build, one GPU per pod, ONNX Runtime's CUDA provider
  // with GPU batching (GPU_CONFIG_DEFAULTS). CPU still decodes every upload, so the pods get more of it.
  gpu: {
    namespace: "pyramidnet-gpu",
    imageRepository: "ghcr.io/pyramidnet/pyramidnet-cuda",
    imagePullPolicy: "Always",
    resources: {
      cpu: { request: "4", limit: "4" },
      // CUDA, cuDNN and cuBLAS hold about a gigabyte of host memory once loaded.
      memory: { request: "3Gi", limit: "4Gi" },
    },
    autoscaling: {
      minReplicas: 1,
      maxReplicas: 4,
      cpuUtilizationPercent: 70,
      memoryUtilizationPercent: 80,
      prometheusAdapter: true,
      requestsPerSecondPerPod: 400,
    },
    serviceType: "ClusterIP",
    nodeSpread: "ScheduleAnyway",
    spreadAcrossZones: false,
    exposure: "public",
    ingress: {
      host: "pyramidnet-gpu.example.com",
      rateLimitPerSecond: 200,
      tls: { clusterIssuer: "letsencrypt-prod", secretName: "pyramidnet-gpu-tls" },
    },
    // GPU batching trades a few milliseconds of queueing for throughput; the objective stays production's.
    slo: { availability: 0.995, latency: { target: 0.99, thresholdSeconds: 0.25 } },
    config: { logLevel: "info" },
    imagePullSecrets: ["registry-credentials"],
    accelerator: { runtimeClassName: "nvidia" },
    verticalAutoscaling: {},
  },
} satisfies EnvironmentTable;

/** The names of the committed table's environments, derived from the table itself. */
export type EnvironmentName = keyof typeof ENVIRONMENTS;

/** The environments in the committed table, in table order. */
export function environmentNames(): EnvironmentName[];
/** The environments in a table, in table order. */
export function environmentNames<Table extends EnvironmentTable>(table: Table): Array<keyof Table & string>;
export function environmentNames(table: EnvironmentTable = ENVIRONMENTS): string[] {
  return Object.keys(table);
}
