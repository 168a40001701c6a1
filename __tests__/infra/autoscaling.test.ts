/** InferenceAutoscaler alone: the documented defaults, and each prop landing in its HPA field. */
import { InferenceAutoscaler, type InferenceAutoscalerProps } from "../../infra";
import { oneOf, synthConstructs } from "./manifests";

const PROPS: InferenceAutoscalerProps = {
  name: "classifier",
  namespace: "vision",
  labels: { team: "ml" },
  deploymentName: "classifier-deployment",
  requestsPerSecondMetric: "rps",
  minReplicas: 2,
  maxReplicas: 8,
  prometheusAdapter: true,
};
const hpaOf = (props: InferenceAutoscalerProps) =>
  oneOf(synthConstructs((scope) => new InferenceAutoscaler(scope, "Autoscaler", props)), "HorizontalPodAutoscaler");

test("defaults with prometheus-adapter: 70% CPU, 80% memory, 100 requests/s per pod; scale up by max(100%, 4 pods) per 30 s, down after 600 s by at most 50% per minute", () => {
  const hpa = hpaOf(PROPS);
  expect(hpa.apiVersion).toBe("autoscaling/v2");
  expect(hpa.metadata).toEqual({ name: "classifier", namespace: "vision", labels: { team: "ml" } });
  expect(hpa.spec).toEqual({
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "classifier-deployment" },
    minReplicas: 2,
    maxReplicas: 8,
    metrics: [
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
      { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } },
      { type: "Pods", pods: { metric: { name: "rps" }, target: { type: "AverageValue", averageValue: "100" } } },
    ],
    behavior: {
      scaleUp: {
        stabilizationWindowSeconds: 30,
        selectPolicy: "Max",
        policies: [
          { type: "Percent", value: 100, periodSeconds: 30 },
          { type: "Pods", value: 4, periodSeconds: 30 },
        ],
      },
      scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: "Percent", value: 50, periodSeconds: 60 }] },
    },
  });
});

test("without prometheus-adapter (the default) the HPA reads CPU and memory only, so nothing blocks its scale-down", () => {
  const { prometheusAdapter: _declared, ...withoutAdapter } = PROPS;
  const hpa = hpaOf(withoutAdapter);
  expect(hpa.spec!.metrics).toEqual([
    { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
    { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } },
  ]);
});

test("every target and behaviour prop lands in its field", () => {
  const hpa = hpaOf({
    ...PROPS,
    cpuUtilizationPercent: 55,
    memoryUtilizationPercent: 65,
    requestsPerSecondPerPod: 12.5,
    scaleUpStabilizationSeconds: 0,
    scaleUpPercent: 50,
    scaleUpPods: 2,
    scaleUpPeriodSeconds: 60,
    scaleDownStabilizationSeconds: 300,
    scaleDownPercent: 25,
    scaleDownPeriodSeconds: 120,
  });
  expect(hpa.spec!.metrics!.map((m) => m.resource?.target.averageUtilization ?? m.pods!.target.averageValue)).toEqual([
    55,
    65,
    "12.5",
  ]);
  expect(hpa.spec!.behavior).toEqual({
    scaleUp: {
      stabilizationWindowSeconds: 0,
      selectPolicy: "Max",
      policies: [
        { type: "Percent", value: 50, periodSeconds: 60 },
        { type: "Pods", value: 2, periodSeconds: 60 },
      ],
    },
    scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Percent", value: 25, periodSeconds: 120 }] },
  });
});

test("exposes its replica range", () => {
  let autoscaler: InferenceAutoscaler | undefined;
  synthConstructs((scope) => (autoscaler = new InferenceAutoscaler(scope, "Autoscaler", { ...PROPS, minReplicas: 1, maxReplicas: 1 })));
  expect([autoscaler?.minReplicas, autoscaler?.maxReplicas]).toEqual([1, 1]);
});
