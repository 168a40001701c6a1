import { createHash } from "node:crypto";
import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import {
  CONFIG_SCHEMA,
  loadConfig,
  renderEnvironment,
  type Config,
  type ConfigOverrides,
} from "../service/config/schema";
import { HTTP_CONTRACT } from "../service/contract/http";
import { METRIC_NAMES } from "../service/contract/metrics";
import { InferenceAutoscaler, type AutoscalingProps } from "./autoscaling";
import { renderImage, type ImageReference } from "./image";
import { assertDnsLabel, assertLabelValue, selectorLabels, standardLabels } from "./labels";
import { PodIngressPolicy, type NetworkAccessProps } from "./network-policy";
import { renderHttpProbe, type ExposedPort, type ProbesProps } from "./probes";
import { cpuMillicores, parseQuantity } from "./quantities";
import { ServiceMonitor } from "./service-monitor";

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
  /** The image to run; the tag also becomes the app.kubernetes.io/version label. */
  readonly image: ImageReference;
  /**
   * When the kubelet pulls the image.
   * @default "IfNotPresent"
   */
  readonly imagePullPolicy?: ImagePullPolicy;
  /**
   * Requests and limits.
   * @default - cpu 500m/1, memory 512Mi/1Gi, ephemeral storage 64Mi/256Mi (request/limit)
   */
  readonly resources?: ContainerResources;
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

/** What an Ingress needs to route to a Service. */
export interface HttpBackend {
  readonly namespace: string;
  readonly serviceName: string;
  readonly servicePortName: string;
  /** Largest request body the backend accepts, in bytes. */
  readonly maxRequestBytes: number;
}

const CONTAINER_NAME = "classifier";
const DEFAULT_RESOURCES: ContainerResources = {
  cpu: { request: "500m", limit: "1" },
  memory: { request: "512Mi", limit: "1Gi" },
};
const DEFAULT_EPHEMERAL_STORAGE: ResourceRange = { request: "64Mi", limit: "256Mi" };

/**
 * The PyramidNet classifier on Kubernetes: ConfigMap (rendered from the service's config schema), Deployment,
 * Service, optional HPA, PodDisruptionBudget (more than one replica), NetworkPolicy and ServiceMonitor.
 *
 * Every name and selector comes from the props, never from construct ids, and every impossible setting is refused
 * at synth time with an error that names it.
 */
export class InferenceService extends Construct implements HttpBackend {
  readonly namespace: string;
  readonly name: string;
  readonly serviceName: string;
  readonly servicePortName: string = HTTP_CONTRACT.portName;
  readonly maxRequestBytes: number;
  /** Labels that select the pods. */
  readonly selector: Readonly<Record<string, string>>;
  /** The app.kubernetes.io labels on every object (a superset of the selector). */
  readonly labels: Readonly<Record<string, string>>;
  /** The validated configuration the pods run with. */
  readonly config: Config;
  /** The ConfigMap's data: every CLASSIFIER_* variable. */
  readonly environment: Readonly<Record<string, string>>;

  readonly configMap: k8s.KubeConfigMap;
  readonly deployment: k8s.KubeDeployment;
  readonly service: k8s.KubeService;
  readonly autoscaler?: InferenceAutoscaler;
  readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  readonly networkPolicy: PodIngressPolicy;
  readonly serviceMonitor: ServiceMonitor;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    const name = props.name ?? "pyramidnet";
    const instance = props.instance ?? name;
    assertDnsLabel(props.namespace, "namespace");
    assertDnsLabel(name, "name");
    assertLabelValue(instance, "instance");
    this.namespace = props.namespace;
    this.name = name;
    this.serviceName = name;

    const image = renderImage(props.image);
    // The tag doubles as the app.kubernetes.io/version label, which is stricter (63 characters).
    assertLabelValue(props.image.tag, "image tag (used as the app.kubernetes.io/version label)");
    const identity = {
      name,
      instance,
      version: props.image.tag,
      component: "inference-server",
      partOf: props.partOf ?? "pyramidnet",
    };
    this.selector = selectorLabels(identity);
    const labels = standardLabels(identity);
    this.labels = labels;
    const metadata = (objectName: string) => ({ name: objectName, namespace: props.namespace, labels: { ...labels } });

    const resources = props.resources ?? DEFAULT_RESOURCES;
    const ephemeral = resources.ephemeralStorage ?? DEFAULT_EPHEMERAL_STORAGE;
    assertRange(resources.cpu, "cpu", cpuMillicores);
    assertRange(resources.memory, "memory", parseQuantity);
    assertRange(ephemeral, "ephemeral-storage", parseQuantity);
    const intraOpThreads = threadsForCpuLimit(resources.cpu);
    this.environment = renderConfig(props.config ?? {}, intraOpThreads);
    this.config = loadConfig(this.environment);
    this.maxRequestBytes = this.config.maxRequestSize;

    const terminationGracePeriodSeconds = props.terminationGracePeriodSeconds ?? 30;
    if (!Number.isInteger(terminationGracePeriodSeconds) || terminationGracePeriodSeconds < 1) {
      throw new Error(`terminationGracePeriodSeconds must be a positive integer, got ${terminationGracePeriodSeconds}`);
    }
    const preStopDelaySeconds = props.preStopDelaySeconds ?? 5;
    if (!Number.isInteger(preStopDelaySeconds) || preStopDelaySeconds < 0) {
      throw new Error(`preStopDelaySeconds must be a non-negative integer, got ${preStopDelaySeconds}`);
    }
    // The kubelet's grace period covers the preStop pause and then the service's own drain.
    if (preStopDelaySeconds * 1000 + this.config.shutdownGraceMs >= terminationGracePeriodSeconds * 1000) {
      throw new Error(
        `preStopDelaySeconds (${preStopDelaySeconds} s) + ${CONFIG_SCHEMA.shutdownGraceMs.name} ` +
          `(${this.config.shutdownGraceMs} ms) must be shorter than terminationGracePeriodSeconds ` +
          `(${terminationGracePeriodSeconds} s), or the kubelet kills in-flight requests`,
      );
    }

    if (props.replicas !== undefined && props.autoscaling !== undefined) {
      throw new Error("set either replicas or autoscaling, not both: the HPA owns the replica count");
    }
    const replicas = props.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`replicas must be a positive integer, got ${replicas}`);
    }

    const serviceType = props.serviceType ?? "ClusterIP";
    if (props.loadBalancerSourceRanges !== undefined && serviceType !== "LoadBalancer") {
      throw new Error("loadBalancerSourceRanges needs serviceType LoadBalancer");
    }
    const sourceRanges = serviceType === "LoadBalancer" ? (props.loadBalancerSourceRanges ?? ["0.0.0.0/0"]) : [];
    const servicePort = props.servicePort ?? 80;
    assertPort(servicePort, "servicePort");

    const containerPort: ExposedPort = { name: HTTP_CONTRACT.portName, containerPort: this.config.port };
    const exposed = [containerPort];
    assertDistinctProbes(props.probes);

    // ConfigMap -------------------------------------------------------------------------------------------------
    const configMapName = `${name}-config`;
    this.configMap = new k8s.KubeConfigMap(this, "ConfigMap", {
      metadata: metadata(configMapName),
      data: { ...this.environment },
    });

    // Deployment ------------------------------------------------------------------------------------------------
    const writablePaths = props.writablePaths ?? ["/tmp"];
    const volumes = writableVolumes(writablePaths, props.writableVolumeSize ?? "64Mi");

    const spread = (topologyKey: string, whenUnsatisfiable: SpreadPolicy): k8s.TopologySpreadConstraint => ({
      maxSkew: 1,
      topologyKey,
      whenUnsatisfiable,
      labelSelector: { matchLabels: { ...this.selector } },
      // Counts only pods of the same ReplicaSet, so a rollout spreads the new pods rather than the sum of both.
      matchLabelKeys: ["pod-template-hash"],
    });

    this.deployment = new k8s.KubeDeployment(this, "Deployment", {
      metadata: metadata(name),
      spec: {
        replicas: props.autoscaling ? undefined : replicas,
        selector: { matchLabels: { ...this.selector } },
        strategy: {
          type: "RollingUpdate",
          // Capacity never drops during a rollout: a new pod must be ready before an old one goes.
          rollingUpdate: { maxSurge: k8s.IntOrString.fromNumber(1), maxUnavailable: k8s.IntOrString.fromNumber(0) },
        },
        template: {
          metadata: {
            labels: { ...labels },
            annotations: {
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(containerPort.containerPort),
              "prometheus.io/path": HTTP_CONTRACT.metricsPath,
              // envFrom is read once at container start: a config change must roll the pods.
              "checksum/config": checksum(this.environment),
            },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              fsGroup: 1000,
              seccompProfile: { type: "RuntimeDefault" },
            },
            topologySpreadConstraints: [
              spread("kubernetes.io/hostname", props.nodeSpread ?? "ScheduleAnyway"),
              ...(props.spreadAcrossZones ? [spread("topology.kubernetes.io/zone", "ScheduleAnyway")] : []),
            ],
            containers: [
              {
                name: CONTAINER_NAME,
                image,
                imagePullPolicy: props.imagePullPolicy ?? "IfNotPresent",
                ports: [{ name: containerPort.name, containerPort: containerPort.containerPort, protocol: "TCP" }],
                envFrom: [{ configMapRef: { name: configMapName } }],
                lifecycle:
                  preStopDelaySeconds > 0
                    ? { preStop: { exec: { command: ["sleep", String(preStopDelaySeconds)] } } }
                    : undefined,
                resources: {
                  requests: {
                    cpu: k8s.Quantity.fromString(resources.cpu.request),
                    memory: k8s.Quantity.fromString(resources.memory.request),
                    "ephemeral-storage": k8s.Quantity.fromString(ephemeral.request),
                  },
                  limits: {
                    cpu: k8s.Quantity.fromString(resources.cpu.limit),
                    memory: k8s.Quantity.fromString(resources.memory.limit),
                    "ephemeral-storage": k8s.Quantity.fromString(ephemeral.limit),
                  },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  privileged: false,
                  runAsNonRoot: true,
                  capabilities: { drop: ["ALL"] },
                },
                startupProbe: renderHttpProbe(
                  "startup",
                  props.probes?.startup,
                  { path: HTTP_CONTRACT.probes.startup, port: containerPort.name, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
                  exposed,
                ),
                livenessProbe: renderHttpProbe(
                  "liveness",
                  props.probes?.liveness,
                  { path: HTTP_CONTRACT.probes.live, port: containerPort.name, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  exposed,
                ),
                readinessProbe: renderHttpProbe(
                  "readiness",
                  props.probes?.readiness,
                  { path: HTTP_CONTRACT.probes.ready, port: containerPort.name, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
                  exposed,
                ),
                volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: v.mountPath })),
              },
            ],
            volumes: volumes.map((v) => ({
              name: v.name,
              emptyDir: { sizeLimit: k8s.Quantity.fromString(v.sizeLimit) },
            })),
          },
        },
      },
    });

    // Service ---------------------------------------------------------------------------------------------------
    this.service = new k8s.KubeService(this, "Service", {
      metadata: metadata(name),
      spec: {
        type: serviceType,
        selector: { ...this.selector },
        ports: [
          {
            name: this.servicePortName,
            port: servicePort,
            targetPort: k8s.IntOrString.fromString(containerPort.name),
            protocol: "TCP",
          },
        ],
        ...(serviceType === "LoadBalancer"
          ? // Local keeps the client's address, which the NetworkPolicy's ipBlock rule and rate limits need.
            { externalTrafficPolicy: "Local", loadBalancerSourceRanges: [...sourceRanges] }
          : {}),
      },
    });

    // Autoscaling and disruption budget -------------------------------------------------------------------------
    if (props.autoscaling) {
      this.autoscaler = new InferenceAutoscaler(this, "Autoscaler", {
        ...props.autoscaling,
        name,
        namespace: props.namespace,
        labels,
        deploymentName: name,
        requestsPerSecondMetric: METRIC_NAMES.requestsPerSecond,
      });
    }
    const fewestReplicas = this.autoscaler?.minReplicas ?? replicas;
    if (fewestReplicas > 1) {
      this.podDisruptionBudget = new k8s.KubePodDisruptionBudget(this, "DisruptionBudget", {
        metadata: metadata(name),
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: { ...this.selector } },
          // A crash-looping pod must not block node drains.
          unhealthyPodEvictionPolicy: "AlwaysAllow",
        },
      });
    }

    // NetworkPolicy ---------------------------------------------------------------------------------------------
    this.networkPolicy = new PodIngressPolicy(this, "NetworkPolicy", {
      metadata: metadata(name),
      podSelector: this.selector,
      port: containerPort.containerPort,
      access: props.networkAccess,
      sourceRanges,
    });

    // ServiceMonitor --------------------------------------------------------------------------------------------
    this.serviceMonitor = new ServiceMonitor(this, "ServiceMonitor", {
      name,
      namespace: props.namespace,
      labels: { ...labels, ...(props.monitoring?.serviceMonitorLabels ?? { release: "kube-prometheus-stack" }) },
      serviceSelector: this.selector,
      portName: this.servicePortName,
      path: HTTP_CONTRACT.metricsPath,
      interval: props.monitoring?.scrapeInterval,
    });
  }
}

/** The CPU limit in whole cores, which is the number of ONNX Runtime intra-op threads. */
function threadsForCpuLimit(cpu: ResourceRange): number {
  const millicores = cpuMillicores(cpu.limit, "cpu limit");
  if (millicores < 1000 || millicores % 1000 !== 0) {
    throw new Error(
      `cpu limit "${cpu.limit}" must be whole cores (1, 2, ...): ${CONFIG_SCHEMA.intraOpThreads.name} is set to it`,
    );
  }
  return millicores / 1000;
}

/** The ConfigMap data, validated by the service's own validator; errors name the variable. */
function renderConfig(overrides: ConfigOverrides, intraOpThreads: number): Record<string, string> {
  if (overrides.intraOpThreads !== undefined && overrides.intraOpThreads !== intraOpThreads) {
    throw new Error(
      `${CONFIG_SCHEMA.intraOpThreads.name}=${overrides.intraOpThreads} does not match the cpu limit ` +
        `(${intraOpThreads} ${intraOpThreads === 1 ? "core" : "cores"}): leave it unset, it is derived from the limit`,
    );
  }
  try {
    return renderEnvironment({ ...overrides, intraOpThreads });
  } catch (error) {
    throw new Error(`config overrides rejected by the service's validator: ${(error as Error).message}`);
  }
}

function assertRange(range: ResourceRange, resource: string, parse: (q: string, what: string) => number): void {
  const request = parse(range.request, `${resource} request`);
  const limit = parse(range.limit, `${resource} limit`);
  if (request <= 0) throw new Error(`${resource} request "${range.request}" must be above zero`);
  if (limit < request) {
    throw new Error(`${resource} limit "${range.limit}" is below its request "${range.request}"`);
  }
}

interface WritableVolume {
  readonly name: string;
  readonly mountPath: string;
  readonly sizeLimit: string;
}

function writableVolumes(paths: readonly string[], sizeLimit: string): WritableVolume[] {
  if (parseQuantity(sizeLimit, "writableVolumeSize") <= 0) throw new Error("writableVolumeSize must be above zero");
  const volumes = paths.map((mountPath) => {
    if (!/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(mountPath) || mountPath.includes("..")) {
      throw new Error(`writable path "${mountPath}" must be an absolute directory other than /`);
    }
    const name = mountPath.slice(1).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    return { name: name.slice(0, 63), mountPath, sizeLimit };
  });
  const names = new Set(volumes.map((v) => v.name));
  if (names.size !== volumes.length) throw new Error(`writable paths ${paths.join(", ")} repeat or collide`);
  return volumes;
}

/** Liveness and readiness must be different checks: one restarts the pod, the other only takes it out of rotation. */
function assertDistinctProbes(probes: ProbesProps | undefined): void {
  const live = probes?.liveness?.path ?? HTTP_CONTRACT.probes.live;
  const ready = probes?.readiness?.path ?? HTTP_CONTRACT.probes.ready;
  if (live === ready) {
    throw new Error(
      `liveness and readiness probes both check ${live}: a readiness failure (overload, draining) would restart the pod`,
    );
  }
}

function assertPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} must be 1-65535, got ${port}`);
}

function checksum(data: Readonly<Record<string, string>>): string {
  const canonical = JSON.stringify(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)));
  return createHash("sha256").update(canonical).digest("hex");
}
