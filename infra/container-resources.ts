/**
 * The inference container's requests and limits: checked against each other, rendered for the pod spec, and the
 * CPU limit turned into ONNX Runtime's thread count.
 */
import { k8s } from "cdk8s-plus-28";
import { INFERENCE_SERVICE_DEFAULTS, type ContainerResources, type ResourceRange } from "./inference-service-props";
import { cpuMillicores, parseQuantity } from "./quantities";
import { CONFIG_SCHEMA } from "./service-contract";

/** Resources with every default filled in. */
export interface ResolvedResources {
  readonly cpu: ResourceRange;
  readonly memory: ResourceRange;
  readonly ephemeralStorage: ResourceRange;
}

/** Fills in the defaults and refuses a malformed quantity, a zero request or a limit below its request. */
export function resolveResources(resources: ContainerResources = INFERENCE_SERVICE_DEFAULTS.resources): ResolvedResources {
  const resolved = {
    cpu: resources.cpu,
    memory: resources.memory,
    ephemeralStorage: resources.ephemeralStorage ?? INFERENCE_SERVICE_DEFAULTS.ephemeralStorage,
  };
  assertRange(resolved.cpu, "cpu", cpuMillicores);
  assertRange(resolved.memory, "memory", parseQuantity);
  assertRange(resolved.ephemeralStorage, "ephemeral-storage", parseQuantity);
  return resolved;
}

function assertRange(range: ResourceRange, resource: string, parse: (q: string, what: string) => number): void {
  const request = parse(range.request, `${resource} request`);
  const limit = parse(range.limit, `${resource} limit`);
  if (request <= 0) throw new Error(`${resource} request "${range.request}" must be above zero`);
  if (limit < request) {
    throw new Error(`${resource} limit "${range.limit}" is below its request "${range.request}"`);
  }
}

/** The CPU limit in whole cores, which is the number of ONNX Runtime intra-op threads. */
export function threadsForCpuLimit(cpu: ResourceRange): number {
  const millicores = cpuMillicores(cpu.limit, "cpu limit");
  if (millicores < 1000 || millicores % 1000 !== 0) {
    throw new Error(
      `cpu limit "${cpu.limit}" must be whole cores (1, 2, ...): ${CONFIG_SCHEMA.intraOpThreads.name} is set to it`,
    );
  }
  return millicores / 1000;
}

/**
 * The container's `resources` field. Extended resources (GPUs) go into requests and limits alike: Kubernetes
 * refuses them unless the two are equal.
 */
export function renderResources(
  resources: ResolvedResources,
  extended: Readonly<Record<string, number>> = {},
): k8s.ResourceRequirements {
  const counts = Object.fromEntries(Object.entries(extended).map(([name, count]) => [name, k8s.Quantity.fromNumber(count)]));
  const quantities = (pick: (range: ResourceRange) => string) => ({
    cpu: k8s.Quantity.fromString(pick(resources.cpu)),
    memory: k8s.Quantity.fromString(pick(resources.memory)),
    "ephemeral-storage": k8s.Quantity.fromString(pick(resources.ephemeralStorage)),
    ...counts,
  });
  return { requests: quantities((r) => r.request), limits: quantities((r) => r.limit) };
}
