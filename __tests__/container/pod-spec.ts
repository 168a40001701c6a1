/**
 * What a synthesized Deployment asks of the container, read from dist/<environment>.k8s.yaml: the environment
 * its ConfigMap provides, its security context, the paths its emptyDir volumes make writable and its grace period.
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
  };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  securityContext?: { runAsUser?: number; runAsGroup?: number; runAsNonRoot?: boolean };
  volumes?: { name: string; emptyDir?: object }[];
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
  const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => v.name));
  return {
    deploymentName: deployment.metadata.name,
    env,
    runAsUser: context.runAsUser ?? NaN,
    runAsGroup: context.runAsGroup ?? NaN,
    runAsNonRoot: context.runAsNonRoot ?? false,
    readOnlyRootFilesystem: container.securityContext?.readOnlyRootFilesystem ?? false,
    allowPrivilegeEscalation: container.securityContext?.allowPrivilegeEscalation ?? true,
    droppedCapabilities: container.securityContext?.capabilities?.drop ?? [],
    emptyDirMounts: (container.volumeMounts ?? []).filter((m) => emptyDirs.has(m.name)).map((m) => m.mountPath),
    overridesCommand: container.command !== undefined || container.args !== undefined,
    terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
  };
}
