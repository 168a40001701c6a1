/**
 * The Props of InferenceService and the defaults they document, written once: the constructs read the defaults
 * from INFERENCE_SERVICE_DEFAULTS, so a documented default and the synthesized value cannot differ.
 */
import type { AcceleratorProps } from "./accelerator";
import type { AutoscalingProps } from "./autoscaling";
import type { ReleaseTrack } from "./canary-analysis";
import type { ImageReference } from "./image";
import type { NetworkAccessProps } from "./network-policy";
import type { ProbesProps } from "./probes";
import type { ConfigOverrides } from "./service-contract";
import type { VerticalAutoscalingProps } from "./vertical-autoscaler";

/** A request and a limit of one resource, as Kubernetes quantities. */
export interface ResourceRange {
  /** What the scheduler reserves, for example "500m" or "512Mi". */
  readonly request: string;
  /** The most the container may use; at least the request. */
  readonly limit: string;
}

/** The inference container's resources. */
export interface ContainerResources {
  /**
   * CPU. The limit must be whole cores: ONNX Runtime runs that many intra-op threads
   * (CLASSIFIER_ORT_INTRA_OP_THREADS), and more threads than cores only adds throttling.
   */
  readonly cpu: ResourceRange;
  /** Memory. */
  readonly memory: ResourceRange;
  /**
   * Local ephemeral storage (container writable layer, logs and the emptyDir volumes).
   * @default { request: "64Mi", limit: "256Mi" }
   */
  readonly ephemeralStorage?: ResourceRange;
}

/** How Prometheus finds the service. */
export interface MonitoringProps {
  /**
   * Labels on the ServiceMonitor that the Prometheus serviceMonitorSelector matches.
   * @default { release: "kube-prometheus-stack" } (kube-prometheus-stack's default selector)
   */
  readonly serviceMonitorLabels?: Readonly<Record<string, string>>;
  /**
   * Scrape interval.
   * @default "15s"
   */
  readonly scrapeInterval?: string;
}

export type ServiceType = "ClusterIP" | "LoadBalancer";
export type ImagePullPolicy = "Always" | "IfNotPresent" | "Never";
export type SpreadPolicy = "ScheduleAnyway" | "DoNotSchedule";

export interface InferenceServiceProps {
  /** Namespace of every object. */
  readonly namespace: string;
  /**
   * Name of the Deployment, Service, HPA, PDB, NetworkPolicy and ServiceMonitor (the ConfigMap adds "-config"),
   * and the app.kubernetes.io/name label.
   * @default "pyramidnet"
   */
  readonly name?: string;
  /**
   * The app.kubernetes.io/instance label; with the name it forms every selector, so it must never change for a
   * running deployment.
   * @default - the name
   */
  readonly instance?: string;
  /**
   * The app.kubernetes.io/part-of label.
   * @default "pyramidnet"
   */
  readonly partOf?: string;
  /**
   * The release track these objects serve. Adds the label `track: <track>` to every object and to every selector,
   * suffixes every object name with `-<track>` (pyramidnet-stable, pyramidnet-stable-config, ...) and has
   * Prometheus copy the pod's track label onto its series (podTargetLabels), so a stable and a canary of one
   * instance run side by side. The selectors name the track, not the version: they stay the same when a new
   * version is promoted.
   * @default - no track: one set of objects named `name`, selected by name and instance
   */
  readonly track?: ReleaseTrack;
  /**
   * The one model version the pods serve: CLASSIFIER_MODEL_VERSION in the ConfigMap, and
   * CLASSIFIER_MODEL_VERSION_POLICY `specific:<version>` unless `config` names a policy.
   * @default - the service's defaults (config.modelVersion and config.modelVersionPolicy, if set)
   */
  readonly modelVersion?: string;
  /** The image to run; the tag also becomes the app.kubernetes.io/version label. */
  readonly image: ImageReference;
  /**
   * When the kubelet pulls the image.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: ImagePullPolicy;
  /**
   * Secrets (type kubernetes.io/dockerconfigjson, in the same namespace) the kubelet pulls the image with, for a
   * private registry. The pods run as their own ServiceAccount (named like the Deployment, token not mounted).
   * @default [] (anonymous pulls, or the node's own registry credentials)
   */
  readonly imagePullSecrets?: readonly string[];
  /**
   * Requests and limits.
   * @default - cpu 500m/1, memory 512Mi/1Gi, ephemeral storage 64Mi/256Mi (request/limit)
   */
  readonly resources?: ContainerResources;
  /**
   * GPUs: the pods request them, land on GPU nodes, and the service runs ONNX Runtime's CUDA execution provider
   * with GPU_CONFIG_DEFAULTS (batching) under `config`. `config.executionProvider` "cpu" is then refused, and
   * "cuda" without an accelerator too.
   * @default - none: CPU only
   */
  readonly accelerator?: AcceleratorProps;
  /**
   * Service configuration that differs from the schema's defaults, validated by the service's own loadConfig at
   * synth time. CLASSIFIER_ORT_INTRA_OP_THREADS is derived from the CPU limit; setting it to anything else is refused.
   * @default {} (every variable at its schema default, threads from the CPU limit)
   */
  readonly config?: ConfigOverrides;
  /**
   * Fixed replica count, for a Deployment without an HPA. Refused together with `autoscaling`.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Attach an HPA; the Deployment then leaves `replicas` unset so a re-apply does not fight the HPA.
   * @default - no HPA: the Deployment runs `replicas` pods
   */
  readonly autoscaling?: AutoscalingProps;
  /**
   * A VerticalPodAutoscaler in recommendation mode (updateMode "Off"), to size requests from real use; it never
   * changes a pod, so it cannot fight the HPA. Needs the VPA's CRD and recommender in the cluster.
   * @default - none
   */
  readonly verticalAutoscaling?: VerticalAutoscalingProps;
  /**
   * Probe targets and timings.
   * @default - startup, liveness and readiness on the service's paths and port "http" (see HttpProbeSettings)
   */
  readonly probes?: ProbesProps;
  /**
   * Service type. A LoadBalancer also admits `loadBalancerSourceRanges` in the NetworkPolicy.
   * @default "ClusterIP"
   */
  readonly serviceType?: ServiceType;
  /**
   * Port the Service listens on (it forwards to the container's named port "http").
   * @default 80
   */
  readonly servicePort?: number;
  /**
   * Port the Service listens on for gRPC (named "grpc", appProtocol grpc; it forwards to the container's named
   * port "grpc"). Only used while the configuration serves gRPC (CLASSIFIER_GRPC_ENABLED, the default).
   * @default 8001
   */
  readonly grpcServicePort?: number;
  /**
   * Client CIDRs a LoadBalancer Service admits (Service and NetworkPolicy). Only with serviceType LoadBalancer.
   * @default ["0.0.0.0/0"] when serviceType is LoadBalancer
   */
  readonly loadBalancerSourceRanges?: readonly string[];
  /**
   * Who may reach the pods.
   * @default - the ingress controller's namespace and Prometheus (see NetworkAccessProps)
   */
  readonly networkAccess?: NetworkAccessProps;
  /**
   * ServiceMonitor settings.
   * @default - see MonitoringProps
   */
  readonly monitoring?: MonitoringProps;
  /**
   * Paths the service writes to; each gets an emptyDir, since the root filesystem is read-only.
   * @default ["/tmp"]
   */
  readonly writablePaths?: readonly string[];
  /**
   * Size limit of each emptyDir.
   * @default "64Mi"
   */
  readonly writableVolumeSize?: string;
  /**
   * Seconds between SIGTERM and SIGKILL. Must exceed CLASSIFIER_SHUTDOWN_GRACE_MS, or in-flight requests are cut off.
   * @default 30
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * Seconds the container keeps serving after Kubernetes decides to stop it, before it gets SIGTERM (a preStop
   * sleep). Endpoint removal reaches kube-proxy and the ingress controller asynchronously; without this pause
   * they may still send new connections to a pod that has already closed its listener. 0 disables it.
   * @default 5
   */
  readonly preStopDelaySeconds?: number;
  /**
   * What the scheduler does when it cannot spread pods evenly across nodes (maxSkew 1).
   * @default "ScheduleAnyway"
   */
  readonly nodeSpread?: SpreadPolicy;
  /**
   * Also spread across zones (topology.kubernetes.io/zone), best effort.
   * @default false
   */
  readonly spreadAcrossZones?: boolean;
}

/** The defaults the Props above document. */
export const INFERENCE_SERVICE_DEFAULTS = {
  name: "pyramidnet",
  partOf: "pyramidnet",
  imagePullPolicy: "IfNotPresent",
  imagePullSecrets: [],
  resources: {
    cpu: { request: "500m", limit: "1" },
    memory: { request: "512Mi", limit: "1Gi" },
  },
  ephemeralStorage: { request: "64Mi", limit: "256Mi" },
  replicas: 1,
  serviceType: "ClusterIP",
  servicePort: 80,
  grpcServicePort: 8001,
  loadBalancerSourceRanges: ["0.0.0.0/0"],
  serviceMonitorLabels: { release: "kube-prometheus-stack" },
  writablePaths: ["/tmp"],
  writableVolumeSize: "64Mi",
  terminationGracePeriodSeconds: 30,
  preStopDelaySeconds: 5,
  nodeSpread: "ScheduleAnyway",
  spreadAcrossZones: false,
} as const satisfies {
  readonly imagePullPolicy: ImagePullPolicy;
  readonly resources: ContainerResources;
  readonly ephemeralStorage: ResourceRange;
  readonly serviceType: ServiceType;
  readonly nodeSpread: SpreadPolicy;
  readonly [setting: string]: unknown;
};
