/**
 * What a synthesized Deployment asks of the container, read from dist/<environment>.k8s.yaml: the environment
 * its ConfigMap provides, its security context, the paths its emptyDir volumes make writable (and how large they
 * may grow), its resource limits and its grace period.
 */
import fs from "node:fs";
import YAML from "yaml";

export interface PodRuntime {
  readonly deploymentName: string;
  /** The ConfigMap data the container gets through envFrom, plus its literal env entries. */
  readonly env: Readonly<Record<string, string>>;
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly runAsNonRoot: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly allowPrivilegeEscalation: boolean;
  readonly droppedCapabilities: readonly string[];
  /** Mount paths backed by emptyDir volumes: the only writable places when the root filesystem is read-only. */
  readonly emptyDirMounts: readonly string[];
  /** Each emptyDir mount's sizeLimit in bytes (undefined: unlimited). */
  readonly emptyDirSizeLimits: Readonly<Record<string, number | undefined>>;
  /** The pod's or container's seccompProfile type (the container's wins), e.g. RuntimeDefault. */
  readonly seccompProfile: string | undefined;
  /** resources.limits.memory in bytes, or undefined when unlimited. */
  readonly memoryLimitBytes: number | undefined;
  /** resources.limits.cpu in cores, or undefined when unlimited. */
  readonly cpuLimit: number | undefined;
  /** Whether the container overrides the image's ENTRYPOINT/CMD. */
  readonly overridesCommand: boolean;
  readonly terminationGracePeriodSeconds: number;
}

interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: unknown;
}

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
    seccompProfile?: { type: string };
  };
  resources?: { limits?: { cpu?: string | number; memory?: string | number } };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean; seccompProfile?: { type: string } };
  volumes?: { name: string; emptyDir?: { sizeLimit?: string | number } }[];
  terminationGracePeriodSeconds?: number;
}

/**
 * The one Deployment's single container in a manifest file, as the kubelet would run it. In a file that runs release
 * tracks (one Deployment per `track` label), the Deployment whose pods serve `modelVersion` (CLASSIFIER_MODEL_VERSION):
 * the canary while a release is in progress, the stable track once it is promoted.
 */
export function readPodRuntime(manifestFile: string, modelVersion?: string): PodRuntime {
  const objects = YAML.parseAllDocuments(fs.readFileSync(manifestFile, "utf8"))
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  const all = objects.filter((o) => o.kind === "Deployment");
  const tracked = all.some((o) => o.metadata.labels?.track !== undefined);
  const runtimes = all.map((deployment) => podRuntimeOf(manifestFile, objects, deployment));
  const chosen = tracked && modelVersion !== undefined ? runtimes.filter((r) => r.env.CLASSIFIER_MODEL_VERSION === modelVersion) : runtimes;
  if (chosen.length !== 1) {
    throw new Error(`${manifestFile}: expected one Deployment${tracked ? ` serving model ${modelVersion}` : ""}, found ${chosen.length}`);
  }
  return chosen[0];
}

function podRuntimeOf(manifestFile: string, objects: readonly K8sObject[], deployment: K8sObject): PodRuntime {
  const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
  if (pod.containers.length !== 1) throw new Error(`${manifestFile}: expected one container, found ${pod.containers.length}`);
  const [container] = pod.containers;

  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (name === undefined) throw new Error(`${manifestFile}: only configMapRef envFrom sources are supported`);
    const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name);
    if (!configMap) throw new Error(`${manifestFile}: ConfigMap ${name} is referenced but not in the file`);
    Object.assign(env, configMap.data ?? {});
  }
  for (const entry of container.env ?? []) {
    if (entry.value === undefined) throw new Error(`${manifestFile}: env ${entry.name} uses valueFrom, not supported here`);
    env[entry.name] = entry.value;
  }

  // The container's securityContext wins over the pod's, field by field.
  const context = { ...pod.securityContext, ...container.securityContext };
  const emptyDirs = new Map(
    (pod.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => [v.name, v.emptyDir?.sizeLimit] as const),
  );
  const emptyDirMounts = (container.volumeMounts ?? []).filter((m) => emptyDirs.has(m.name));
  const limits = container.resources?.limits ?? {};
  return {
    deploymentName: deployment.metadata.name,
    env,
    runAsUser: context.runAsUser ?? NaN,
    runAsGroup: context.runAsGroup ?? NaN,
    runAsNonRoot: context.runAsNonRoot ?? false,
    readOnlyRootFilesystem: container.securityContext?.readOnlyRootFilesystem ?? false,
    allowPrivilegeEscalation: container.securityContext?.allowPrivilegeEscalation ?? true,
    droppedCapabilities: container.securityContext?.capabilities?.drop ?? [],
    emptyDirMounts: emptyDirMounts.map((m) => m.mountPath),
    emptyDirSizeLimits: Object.fromEntries(
      emptyDirMounts.map((m) => {
        const limit = emptyDirs.get(m.name);
        return [m.mountPath, limit === undefined ? undefined : quantityBytes(limit)];
      }),
    ),
    seccompProfile: context.seccompProfile?.type,
    memoryLimitBytes: limits.memory === undefined ? undefined : quantityBytes(limits.memory),
    cpuLimit: limits.cpu === undefined ? undefined : quantityCores(limits.cpu),
    overridesCommand: container.command !== undefined || container.args !== undefined,
    terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
  };
}

const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** A Kubernetes memory or storage quantity ("64Mi", "2G", 1024) in bytes. */
export function quantityBytes(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT]?)$/.exec(String(quantity));
  const factor = match ? (BINARY_SUFFIXES[match[2]] ?? DECIMAL_SUFFIXES[match[2]]) : undefined;
  if (!match || factor === undefined) throw new Error(`unsupported quantity "${quantity}"`);
  return Number(match[1]) * factor;
}

/** A Kubernetes CPU quantity ("2", "500m", 1.5) in cores. */
export function quantityCores(quantity: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(quantity));
  if (!match) throw new Error(`unsupported CPU quantity "${quantity}"`);
  return Number(match[1]) / (match[2] === "m" ? 1000 : 1);
}
