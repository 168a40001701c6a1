/**
 * A VerticalPodAutoscaler in recommendation mode: the VPA recommender watches the pods' real CPU and memory use and
 * publishes requests it would set (`kubectl describe vpa`), but never evicts or resizes a pod. Acting on it is left
 * to a person: in any mode that applies requests the VPA would fight the HPA, which scales on CPU and memory use
 * relative to those same requests.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";
import { cpuMillicores, parseQuantity } from "./quantities";

/** The resources a VPA can recommend for. */
export type RecommendedResource = "cpu" | "memory";

/** Bounds of the recommendations, as Kubernetes quantities. */
export interface RecommendationBounds {
  /** @default - no bound */
  readonly cpu?: string;
  /** @default - no bound */
  readonly memory?: string;
}

/** What the recommendations cover and how far they may go. */
export interface VerticalAutoscalingProps {
  /**
   * Resources recommended.
   * @default ["cpu", "memory"]
   */
  readonly controlledResources?: readonly RecommendedResource[];
  /**
   * The smallest requests recommended.
   * @default - no minimum
   */
  readonly minAllowed?: RecommendationBounds;
  /**
   * The largest requests recommended; keep them within what one node offers, or a recommendation cannot be applied.
   * @default - no maximum
   */
  readonly maxAllowed?: RecommendationBounds;
}

/** The defaults VerticalAutoscalingProps documents. */
export const VERTICAL_AUTOSCALING_DEFAULTS = {
  controlledResources: ["cpu", "memory"],
} as const satisfies Pick<Required<VerticalAutoscalingProps>, "controlledResources">;

export interface RequestRecommenderProps extends VerticalAutoscalingProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The Deployment (apps/v1) whose pods it watches. */
  readonly deploymentName: string;
  /** The container it recommends for. */
  readonly containerName: string;
}

/** The spec of an autoscaling.k8s.io/v1 VerticalPodAutoscaler, as far as this construct writes it. */
export interface VerticalPodAutoscalerSpec {
  readonly targetRef: { readonly apiVersion: string; readonly kind: string; readonly name: string };
  readonly updatePolicy: { readonly updateMode: "Off" };
  readonly resourcePolicy: {
    readonly containerPolicies: ReadonlyArray<{
      readonly containerName: string;
      readonly controlledResources: readonly RecommendedResource[];
      readonly minAllowed?: RecommendationBounds;
      readonly maxAllowed?: RecommendationBounds;
    }>;
  };
}

/** An autoscaling.k8s.io/v1 VerticalPodAutoscaler with updateMode "Off": recommendations only. */
export class RequestRecommender extends Construct {
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: RequestRecommenderProps) {
    super(scope, id);
    const controlled = props.controlledResources ?? VERTICAL_AUTOSCALING_DEFAULTS.controlledResources;
    if (controlled.length === 0) throw new Error("verticalAutoscaling controlledResources is empty: name cpu, memory or both");
    if (new Set(controlled).size !== controlled.length) {
      throw new Error(`verticalAutoscaling controlledResources repeats a resource (${controlled.join(", ")})`);
    }
    assertBounds(props.minAllowed, props.maxAllowed, controlled);

    const spec: VerticalPodAutoscalerSpec = {
      targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: props.deploymentName },
      updatePolicy: { updateMode: "Off" },
      resourcePolicy: {
        containerPolicies: [
          {
            containerName: props.containerName,
            controlledResources: [...controlled],
            ...(props.minAllowed === undefined ? {} : { minAllowed: { ...props.minAllowed } }),
            ...(props.maxAllowed === undefined ? {} : { maxAllowed: { ...props.maxAllowed } }),
          },
        ],
      },
    };
    this.apiObject = new ApiObject(this, "Resource", {
      apiVersion: "autoscaling.k8s.io/v1",
      kind: "VerticalPodAutoscaler",
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
      spec,
    });
  }
}

const PARSE: Readonly<Record<RecommendedResource, (quantity: string, what: string) => number>> = {
  cpu: cpuMillicores,
  memory: parseQuantity,
};

/** Refuses malformed or zero bounds, a bound on a resource not recommended, and a minimum above its maximum. */
function assertBounds(
  min: RecommendationBounds | undefined,
  max: RecommendationBounds | undefined,
  controlled: readonly RecommendedResource[],
): void {
  for (const resource of ["cpu", "memory"] as const) {
    const parsed = { min: min?.[resource], max: max?.[resource] };
    for (const [bound, quantity] of Object.entries(parsed)) {
      if (quantity === undefined) continue;
      if (!controlled.includes(resource)) {
        throw new Error(`verticalAutoscaling ${bound}Allowed.${resource} is set, but ${resource} is not in controlledResources`);
      }
      if (PARSE[resource](quantity, `verticalAutoscaling ${bound}Allowed.${resource}`) <= 0) {
        throw new Error(`verticalAutoscaling ${bound}Allowed.${resource} "${quantity}" must be above zero`);
      }
    }
    if (parsed.min !== undefined && parsed.max !== undefined) {
      const what = `verticalAutoscaling ${resource}`;
      if (PARSE[resource](parsed.min, what) > PARSE[resource](parsed.max, what)) {
        throw new Error(`verticalAutoscaling minAllowed.${resource} "${parsed.min}" is above maxAllowed.${resource} "${parsed.max}"`);
      }
    }
  }
}
