import { Chart } from "cdk8s";
import type { Construct } from "constructs";
import { AppNamespace, ClassifierIngress, InferenceService, assertDnsLabel } from "../infra";
import type { EnvironmentSpec } from "./environments";
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
   * The image's digest; the Deployment then runs `repository:tag@digest`.
   * @default - no digest: the tag alone identifies the image
   */
  readonly imageDigest?: string;
}

const APP_NAME = "pyramidnet";

/**
 * One environment: its Namespace first, then the classifier and its Ingress. Objects carry explicit namespaces
 * (not the chart's), because the Namespace itself is cluster-scoped.
 */
export class PyramidNetChart extends Chart {
  /** The environment's namespace (the chart's own `namespace` stays unset: see above). */
  readonly namespaceName: string;
  readonly classifier: InferenceService;
  readonly ingress: ClassifierIngress;

  constructor(scope: Construct, id: string, props: PyramidNetChartProps) {
    super(scope, id);
    const { spec } = props;
    assertDnsLabel(props.environmentName, "environment name");
    if (spec.exposure === "public" && spec.ingress.tls === undefined) {
      throw new Error(
        `the ${props.environmentName} Ingress must terminate TLS (its exposure is "public"): ` +
          "set ingress.tls in its environment entry",
      );
    }
    this.namespaceName = spec.namespace;
    const instance = `${APP_NAME}-${props.environmentName}`;

    const namespace = new AppNamespace(this, "Namespace", {
      name: spec.namespace,
      labels: { "app.kubernetes.io/part-of": APP_NAME, "app.kubernetes.io/managed-by": "cdk8s" },
    });

    this.classifier = new InferenceService(this, "Classifier", {
      namespace: spec.namespace,
      name: APP_NAME,
      instance,
      image: { repository: spec.imageRepository, tag: props.imageTag, digest: props.imageDigest },
      imagePullPolicy: spec.imagePullPolicy,
      resources: spec.resources,
      autoscaling: spec.autoscaling,
      serviceType: spec.serviceType,
      nodeSpread: spec.nodeSpread,
      spreadAcrossZones: spec.spreadAcrossZones,
      config: { ...spec.config, environment: props.environmentName },
      ...workloadOptions(spec),
    });

    this.ingress = new ClassifierIngress(this, "Ingress", {
      backend: this.classifier,
      host: spec.ingress.host,
      rateLimitPerSecond: spec.ingress.rateLimitPerSecond,
      tls: spec.ingress.tls,
      labels: this.classifier.labels,
    });

    // kubectl applies a file top to bottom: the Namespace must come before what lives in it.
    this.classifier.node.addDependency(namespace);
    this.ingress.node.addDependency(namespace);
  }
}
