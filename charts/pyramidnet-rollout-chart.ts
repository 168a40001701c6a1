import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import {
  CANARY_ROLLOUT_DEFAULTS,
  CanaryRollout,
  ClassifierIngress,
  GRPC_INGRESS_DEFAULTS,
  GrpcIngress,
  InferenceService,
  type ClassifierPrometheusRule,
  type DashboardConfigMap,
} from "../infra";
import type { EnvironmentSpec } from "./environments";
import { environmentMonitoring } from "./monitoring";
import { assertEnvironment, classifierProps, environmentNamespace, grpcIngressProps, ingressProps, trackImage } from "./pyramidnet-chart";
import type { EnvironmentRelease } from "./release-table";

export interface PyramidNetRolloutChartProps {
  /** The environment's key in its table (see PyramidNetChartProps). */
  readonly environmentName: string;
  readonly spec: EnvironmentSpec;
  /** The image tag to deploy when the release entry names none. */
  readonly imageTag: string;
  /**
   * That tag's digest (see PyramidNetChartProps).
   * @default - no digest
   */
  readonly imageDigest?: string;
  /** The environment's release entry: the Rollout rolls out its canary (or, without one, its stable track). */
  readonly release: EnvironmentRelease;
}

/**
 * The weights of the Rollout's steps: the release entry's canary weight first, then the default steps above it.
 * A weight of 0 (a canary reachable only through the header) or 100 (no step left) takes the default steps.
 */
export function rolloutWeights(release: EnvironmentRelease): number[] {
  const first = release.canary?.weight ?? 0;
  if (first <= 0 || first >= 100) return [...CANARY_ROLLOUT_DEFAULTS.weights];
  return [first, ...CANARY_ROLLOUT_DEFAULTS.weights.filter((weight) => weight > first)];
}

/**
 * One environment in the Argo Rollouts form (dist/<environment>-rollout.k8s.yaml), applied instead of the
 * two-track file: the Namespace, the classifier (its Deployment only holds the pod template), the Rollout with its
 * stable and canary Services and AnalysisTemplate, the main Ingress the controller clones for the canary, and the
 * same PrometheusRule and dashboard as the two-track form (the Rollout's pods carry the `track` label too).
 */
export class PyramidNetRolloutChart extends Chart {
  readonly classifier: InferenceService;
  readonly rollout: CanaryRollout;
  readonly ingress: ClassifierIngress;
  /** The main gRPC Ingress, when the environment has one; the controller clones it too. */
  readonly grpcIngress?: GrpcIngress;
  readonly rules: ClassifierPrometheusRule;
  readonly dashboard: DashboardConfigMap;

  constructor(scope: Construct, id: string, props: PyramidNetRolloutChartProps) {
    super(scope, id);
    const { spec, release } = props;
    assertEnvironment(props.environmentName, spec);
    const namespace = environmentNamespace(this, spec);
    const target = release.canary ?? release.stable;
    const image = trackImage(spec, props, target.imageTag ?? release.stable.imageTag);
    const service = classifierProps(props.environmentName, spec, image);
    this.classifier = new InferenceService(this, "Classifier", service);
    const ingressName = this.classifier.objectName;
    const grpc = grpcIngressProps(spec);
    const grpcIngressName = grpc && `${ingressName}${GRPC_INGRESS_DEFAULTS.nameSuffix}`;
    this.rollout = new CanaryRollout(this, "Rollout", {
      service: this.classifier,
      stableIngressName: ingressName,
      stableGrpcIngressName: grpcIngressName,
      modelVersion: target.modelVersion ?? release.stable.modelVersion,
      weights: rolloutWeights(release),
    });
    this.ingress = new ClassifierIngress(this, "Ingress", {
      ...ingressProps(spec),
      name: ingressName,
      backend: this.rollout.stableBackend,
      labels: this.classifier.labels,
    });
    if (grpc !== undefined && this.rollout.stableGrpcBackend !== undefined) {
      this.grpcIngress = new GrpcIngress(this, "GrpcIngress", {
        ...grpc,
        name: grpcIngressName,
        backend: this.rollout.stableGrpcBackend,
        labels: this.classifier.labels,
      });
    }
    const monitoring = environmentMonitoring(this, {
      environmentName: props.environmentName,
      spec,
      instance: service.instance ?? this.classifier.name,
      services: [this.classifier],
    });
    this.rules = monitoring.rules;
    this.dashboard = monitoring.dashboard;
    for (const child of [this.classifier, this.rollout, this.ingress, ...(this.grpcIngress ? [this.grpcIngress] : []), this.rules, this.dashboard]) {
      child.node.addDependency(namespace);
    }
  }
}
