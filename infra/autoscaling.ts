import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { assertInteger } from "./validation";

/** How an HPA scales the inference Deployment. */
export interface AutoscalingProps {
  /** Fewest replicas. */
  readonly minReplicas: number;
  /** Most replicas. */
  readonly maxReplicas: number;
  /**
   * Target average CPU use, in percent of the CPU request (1-100).
   * @default 70
   */
  readonly cpuUtilizationPercent?: number;
  /**
   * Target average memory use, in percent of the memory request (1-100).
   * @default 80
   */
  readonly memoryUtilizationPercent?: number;
  /**
   * Whether the cluster runs prometheus-adapter with our rule (dist/prometheus-adapter/values.yaml), so the custom
   * metrics API serves `http_requests_per_second`. Only then does the HPA get its Pods metric: an HPA skips every
   * scale-down while one of its metrics cannot be fetched (Kubernetes' HPA algorithm details), so a Pods metric
   * on a cluster without the adapter scales up on CPU but never back down.
   * @default false (CPU and memory only)
   */
  readonly prometheusAdapter?: boolean;
  /**
   * Target average of the Pods metric `http_requests_per_second` (served by prometheus-adapter), per pod. Only with
   * `prometheusAdapter: true`; setting it without is refused.
   * @default 100 when `prometheusAdapter` is true
   */
  readonly requestsPerSecondPerPod?: number;
  /**
   * Seconds of recommendations the HPA considers before scaling up (the highest wins).
   * @default 30
   */
  readonly scaleUpStabilizationSeconds?: number;
  /**
   * Scale-up policies: at most this percentage of the current replicas added per period...
   * @default 100
   */
  readonly scaleUpPercent?: number;
  /**
   * ...or at most this many pods added per period, whichever allows more (selectPolicy Max).
   * @default 4
   */
  readonly scaleUpPods?: number;
  /**
   * Length of one scale-up policy period, in seconds.
   * @default 30
   */
  readonly scaleUpPeriodSeconds?: number;
  /**
   * Seconds of recommendations the HPA considers before scaling down (the highest wins), so a short lull does not
   * drop capacity that the next burst needs.
   * @default 600
   */
  readonly scaleDownStabilizationSeconds?: number;
  /**
   * Scale-down rate policy: at most this percentage of the current replicas removed per period, so the end of a
   * stabilization window does not drop from the peak to the minimum at once.
   * @default 50
   */
  readonly scaleDownPercent?: number;
  /**
   * Length of one scale-down policy period, in seconds.
   * @default 60
   */
  readonly scaleDownPeriodSeconds?: number;
}

/** The defaults AutoscalingProps documents. */
export const AUTOSCALING_DEFAULTS = {
  cpuUtilizationPercent: 70,
  memoryUtilizationPercent: 80,
  prometheusAdapter: false,
  requestsPerSecondPerPod: 100,
  scaleUpStabilizationSeconds: 30,
  scaleUpPercent: 100,
  scaleUpPods: 4,
  scaleUpPeriodSeconds: 30,
  scaleDownStabilizationSeconds: 600,
  scaleDownPercent: 50,
  scaleDownPeriodSeconds: 60,
} as const satisfies Required<Omit<AutoscalingProps, "minReplicas" | "maxReplicas">>;

/** What the HPA scales and which metric names it reads. */
export interface InferenceAutoscalerProps extends AutoscalingProps {
  /** Name of the HPA. */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Name of the Deployment it scales (apps/v1). */
  readonly deploymentName: string;
  /** Name of the Pods metric, as the custom metrics API serves it. */
  readonly requestsPerSecondMetric: string;
}

/**
 * An autoscaling/v2 HorizontalPodAutoscaler on CPU and memory, plus requests per second per pod where
 * prometheus-adapter serves that metric.
 */
export class InferenceAutoscaler extends Construct {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly apiObject: k8s.KubeHorizontalPodAutoscalerV2;

  constructor(scope: Construct, id: string, props: InferenceAutoscalerProps) {
    super(scope, id);
    const defaults = AUTOSCALING_DEFAULTS;
    const cpu = props.cpuUtilizationPercent ?? defaults.cpuUtilizationPercent;
    const memory = props.memoryUtilizationPercent ?? defaults.memoryUtilizationPercent;
    const prometheusAdapter = props.prometheusAdapter ?? defaults.prometheusAdapter;
    if (!prometheusAdapter && props.requestsPerSecondPerPod !== undefined) {
      throw new Error(
        "autoscaling requestsPerSecondPerPod needs prometheusAdapter: true. Without prometheus-adapter the HPA cannot " +
          "fetch the Pods metric and then skips every scale-down (it scales up on CPU but never back down); install " +
          "the adapter (dist/prometheus-adapter/values.yaml) and declare it, or drop requestsPerSecondPerPod",
      );
    }
    const requestsPerSecond = props.requestsPerSecondPerPod ?? defaults.requestsPerSecondPerPod;
    const upStabilization = props.scaleUpStabilizationSeconds ?? defaults.scaleUpStabilizationSeconds;
    const upPercent = props.scaleUpPercent ?? defaults.scaleUpPercent;
    const upPods = props.scaleUpPods ?? defaults.scaleUpPods;
    const upPeriod = props.scaleUpPeriodSeconds ?? defaults.scaleUpPeriodSeconds;
    const downStabilization = props.scaleDownStabilizationSeconds ?? defaults.scaleDownStabilizationSeconds;
    const downPercent = props.scaleDownPercent ?? defaults.scaleDownPercent;
    const downPeriod = props.scaleDownPeriodSeconds ?? defaults.scaleDownPeriodSeconds;

    assertInteger(props.minReplicas, "autoscaling minReplicas", { min: 1 });
    assertInteger(props.maxReplicas, "autoscaling maxReplicas", { min: 1 });
    if (props.minReplicas > props.maxReplicas) {
      throw new Error(
        `autoscaling minReplicas (${props.minReplicas}) is above maxReplicas (${props.maxReplicas})`,
      );
    }
    assertInteger(cpu, "autoscaling cpuUtilizationPercent", { min: 1, max: 100 });
    assertInteger(memory, "autoscaling memoryUtilizationPercent", { min: 1, max: 100 });
    if (!(requestsPerSecond > 0) || !Number.isFinite(requestsPerSecond)) {
      throw new Error(`autoscaling requestsPerSecondPerPod must be a positive number, got ${requestsPerSecond}`);
    }
    // The HPA API caps stabilization windows at one hour and policy periods at 30 minutes.
    assertInteger(upStabilization, "autoscaling scaleUpStabilizationSeconds", { min: 0, max: 3600 });
    assertInteger(downStabilization, "autoscaling scaleDownStabilizationSeconds", { min: 0, max: 3600 });
    assertInteger(upPeriod, "autoscaling scaleUpPeriodSeconds", { min: 1, max: 1800 });
    assertInteger(upPercent, "autoscaling scaleUpPercent", { min: 1 });
    assertInteger(upPods, "autoscaling scaleUpPods", { min: 1 });
    // 100% or more would let one period remove every pod above the minimum, which is no rate limit at all.
    assertInteger(downPercent, "autoscaling scaleDownPercent", { min: 1, max: 99 });
    assertInteger(downPeriod, "autoscaling scaleDownPeriodSeconds", { min: 1, max: 1800 });

    this.minReplicas = props.minReplicas;
    this.maxReplicas = props.maxReplicas;
    this.apiObject = new k8s.KubeHorizontalPodAutoscalerV2(this, "Resource", {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: props.deploymentName },
        minReplicas: props.minReplicas,
        maxReplicas: props.maxReplicas,
        metrics: [
          {
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: cpu } },
          },
          {
            type: "Resource",
            resource: { name: "memory", target: { type: "Utilization", averageUtilization: memory } },
          },
          ...(prometheusAdapter
            ? [
                {
                  type: "Pods",
                  pods: {
                    metric: { name: props.requestsPerSecondMetric },
                    target: { type: "AverageValue", averageValue: k8s.Quantity.fromString(String(requestsPerSecond)) },
                  },
                },
              ]
            : []),
        ],
        behavior: {
          scaleUp: {
            stabilizationWindowSeconds: upStabilization,
            selectPolicy: "Max",
            policies: [
              { type: "Percent", value: upPercent, periodSeconds: upPeriod },
              { type: "Pods", value: upPods, periodSeconds: upPeriod },
            ],
          },
          scaleDown: {
            stabilizationWindowSeconds: downStabilization,
            policies: [{ type: "Percent", value: downPercent, periodSeconds: downPeriod }],
          },
        },
      },
    });
  }
}
