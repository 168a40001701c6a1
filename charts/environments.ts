/**
 * The environments the classifier is deployed to: everything that differs between them, and nothing else.
 * Adding one (say staging) is one more entry: its key names the chart, the dist/ file, the instance label and the
 * CLASSIFIER_ENVIRONMENT the pods run with, and the tests iterate over the table.
 */
import type {
  AutoscalingProps,
  ContainerResources,
  ImagePullPolicy,
  IngressTlsProps,
  ServiceType,
  SpreadPolicy,
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
  /** Service configuration besides CLASSIFIER_ENVIRONMENT (the entry's key), validated by the service's schema. */
  readonly config: Omit<ConfigOverrides, "environment">;
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
      requestsPerSecondPerPod: 100,
    },
    serviceType: "ClusterIP",
    // A one-node kind cluster must still schedule every replica.
    nodeSpread: "ScheduleAnyway",
    spreadAcrossZones: false,
    exposure: "internal",
    ingress: { host: "pyramidnet.localhost", rateLimitPerSecond: 20 },
    config: { logLevel: "debug" },
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
    config: { logLevel: "info" },
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
