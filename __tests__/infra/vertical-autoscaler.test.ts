/** RequestRecommender: a VerticalPodAutoscaler that only recommends (updateMode "Off"). */
import { RequestRecommender, type RequestRecommenderProps } from "../../infra";
import { allOf, oneOf, synthConstructs, synthService } from "./manifests";

const PROPS: RequestRecommenderProps = {
  name: "classifier",
  namespace: "vision",
  labels: { team: "ml" },
  deploymentName: "classifier",
  containerName: "server",
};
const recommenderOf = (props: Partial<RequestRecommenderProps>) =>
  oneOf(synthConstructs((scope) => new RequestRecommender(scope, "Recommender", { ...PROPS, ...props })), "VerticalPodAutoscaler");

test("defaults: autoscaling.k8s.io/v1, the Deployment as target, mode Off, cpu and memory, no bounds", () => {
  const vpa = recommenderOf({});
  expect(vpa.apiVersion).toBe("autoscaling.k8s.io/v1");
  expect(vpa.metadata).toEqual({ name: "classifier", namespace: "vision", labels: { team: "ml" } });
  expect(vpa.spec).toEqual({
    targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "classifier" },
    updatePolicy: { updateMode: "Off" },
    resourcePolicy: { containerPolicies: [{ containerName: "server", controlledResources: ["cpu", "memory"] }] },
  });
});

test("controlled resources and bounds are the props", () => {
  const vpa = recommenderOf({ controlledResources: ["memory"], minAllowed: { memory: "512Mi" }, maxAllowed: { memory: "8Gi" } });
  expect(vpa.spec.resourcePolicy.containerPolicies).toEqual([
    { containerName: "server", controlledResources: ["memory"], minAllowed: { memory: "512Mi" }, maxAllowed: { memory: "8Gi" } },
  ]);
  expect(vpa.spec.updatePolicy).toEqual({ updateMode: "Off" });
});

test("InferenceService adds one only when asked, on its own Deployment and container", () => {
  expect(allOf(synthService({}), "VerticalPodAutoscaler")).toHaveLength(0);
  const manifests = synthService({ verticalAutoscaling: { maxAllowed: { cpu: "4" } } });
  const vpa = oneOf(manifests, "VerticalPodAutoscaler");
  const deployment = oneOf(manifests, "Deployment");
  expect(vpa.spec.targetRef.name).toBe(deployment.metadata!.name);
  expect(vpa.spec.resourcePolicy.containerPolicies[0]).toMatchObject({
    containerName: deployment.spec!.template.spec!.containers[0].name,
    maxAllowed: { cpu: "4" },
  });
});
