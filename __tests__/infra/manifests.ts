/**
 * Synthesizes charts in memory and gives typed access to the objects, for the infra tests.
 */
import { Chart, Testing } from "cdk8s";
import type { Construct } from "constructs";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { resolveImageTag } from "../../charts/app";
import { ENVIRONMENTS, type EnvironmentName, type EnvironmentSpec } from "../../charts/environments";
import { PyramidNetChart } from "../../charts/pyramidnet-chart";
import { PyramidNetRolloutChart } from "../../charts/pyramidnet-rollout-chart";
import { readReleaseTable, type EnvironmentRelease } from "../../charts/release-table";
import { InferenceService, type InferenceServiceProps, type VerticalPodAutoscalerSpec } from "../../infra";
import { GRPC_CONTRACT } from "../../infra/service-contract";

/** One synthesized object, before we know its kind. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** Kinds the charts produce, with their typed shapes from kubernetes-models. */
export interface KindMap {
  Namespace: INamespace;
  ConfigMap: IConfigMap;
  Deployment: IDeployment;
  Service: IService;
  HorizontalPodAutoscaler: IHorizontalPodAutoscaler;
  PodDisruptionBudget: IPodDisruptionBudget;
  NetworkPolicy: INetworkPolicy;
  ServiceMonitor: IServiceMonitor;
  PrometheusRule: IPrometheusRule;
  Ingress: IIngress;
  ServiceAccount: IServiceAccount;
  VerticalPodAutoscaler: { apiVersion: string; kind: string; metadata: Manifest["metadata"]; spec: VerticalPodAutoscalerSpec };
}

/** The table's entry for a name that must be in it. */
export function specOf(name: EnvironmentName): EnvironmentSpec {
  return ENVIRONMENTS[name];
}

/** The committed release entry of an environment, if it has one. */
export function releaseOf(name: EnvironmentName): EnvironmentRelease | undefined {
  return readReleaseTable()[name];
}

/**
 * The environment's chart, synthesized as `cdk8s synth` would (same tag and release entry as the committed dist/).
 */
export function synthEnvironment(name: EnvironmentName, spec: EnvironmentSpec = specOf(name)): Manifest[] {
  return synthChart(name, spec, releaseOf(name));
}

// No default for the release: an explicit undefined (no release entry) must stay undefined.
function synthChart(name: EnvironmentName, spec: EnvironmentSpec, release: EnvironmentRelease | undefined): Manifest[] {
  const chart = new PyramidNetChart(Testing.app(), name, { environmentName: name, spec, imageTag: resolveImageTag({}), release });
  return Testing.synth(chart) as Manifest[];
}

/**
 * The environment as its table entry alone deploys it: one track, no release entry. The table's own tests read
 * this form, whose object names do not depend on charts/releases.json.
 */
export function synthWithoutRelease(name: EnvironmentName): Manifest[] {
  return synthChart(name, specOf(name), undefined);
}

/** The Argo Rollouts form of an environment with a release entry, as `cdk8s synth` writes it. */
export function synthRolloutEnvironment(name: EnvironmentName, release: EnvironmentRelease): Manifest[] {
  const chart = new PyramidNetRolloutChart(Testing.app(), `${name}-rollout`, {
    environmentName: name,
    spec: specOf(name),
    imageTag: resolveImageTag({}),
    release,
  });
  return Testing.synth(chart) as Manifest[];
}

/** The objects of every track but the canary: what an environment without a canary would run. */
export function withoutCanary(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((m) => m.metadata.labels?.track !== "canary");
}

/** The smallest valid InferenceService props the construct tests start from. */
export const TEST_SERVICE_PROPS: InferenceServiceProps = {
  namespace: "pyramidnet-test",
  image: { repository: "pyramidnet", tag: "1.0.0" },
  autoscaling: { minReplicas: 2, maxReplicas: 4 },
};

/** The objects that `build` adds to a fresh chart. */
export function synthConstructs(build: (scope: Construct) => void): Manifest[] {
  const chart = new Chart(Testing.app(), "test");
  build(chart);
  return Testing.synth(chart) as Manifest[];
}

/** An InferenceService from TEST_SERVICE_PROPS with some props replaced, synthesized alone. */
export function synthService(overrides: Partial<InferenceServiceProps>, id = "Classifier"): Manifest[] {
  return synthConstructs((scope) => new InferenceService(scope, id, { ...TEST_SERVICE_PROPS, ...overrides }));
}

/** Every object of a kind. */
export function allOf<K extends keyof KindMap>(manifests: readonly Manifest[], kind: K): KindMap[K][] {
  return manifests.filter((m) => m.kind === kind) as unknown as KindMap[K][];
}

/** The one object of a kind; fails when there is none or more than one. */
export function oneOf<K extends keyof KindMap>(manifests: readonly Manifest[], kind: K): KindMap[K] {
  const found = allOf(manifests, kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, found ${found.length}`);
  return found[0];
}

/** The classifier's own ConfigMaps (their CLASSIFIER_* variables; one per track), not the Grafana dashboard's. */
export function classifierConfigMaps(manifests: readonly Manifest[]): IConfigMap[] {
  return allOf(manifests, "ConfigMap").filter((m) => m.metadata?.labels?.grafana_dashboard === undefined);
}

/** The classifier's own ConfigMap (its CLASSIFIER_* variables), not the Grafana dashboard's. */
export function classifierConfigMap(manifests: readonly Manifest[]): IConfigMap {
  const found = classifierConfigMaps(manifests);
  if (found.length !== 1) throw new Error(`expected exactly one classifier ConfigMap, found ${found.length}`);
  return found[0];
}

/** The Grafana dashboard's ConfigMap (label grafana_dashboard: "1"). */
export function dashboardConfigMap(manifests: readonly Manifest[]): IConfigMap {
  const found = allOf(manifests, "ConfigMap").filter((m) => m.metadata?.labels?.grafana_dashboard === "1");
  if (found.length !== 1) throw new Error(`expected exactly one dashboard ConfigMap, found ${found.length}`);
  return found[0];
}

/** True when every label of the selector is on the object. */
export function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** Whether an Ingress routes to the gRPC port (a canary one carries no backend-protocol: its main one does). */
export function isGrpcIngress(ingress: KindMap["Ingress"]): boolean {
  return (ingress.spec?.rules ?? []).some((rule) =>
    (rule.http?.paths ?? []).some((path) => path.backend.service?.port?.name === GRPC_CONTRACT.portName),
  );
}

/** The HTTP Ingresses (every Ingress but the gRPC ones), as Manifests, for oneOf and allOf. */
export function withoutGrpcIngresses(manifests: readonly Manifest[]): Manifest[] {
  return manifests.filter((m) => m.kind !== "Ingress" || !isGrpcIngress(m as unknown as KindMap["Ingress"]));
}

/** The gRPC Ingresses. */
export function grpcIngresses(manifests: readonly Manifest[]): KindMap["Ingress"][] {
  return allOf(manifests, "Ingress").filter(isGrpcIngress);
}
