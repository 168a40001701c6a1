import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import {
  AppNamespace,
  ClassifierIngress,
  GrpcIngress,
  type ImageReference,
  InferenceService,
  type ClassifierPrometheusRule,
  type DashboardConfigMap,
  type RuleTiming,
  ReleaseTracks,
  assertDnsLabel,
  type ClassifierIngressProps,
  type GrpcIngressProps,
  type InferenceServiceProps,
  grpcBackendOf,
} from "../infra";
import type { EnvironmentSpec } from "./environments";
import { environmentMonitoring } from "./monitoring";
import type { EnvironmentRelease } from "./release-table";
import { workloadOptions } from "./workload-options";

export interface PyramidNetChartProps {
  /**
   * The environment's key in its table: a DNS label, which names the instance (`pyramidnet-<name>`) and is the
   * pods' CLASSIFIER_ENVIRONMENT.
   */
  readonly environmentName: string;
  /** The environment's entry in the table. */
  readonly spec: EnvironmentSpec;
  /** The image tag to deploy. */
  readonly imageTag: string;
  /**
   * The image's digest; the Deployment then runs `repository:tag@digest`. It belongs to `imageTag`: a track whose
   * release entry names its own tag runs that tag without it.
   * @default - no digest: the tag alone identifies the image
   */
  readonly imageDigest?: string;
  /**
   * The environment's release entry (charts/releases.json): a stable track, and a canary with its weight.
   * @default - one track without a `track` label, serving the service's default model version
   */
  readonly release?: EnvironmentRelease;
  /**
   * Shorter rule windows, for tests against a real Prometheus only.
   * @default production timing
   */
  readonly ruleTiming?: RuleTiming;
}

export const APP_NAME = "pyramidnet";

/** Refuses an environment entry that cannot be deployed as written. */
export function assertEnvironment(environmentName: string, spec: EnvironmentSpec): void {
  assertDnsLabel(environmentName, "environment name");
  if (spec.exposure === "public" && spec.ingress.tls === undefined) {
    throw new Error(
      `the ${environmentName} Ingress must terminate TLS (its exposure is "public"): ` +
        "set ingress.tls in its environment entry",
    );
  }
}

/** The environment's Namespace, the first object of its file. */
export function environmentNamespace(scope: Construct, spec: EnvironmentSpec): AppNamespace {
  return new AppNamespace(scope, "Namespace", {
    name: spec.namespace,
    labels: { "app.kubernetes.io/part-of": APP_NAME, "app.kubernetes.io/managed-by": "cdk8s" },
  });
}

/**
 * The image a track runs: the tag its release entry names, else the deployed tag with its digest (the digest was
 * taken of that tag's image, so it never goes with another tag).
 */
export function trackImage(
  spec: EnvironmentSpec,
  deployed: { readonly imageTag: string; readonly imageDigest?: string },
  releaseTag: string | undefined,
): ImageReference {
  return releaseTag === undefined
    ? { repository: spec.imageRepository, tag: deployed.imageTag, digest: deployed.imageDigest }
    : { repository: spec.imageRepository, tag: releaseTag };
}

/** The classifier's props for an environment, as every chart form builds it. */
export function classifierProps(environmentName: string, spec: EnvironmentSpec, image: ImageReference): InferenceServiceProps {
  return {
    namespace: spec.namespace,
    name: APP_NAME,
    instance: `${APP_NAME}-${environmentName}`,
    image,
    imagePullPolicy: spec.imagePullPolicy,
    resources: spec.resources,
    autoscaling: spec.autoscaling,
    serviceType: spec.serviceType,
    nodeSpread: spec.nodeSpread,
    spreadAcrossZones: spec.spreadAcrossZones,
    config: { ...spec.config, environment: environmentName },
    ...workloadOptions(spec),
  };
}

/** The Ingress props of an environment, without its backend. */
export function ingressProps(spec: EnvironmentSpec): Omit<ClassifierIngressProps, "backend" | "labels"> {
  return { host: spec.ingress.host, rateLimitPerSecond: spec.ingress.rateLimitPerSecond, tls: spec.ingress.tls };
}

/** The gRPC Ingress props of an environment, without its backend; undefined when it has none. */
export function grpcIngressProps(spec: EnvironmentSpec): Omit<GrpcIngressProps, "backend" | "labels"> | undefined {
  return spec.grpcIngress && { ...spec.grpcIngress };
}

/**
 * One environment: its Namespace first, then the classifier and its Ingress; with a release entry, a stable and
 * a canary track (ReleaseTracks). Objects carry explicit namespaces (not the chart's), because the Namespace
 * itself is cluster-scoped.
 */
export class PyramidNetChart extends Chart {
  /** The environment's namespace (the chart's own `namespace` stays unset: see above). */
  readonly namespaceName: string;
  /** The classifier; with a release entry, its stable track. */
  readonly classifier: InferenceService;
  /** The main Ingress (to the stable track). */
  readonly ingress: ClassifierIngress;
  /** The canary track, when the release entry has one. */
  readonly canary?: InferenceService;
  /** The ingress-nginx canary Ingress, when the release entry has a canary. */
  readonly canaryIngress?: ClassifierIngress;
  /** The main gRPC Ingress, when the environment has one (`grpcIngress`). */
  readonly grpcIngress?: GrpcIngress;
  /** Recording rules and alerts for every track of the environment. */
  readonly rules: ClassifierPrometheusRule;
  /** The Grafana dashboard, as a ConfigMap for kube-prometheus-stack's sidecar. */
  readonly dashboard: DashboardConfigMap;

  constructor(scope: Construct, id: string, props: PyramidNetChartProps) {
    super(scope, id);
    const { spec, release } = props;
    assertEnvironment(props.environmentName, spec);
    this.namespaceName = spec.namespace;
    const namespace = environmentNamespace(this, spec);
    const service = classifierProps(props.environmentName, spec, trackImage(spec, props, release?.stable.imageTag));

    if (release === undefined) {
      this.classifier = new InferenceService(this, "Classifier", service);
      this.ingress = new ClassifierIngress(this, "Ingress", {
        ...ingressProps(spec),
        backend: this.classifier,
        labels: this.classifier.labels,
      });
      const grpc = grpcIngressProps(spec);
      this.grpcIngress =
        grpc && new GrpcIngress(this, "GrpcIngress", { ...grpc, backend: grpcBackendOf(this.classifier), labels: this.classifier.labels });
      for (const child of [this.classifier, this.ingress, ...(this.grpcIngress ? [this.grpcIngress] : [])]) child.node.addDependency(namespace);
    } else {
      const canary = release.canary;
      const tracks = new ReleaseTracks(this, "Release", {
        service,
        stable: { modelVersion: release.stable.modelVersion },
        canary: canary && {
          modelVersion: canary.modelVersion,
          image: canary.imageTag === undefined ? undefined : trackImage(spec, props, canary.imageTag),
          weight: canary.weight,
        },
        ingress: ingressProps(spec),
        grpcIngress: grpcIngressProps(spec),
      });
      if (tracks.ingress === undefined) throw new Error("the release tracks were built without their Ingress");
      this.classifier = tracks.stable;
      this.ingress = tracks.ingress;
      this.canary = tracks.canary;
      this.canaryIngress = tracks.canaryIngress;
      this.grpcIngress = tracks.grpcIngress;
      // kubectl applies a file top to bottom: the Namespace must come before what lives in it.
      tracks.node.addDependency(namespace);
    }

    const monitoring = environmentMonitoring(this, {
      environmentName: props.environmentName,
      spec,
      instance: service.instance ?? APP_NAME,
      services: this.canary === undefined ? [this.classifier] : [this.classifier, this.canary],
      ruleTiming: props.ruleTiming,
    });
    this.rules = monitoring.rules;
    this.dashboard = monitoring.dashboard;
    this.rules.node.addDependency(namespace);
    this.dashboard.node.addDependency(namespace);
  }
}
