/**
 * The inference pod template: one hardened container (non-root, read-only root, no capabilities), its resources,
 * probes and writable volumes, the shutdown timing, and how the pods spread over nodes and zones.
 */
import { k8s } from "cdk8s-plus-28";
import type { RenderedAccelerator } from "./accelerator";
import { renderResources, type ResolvedResources } from "./container-resources";
import type { ImagePullPolicy, SpreadPolicy } from "./inference-service-props";
import { renderInferenceProbes, type ExposedPort, type ProbesProps } from "./probes";
import { CONFIG_SCHEMA, HTTP_CONTRACT } from "./service-contract";
import { assertInteger } from "./validation";
import { renderVolumeMounts, renderVolumes, type WritableVolume } from "./writable-volumes";

/** The container's name in every pod. */
export const CONTAINER_NAME = "classifier";

/** How long a pod has to stop, checked against the service's own drain. */
export interface ShutdownTiming {
  /** Seconds between SIGTERM and SIGKILL. */
  readonly terminationGracePeriodSeconds: number;
  /** Seconds of preStop sleep before SIGTERM; 0 for none. */
  readonly preStopDelaySeconds: number;
}

/**
 * Refuses timings the kubelet would cut short: the grace period covers the preStop pause and then the service's
 * own drain (CLASSIFIER_SHUTDOWN_GRACE_MS), or in-flight requests are killed.
 */
export function assertShutdownTiming(timing: ShutdownTiming, shutdownGraceMs: number): void {
  const { terminationGracePeriodSeconds, preStopDelaySeconds } = timing;
  assertInteger(terminationGracePeriodSeconds, "terminationGracePeriodSeconds", { min: 1 });
  assertInteger(preStopDelaySeconds, "preStopDelaySeconds", { min: 0 });
  if (preStopDelaySeconds * 1000 + shutdownGraceMs >= terminationGracePeriodSeconds * 1000) {
    throw new Error(
      `preStopDelaySeconds (${preStopDelaySeconds} s) + ${CONFIG_SCHEMA.shutdownGraceMs.name} ` +
        `(${shutdownGraceMs} ms) must be shorter than terminationGracePeriodSeconds ` +
        `(${terminationGracePeriodSeconds} s), or the kubelet kills in-flight requests`,
    );
  }
}

/** Everything the pod template is built from, already validated and with defaults applied. */
export interface PodTemplateInputs {
  /** Labels of the pods (a superset of the selector). */
  readonly labels: Readonly<Record<string, string>>;
  /** Labels that select the pods, for the spread constraints. */
  readonly selector: Readonly<Record<string, string>>;
  /** The rendered image reference. */
  readonly image: string;
  readonly imagePullPolicy: ImagePullPolicy;
  /** The ConfigMap the container takes its environment from. */
  readonly configMapName: string;
  /** Checksum of that ConfigMap's data: a change rolls the pods (envFrom is read once at container start). */
  readonly configChecksum: string;
  /** The HTTP port: probes, metrics and the REST API. */
  readonly port: ExposedPort;
  /** Further ports the container exposes (gRPC). @default [] */
  readonly extraPorts?: readonly ExposedPort[];
  readonly resources: ResolvedResources;
  readonly probes?: ProbesProps;
  readonly volumes: readonly WritableVolume[];
  readonly shutdown: ShutdownTiming;
  /** What the scheduler does when it cannot spread pods evenly across nodes. */
  readonly nodeSpread: SpreadPolicy;
  /** Whether pods also spread across zones, best effort. */
  readonly spreadAcrossZones: boolean;
  /** The ServiceAccount the pods run as. */
  readonly serviceAccountName: string;
  /** Secrets for pulling the image, already checked. */
  readonly imagePullSecrets?: readonly k8s.LocalObjectReference[];
  /** GPUs, node selection and runtime class, when the pods run on GPUs. */
  readonly accelerator?: RenderedAccelerator;
}

/** Pod-level security: a fixed non-root uid/gid that owns the volumes, and the runtime's default seccomp profile. */
export const POD_SECURITY_CONTEXT: k8s.PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  fsGroup: 1000,
  seccompProfile: { type: "RuntimeDefault" },
};

/** Container-level security: what the restricted Pod Security Standard requires, and a read-only root. */
export const CONTAINER_SECURITY_CONTEXT: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
};

/** The Deployment's pod template. */
export function renderPodTemplate(inputs: PodTemplateInputs): k8s.PodTemplateSpec {
  const spread = (topologyKey: string, whenUnsatisfiable: SpreadPolicy): k8s.TopologySpreadConstraint => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable,
    labelSelector: { matchLabels: { ...inputs.selector } },
    // Counts only pods of the same ReplicaSet, so a rollout spreads the new pods rather than the sum of both.
    matchLabelKeys: ["pod-template-hash"],
  });
  return {
    metadata: {
      labels: { ...inputs.labels },
      annotations: {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": String(inputs.port.containerPort),
        "prometheus.io/path": HTTP_CONTRACT.metricsPath,
        "checksum/config": inputs.configChecksum,
      },
    },
    spec: {
      serviceAccountName: inputs.serviceAccountName,
      automountServiceAccountToken: false,
      imagePullSecrets: inputs.imagePullSecrets === undefined ? undefined : [...inputs.imagePullSecrets],
      runtimeClassName: inputs.accelerator?.runtimeClassName,
      nodeSelector: inputs.accelerator?.nodeSelector === undefined ? undefined : { ...inputs.accelerator.nodeSelector },
      tolerations: inputs.accelerator === undefined ? undefined : [...inputs.accelerator.tolerations],
      enableServiceLinks: false,
      terminationGracePeriodSeconds: inputs.shutdown.terminationGracePeriodSeconds,
      securityContext: POD_SECURITY_CONTEXT,
      topologySpreadConstraints: [
        spread("kubernetes.io/hostname", inputs.nodeSpread),
        ...(inputs.spreadAcrossZones ? [spread("topology.kubernetes.io/zone", "ScheduleAnyway")] : []),
      ],
      containers: [renderContainer(inputs)],
      volumes: renderVolumes(inputs.volumes),
    },
  };
}

function renderContainer(inputs: PodTemplateInputs): k8s.Container {
  const { preStopDelaySeconds } = inputs.shutdown;
  return {
    name: CONTAINER_NAME,
    image: inputs.image,
    imagePullPolicy: inputs.imagePullPolicy,
    ports: [inputs.port, ...(inputs.extraPorts ?? [])].map(({ name, containerPort }) => ({ name, containerPort, protocol: "TCP" })),
    envFrom: [{ configMapRef: { name: inputs.configMapName } }],
    lifecycle:
      preStopDelaySeconds > 0 ? { preStop: { exec: { command: ["sleep", String(preStopDelaySeconds)] } } } : undefined,
    resources: renderResources(inputs.resources, inputs.accelerator?.resources),
    securityContext: CONTAINER_SECURITY_CONTEXT,
    ...renderInferenceProbes(inputs.probes, inputs.port),
    volumeMounts: renderVolumeMounts(inputs.volumes),
  };
}
