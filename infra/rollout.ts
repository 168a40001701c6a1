/**
 * The progressive form of a release, for clusters that run the Argo Rollouts controller: a Rollout that takes
 * the pod template of an InferenceService's Deployment (workloadRef), moves traffic through ingress-nginx in steps,
 * and aborts by itself when the AnalysisTemplate finds the canary's error ratio or p99 latency above the
 * thresholds that `npm run release -- status` applies too (canary-analysis.ts).
 */
import type { IAnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import type { IRollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout";
import { ApiObject, JsonPatch } from "cdk8s";
import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import {
  CANARY_THRESHOLDS,
  TRACK_LABEL,
  errorRatioQuery,
  p99LatencyQuery,
  successConditions,
  type CanaryThresholds,
} from "./canary-analysis";
import { modelVersionConfig } from "./config-map";
import { grpcBackendOf } from "./grpc-ingress";
import type { InferenceService } from "./inference-service";
import type { HttpBackend } from "./ingress";
import { INGRESS_CANARY_DEFAULTS } from "./ingress";
import { LABEL, assertDnsLabel } from "./labels";
import { CONFIG_SCHEMA, renderEnvironment } from "./service-contract";
import { assertInteger } from "./validation";

export const ROLLOUT_API_VERSION = "argoproj.io/v1alpha1";

export interface CanaryRolloutProps {
  /**
   * The classifier, without a track: the Rollout takes its Deployment's pod template. The Rollout takes the
   * Deployment over: its replicas become 0, its HPA scales the Rollout, and its ServiceMonitor copies the `track`
   * pod label onto the series.
   */
  readonly service: InferenceService;
  /** Name of the main Ingress, which must route to `stableBackend`; the controller clones it into a canary Ingress. */
  readonly stableIngressName: string;
  /**
   * Name of the main gRPC Ingress, which must route to `stableGrpcBackend`; the controller clones it as it clones
   * the HTTP one, so gRPC calls split by the same weights. Needs gRPC on (CLASSIFIER_GRPC_ENABLED).
   * @default - no gRPC Ingress
   */
  readonly stableGrpcIngressName?: string;
  /**
   * The model version the Rollout rolls out. It is set in the pod template (CLASSIFIER_MODEL_VERSION and a
   * `specific:<version>` policy, over the ConfigMap's values), so every ReplicaSet keeps the version it was created
   * with while the other one runs.
   */
  readonly modelVersion: string;
  /**
   * The canary's traffic weights, in percent, strictly increasing and below 100; each is followed by a pause, and
   * the Rollout goes to 100% after the last.
   * @default [10, 25, 50]
   */
  readonly weights?: readonly number[];
  /**
   * How long each weight holds before the next (a Rollouts duration such as "10m").
   * @default "10m"
   */
  readonly pauseDuration?: string;
  /**
   * Request header that forces the canary ("always") or the stable pods ("never").
   * @default "X-Canary"
   */
  readonly header?: string;
  /**
   * The limits the analysis holds the canary to.
   * @default CANARY_THRESHOLDS
   */
  readonly thresholds?: CanaryThresholds;
  /**
   * Prometheus's HTTP address, as the Rollouts controller reaches it.
   * @default "http://kube-prometheus-stack-prometheus.monitoring.svc:9090" (kube-prometheus-stack's Service)
   */
  readonly prometheusAddress?: string;
  /**
   * How often the analysis measures.
   * @default "1m"
   */
  readonly analysisInterval?: string;
  /**
   * Failed measurements of one metric the analysis tolerates before it aborts the Rollout.
   * @default 1
   */
  readonly failureLimit?: number;
}

/** The defaults CanaryRolloutProps documents. */
export const CANARY_ROLLOUT_DEFAULTS = {
  weights: [10, 25, 50],
  pauseDuration: "10m",
  prometheusAddress: "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
  analysisInterval: "1m",
  failureLimit: 1,
} as const;

const ROLLOUT_DURATION = /^\d+(s|m|h)$/;

/** A Rollout (canary strategy, ingress-nginx traffic routing), its stable and canary Services, and its analysis. */
export class CanaryRollout extends Construct {
  /** What the main Ingress must route to: the stable Service, whose selector the controller manages. */
  readonly stableBackend: HttpBackend;
  /** The stable Service's gRPC port, for the main gRPC Ingress; undefined when the classifier serves no gRPC. */
  readonly stableGrpcBackend?: HttpBackend;
  readonly canaryServiceName: string;
  readonly analysisTemplateName: string;
  readonly rollout: ApiObject;
  readonly analysisTemplate: ApiObject;

  constructor(scope: Construct, id: string, props: CanaryRolloutProps) {
    super(scope, id);
    const service = props.service;
    if (service.track !== undefined) throw new Error("a Rollout manages both tracks itself: give it an InferenceService without a track");
    // Validated by the service's own schema, like the ConfigMap.
    const versionEnv = pinnedVersionEnv(props.modelVersion);
    const weights = props.weights ?? CANARY_ROLLOUT_DEFAULTS.weights;
    assertWeights(weights);
    const pause = props.pauseDuration ?? CANARY_ROLLOUT_DEFAULTS.pauseDuration;
    const interval = props.analysisInterval ?? CANARY_ROLLOUT_DEFAULTS.analysisInterval;
    for (const [what, value] of [["pauseDuration", pause], ["analysisInterval", interval]] as const) {
      if (!ROLLOUT_DURATION.test(value)) throw new Error(`${what} "${value}" is not a duration such as 30s, 10m or 1h`);
    }
    const failureLimit = props.failureLimit ?? CANARY_ROLLOUT_DEFAULTS.failureLimit;
    assertInteger(failureLimit, "failureLimit", { min: 0 });
    const thresholds = props.thresholds ?? CANARY_THRESHOLDS;
    const name = service.objectName;
    const namespace = service.namespace;

    // The Services exist for the controller, which adds the ReplicaSet hash to their selectors. They carry no
    // instance label, so the ServiceMonitor (which selects by name and instance) scrapes every pod once, through
    // the InferenceService's own Service, not again through these.
    const { [LABEL.instance]: _instance, ...serviceLabels } = service.labels;
    const trackService = (track: "stable" | "canary") =>
      new k8s.KubeService(this, track === "stable" ? "StableService" : "CanaryService", {
        metadata: { name: `${name}-${track}`, namespace, labels: { ...serviceLabels, [TRACK_LABEL]: track } },
        spec: {
          type: "ClusterIP",
          selector: { ...service.selector },
          // The classifier Service's ports, gRPC included, so both Ingresses reach both tracks.
          ports: service.servicePorts.map((port) => ({ ...port })),
        },
      });
    const stableService = trackService("stable");
    const canaryService = trackService("canary");
    this.stableBackend = {
      namespace,
      serviceName: stableService.name,
      servicePortName: service.servicePortName,
      maxRequestBytes: service.maxRequestBytes,
    };
    this.canaryServiceName = canaryService.name;
    if (service.grpcBackend !== undefined) this.stableGrpcBackend = { ...service.grpcBackend, serviceName: stableService.name };
    if (props.stableGrpcIngressName !== undefined) {
      grpcBackendOf(service);
      assertDnsLabel(props.stableGrpcIngressName, "stableGrpcIngressName");
    }
    const stableIngresses =
      props.stableGrpcIngressName === undefined
        ? { stableIngress: props.stableIngressName }
        : { stableIngresses: [props.stableIngressName, props.stableGrpcIngressName] };

    this.analysisTemplateName = `${name}-canary-health`;
    const conditions = successConditions(thresholds);
    const canarySeries = { namespace, track: "canary" } as const;
    const metric = (metricName: string, query: string, successCondition: string) => ({
      name: metricName,
      interval,
      failureLimit,
      successCondition,
      provider: { prometheus: { address: props.prometheusAddress ?? CANARY_ROLLOUT_DEFAULTS.prometheusAddress, query } },
    });
    const analysisSpec: IAnalysisTemplate["spec"] = {
      metrics: [
        metric("error-ratio", errorRatioQuery(canarySeries, thresholds.window), conditions.errorRatio),
        metric("p99-latency", p99LatencyQuery(canarySeries, thresholds.window), conditions.p99Latency),
      ],
    };
    this.analysisTemplate = new ApiObject(this, "AnalysisTemplate", {
      apiVersion: ROLLOUT_API_VERSION,
      kind: "AnalysisTemplate",
      metadata: { name: this.analysisTemplateName, namespace, labels: { ...service.labels } },
      spec: analysisSpec,
    });

    const rolloutSpec: IRollout["spec"] = {
      selector: { matchLabels: { ...service.selector } },
      workloadRef: { apiVersion: "apps/v1", kind: "Deployment", name: service.deployment.name },
      strategy: {
        canary: {
          stableService: stableService.name,
          canaryService: canaryService.name,
          stableMetadata: { labels: { [TRACK_LABEL]: "stable" } },
          canaryMetadata: { labels: { [TRACK_LABEL]: "canary" } },
          trafficRouting: {
            nginx: {
              ...stableIngresses,
              additionalIngressAnnotations: { "canary-by-header": props.header ?? INGRESS_CANARY_DEFAULTS.header },
            },
          },
          // Runs from the first weight until the Rollout is promoted; one failed metric aborts it.
          analysis: { templates: [{ templateName: this.analysisTemplateName }], startingStep: 1 },
          steps: weights.flatMap((weight) => [{ setWeight: weight }, { pause: { duration: pause } }]),
        },
      },
    };
    this.rollout = new ApiObject(this, "Rollout", {
      apiVersion: ROLLOUT_API_VERSION,
      kind: "Rollout",
      metadata: { name, namespace, labels: { ...service.labels } },
      spec: rolloutSpec,
    });

    // The hand-over: the Rollout runs the pods, so the Deployment keeps none; the HPA scales the Rollout.
    service.deployment.addJsonPatch(
      JsonPatch.add("/spec/replicas", 0),
      JsonPatch.add("/spec/template/spec/containers/0/env", versionEnv),
    );
    service.autoscaler?.apiObject.addJsonPatch(
      JsonPatch.replace("/spec/scaleTargetRef", { apiVersion: ROLLOUT_API_VERSION, kind: "Rollout", name }),
    );
    service.serviceMonitor.apiObject.addJsonPatch(JsonPatch.add("/spec/podTargetLabels", [TRACK_LABEL]));
  }
}

/** The container env that pins one model version (it overrides the ConfigMap's defaults). */
function pinnedVersionEnv(modelVersion: string): Array<{ name: string; value: string }> {
  let env: Record<string, string>;
  try {
    env = renderEnvironment(modelVersionConfig(modelVersion, {}));
  } catch (error) {
    throw new Error(`modelVersion rejected by the service's validator: ${(error as Error).message}`);
  }
  return [CONFIG_SCHEMA.modelVersion.name, CONFIG_SCHEMA.modelVersionPolicy.name].map((name) => ({ name, value: env[name] }));
}

function assertWeights(weights: readonly number[]): void {
  if (weights.length === 0) throw new Error("a Rollout needs at least one canary weight");
  weights.forEach((weight, index) => {
    assertInteger(weight, "canary weight", { min: 1, max: 99 });
    if (index > 0 && weight <= weights[index - 1]) {
      throw new Error(`canary weights must increase step by step, got ${weights.join(", ")}`);
    }
  });
}
