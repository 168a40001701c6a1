/**
 * The environment entry's fields that shape the pods' platform (GPUs, registry credentials, who may connect,
 * request recommendations), as InferenceService props: one spread wherever a chart builds the classifier.
 */
import type { InferenceServiceProps } from "../infra";
import type { EnvironmentSpec } from "./environments";

export function workloadOptions(
  spec: EnvironmentSpec,
): Pick<InferenceServiceProps, "accelerator" | "imagePullSecrets" | "networkAccess" | "verticalAutoscaling"> {
  return {
    accelerator: spec.accelerator,
    imagePullSecrets: spec.imagePullSecrets,
    networkAccess: spec.networkClients === undefined ? undefined : { clients: spec.networkClients },
    verticalAutoscaling: spec.verticalAutoscaling,
  };
}
