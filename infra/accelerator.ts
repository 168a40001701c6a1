/**
 * Running the classifier on a GPU: the pod asks the device plugin for GPUs, lands on GPU nodes (node selector,
 * tolerations, optionally a RuntimeClass), and the service switches ONNX Runtime to its CUDA execution provider
 * with batching that suits a GPU. Everything is checked at synth time, including the pairing of the two halves:
 * a GPU pod running the CPU provider, or the CUDA provider without a GPU, is refused.
 */
import type { k8s } from "cdk8s-plus-28";
import { assertDnsSubdomain, assertLabelKey, assertLabels, assertLabelValue } from "./labels";
import { CONFIG_SCHEMA, type ConfigOverrides } from "./service-contract";
import { assertInteger } from "./validation";

/** A node taint the pods tolerate. */
export interface TolerationProps {
  /** The taint's key. */
  readonly key: string;
  /**
   * "Exists" tolerates the key whatever its value; "Equal" only the given value.
   * @default "Exists"
   */
  readonly operator?: "Exists" | "Equal";
  /**
   * The taint's value; only with operator "Equal".
   * @default - none
   */
  readonly value?: string;
  /**
   * The taint effect tolerated.
   * @default "NoSchedule"
   */
  readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

/** GPUs for the inference pods. */
export interface AcceleratorProps {
  /**
   * GPUs per pod. ONNX Runtime runs the model on one (device 0), so more only help a future multi-GPU runner.
   * @default 1
   */
  readonly count?: number;
  /**
   * The extended resource the device plugin advertises.
   * @default "nvidia.com/gpu" (NVIDIA's device plugin and GPU operator)
   */
  readonly resourceName?: string;
  /**
   * Labels a node must have. `{}` leaves the choice to the GPU request alone.
   * @default { "nvidia.com/gpu.present": "true" } (set by NVIDIA GPU feature discovery, part of the GPU operator)
   */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /**
   * Taints of GPU nodes the pods tolerate; GPU pools are usually tainted so that other pods stay off them.
   * @default [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] (GKE's and the GPU operator's taint)
   */
  readonly tolerations?: readonly TolerationProps[];
  /**
   * The pod's RuntimeClass, where the NVIDIA container runtime is installed as a RuntimeClass rather than as the
   * node's default runtime (the GPU operator creates one named "nvidia").
   * @default - none: the node's default runtime
   */
  readonly runtimeClassName?: string;
}

/** The defaults AcceleratorProps documents. */
export const ACCELERATOR_DEFAULTS = {
  count: 1,
  resourceName: "nvidia.com/gpu",
  nodeSelector: { "nvidia.com/gpu.present": "true" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
} as const satisfies Required<Omit<AcceleratorProps, "runtimeClassName">>;

/**
 * The service configuration of a GPU pod, under the environment's own overrides: the CUDA execution provider, and
 * larger batches that wait a little to fill. For a 32x32 network a GPU's cost per batch is mostly fixed (kernel
 * launches, copies), so fuller batches should pay there where on 2 CPU cores waiting only added latency; 2 ms is far
 * inside the 10 s prediction deadline. These are starting points, not measurements (no GPU was available to this
 * project): tune them from real traffic.
 */
export const GPU_CONFIG_DEFAULTS = {
  executionProvider: "cuda",
  batchMaxSize: 128,
  batchMaxDelayMs: 2,
} as const satisfies ConfigOverrides;

/** The pod spec fields and the container resources an accelerator adds. */
export interface RenderedAccelerator {
  /** Extended resources for both requests and limits (they must be equal for extended resources). */
  readonly resources: Readonly<Record<string, number>>;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations: readonly k8s.Toleration[];
  readonly runtimeClassName?: string;
}

// An extended resource is domain/name, the domain outside kubernetes.io (reserved for built-in resources).
const EXTENDED_RESOURCE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Checks the props, fills in the defaults and renders what the pod template needs. */
export function renderAccelerator(props: AcceleratorProps): RenderedAccelerator {
  const count = props.count ?? ACCELERATOR_DEFAULTS.count;
  const resourceName = props.resourceName ?? ACCELERATOR_DEFAULTS.resourceName;
  const nodeSelector = props.nodeSelector ?? ACCELERATOR_DEFAULTS.nodeSelector;
  const tolerations = props.tolerations ?? ACCELERATOR_DEFAULTS.tolerations;
  assertInteger(count, "accelerator count", { min: 1 });
  const domain = resourceName.split("/")[0];
  if (!EXTENDED_RESOURCE.test(resourceName) || domain === "kubernetes.io" || domain.endsWith(".kubernetes.io")) {
    throw new Error(
      `accelerator resourceName "${resourceName}" must be an extended resource such as nvidia.com/gpu (domain/name, outside kubernetes.io)`,
    );
  }
  assertLabels(nodeSelector, "accelerator nodeSelector");
  if (props.runtimeClassName !== undefined) assertDnsSubdomain(props.runtimeClassName, "accelerator runtimeClassName");
  return {
    resources: { [resourceName]: count },
    nodeSelector: Object.keys(nodeSelector).length > 0 ? { ...nodeSelector } : undefined,
    tolerations: tolerations.map(renderToleration),
    runtimeClassName: props.runtimeClassName,
  };
}

function renderToleration(toleration: TolerationProps): k8s.Toleration {
  const operator = toleration.operator ?? "Exists";
  assertLabelKey(toleration.key, "accelerator toleration");
  if (operator === "Exists" && toleration.value !== undefined) {
    throw new Error(
      `accelerator toleration "${toleration.key}" has operator Exists and a value ("${toleration.value}"): use operator Equal, or drop the value`,
    );
  }
  if (operator === "Equal" && toleration.value === undefined) {
    throw new Error(`accelerator toleration "${toleration.key}" has operator Equal and no value`);
  }
  if (toleration.value !== undefined) assertLabelValue(toleration.value, `accelerator toleration "${toleration.key}" value`);
  return { key: toleration.key, operator, value: toleration.value, effect: toleration.effect ?? "NoSchedule" };
}

/**
 * The service configuration for a pod with or without GPUs: on a GPU, GPU_CONFIG_DEFAULTS under the overrides.
 * Refuses the CUDA provider without an accelerator (the service would stop at start) and an accelerator with the
 * CPU provider (the pod would hold a GPU it never uses).
 */
export function acceleratedConfig(accelerator: AcceleratorProps | undefined, overrides: ConfigOverrides): ConfigOverrides {
  const variable = CONFIG_SCHEMA.executionProvider.name;
  if (accelerator === undefined) {
    if (overrides.executionProvider === "cuda") {
      throw new Error(`${variable}=cuda needs a GPU: set accelerator (the pod requests none, so the service would stop at start)`);
    }
    return overrides;
  }
  if (overrides.executionProvider === "cpu") {
    throw new Error(`accelerator is set but ${variable}=cpu: the pod would hold a GPU it never uses (drop one of the two)`);
  }
  return { ...GPU_CONFIG_DEFAULTS, ...overrides };
}
