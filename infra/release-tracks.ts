import { Construct } from "constructs";
import type { AutoscalingProps } from "./autoscaling";
import { GRPC_INGRESS_DEFAULTS, GrpcIngress, grpcBackendOf, type GrpcIngressProps } from "./grpc-ingress";
import { renderImage, type ImageReference } from "./image";
import { InferenceService } from "./inference-service";
import type { InferenceServiceProps } from "./inference-service-props";
import { ClassifierIngress, INGRESS_CANARY_DEFAULTS, type ClassifierIngressProps } from "./ingress";
import { assertInteger } from "./validation";

/** What the stable track runs. */
export interface StableTrackProps {
  /** The model version the stable pods serve (CLASSIFIER_MODEL_VERSION). */
  readonly modelVersion: string;
}

/** What the canary track runs, and its share of the traffic. It must differ from the stable track. */
export interface CanaryTrackProps {
  /**
   * The model version the canary pods serve.
   * @default - the stable track's (then `image` must differ)
   */
  readonly modelVersion?: string;
  /**
   * The canary's image.
   * @default - the stable track's (`service.image`; then `modelVersion` must differ)
   */
  readonly image?: ImageReference;
  /** Percent of requests the Ingress sends to the canary, 0-100. */
  readonly weight: number;
  /**
   * Request header that overrides the weight: `always` forces the canary, `never` the stable track.
   * @default "X-Canary"
   */
  readonly header?: string;
  /**
   * Fewest canary pods (its HPA's minReplicas, or its replica count without autoscaling). It takes a small share
   * of the traffic, so it needs fewer pods than the stable track, but two keep it serving through a node drain.
   * @default - the stable track's fewest, at most 2
   */
  readonly minReplicas?: number;
}

/** The defaults the props document. */
export const RELEASE_TRACKS_DEFAULTS = {
  canaryMinReplicas: 2,
  canaryHeader: INGRESS_CANARY_DEFAULTS.header,
} as const;

export interface ReleaseTracksProps {
  /**
   * Everything both tracks share. Each track adds its `track` label and name suffix and its model version; the
   * canary may replace the image and its fewest replicas.
   */
  readonly service: Omit<InferenceServiceProps, "track" | "modelVersion">;
  readonly stable: StableTrackProps;
  /**
   * The canary track.
   * @default - no canary: the stable track takes all traffic
   */
  readonly canary?: CanaryTrackProps;
  /**
   * The Ingress both tracks are reached through: a main Ingress to the stable Service and, with a canary, an
   * ingress-nginx canary Ingress (`<name>-canary`) to the canary Service for the same host and paths.
   * @default - no Ingress (refused with a canary: its weight is set at the Ingress)
   */
  readonly ingress?: Omit<ClassifierIngressProps, "backend" | "canary" | "labels">;
  /**
   * A gRPC Ingress in the same form: a main one to the stable Service's gRPC port and, with a canary, an
   * ingress-nginx canary (`<name>-canary`) with the canary's weight and header. Needs gRPC on (CLASSIFIER_GRPC_ENABLED).
   * @default - no gRPC Ingress
   */
  readonly grpcIngress?: Omit<GrpcIngressProps, "backend" | "canary" | "labels">;
}

/**
 * A stable and a canary track of one classifier instance: each its own ConfigMap, Deployment, Service, HPA, PDB,
 * NetworkPolicy and ServiceMonitor (label `track: stable|canary`, selectors by track so they survive promotions),
 * and the traffic split by ingress-nginx's canary annotations. No controller beyond ingress-nginx: promotion is
 * a change of the props (`npm run release -- promote`) and an apply.
 */
export class ReleaseTracks extends Construct {
  readonly stable: InferenceService;
  readonly canary?: InferenceService;
  readonly ingress?: ClassifierIngress;
  readonly canaryIngress?: ClassifierIngress;
  readonly grpcIngress?: GrpcIngress;
  readonly grpcCanaryIngress?: GrpcIngress;

  constructor(scope: Construct, id: string, props: ReleaseTracksProps) {
    super(scope, id);
    const canary = props.canary;
    if (canary !== undefined) assertCanary(props, canary);

    this.stable = new InferenceService(this, "Stable", { ...props.service, track: "stable", modelVersion: props.stable.modelVersion });
    if (canary !== undefined) {
      this.canary = new InferenceService(this, "Canary", {
        ...props.service,
        ...canaryReplicas(props.service, canary.minReplicas),
        track: "canary",
        image: canary.image ?? props.service.image,
        modelVersion: canary.modelVersion ?? props.stable.modelVersion,
      });
    }

    if (props.ingress !== undefined) {
      const name = props.ingress.name ?? this.stable.name;
      this.ingress = new ClassifierIngress(this, "Ingress", {
        ...props.ingress,
        name,
        backend: this.stable,
        labels: this.stable.labels,
      });
      if (this.canary !== undefined && canary !== undefined) {
        this.canaryIngress = new ClassifierIngress(this, "CanaryIngress", {
          ...props.ingress,
          name: `${name}-canary`,
          backend: this.canary,
          labels: this.canary.labels,
          canary: { weight: canary.weight, header: canary.header ?? RELEASE_TRACKS_DEFAULTS.canaryHeader },
        });
      }
    }

    if (props.grpcIngress !== undefined) {
      const grpcName = props.grpcIngress.name ?? `${this.stable.name}${GRPC_INGRESS_DEFAULTS.nameSuffix}`;
      this.grpcIngress = new GrpcIngress(this, "GrpcIngress", {
        ...props.grpcIngress,
        name: grpcName,
        backend: grpcBackendOf(this.stable),
        labels: this.stable.labels,
      });
      if (this.canary !== undefined && canary !== undefined) {
        this.grpcCanaryIngress = new GrpcIngress(this, "GrpcCanaryIngress", {
          ...props.grpcIngress,
          name: `${grpcName}-canary`,
          backend: grpcBackendOf(this.canary),
          labels: this.canary.labels,
          canary: { weight: canary.weight, header: canary.header ?? RELEASE_TRACKS_DEFAULTS.canaryHeader },
        });
      }
    }
  }
}

/** Refuses a canary that cannot work, before any object exists. */
function assertCanary(props: ReleaseTracksProps, canary: CanaryTrackProps): void {
  assertInteger(canary.weight, "canary weight", { min: 0, max: 100 });
  if (canary.modelVersion === undefined && canary.image === undefined) {
    throw new Error("the canary sets neither modelVersion nor image: it needs a version to compare with the stable track");
  }
  const stableImage = renderImage(props.service.image);
  const canaryImage = renderImage(canary.image ?? props.service.image);
  const canaryVersion = canary.modelVersion ?? props.stable.modelVersion;
  if (canaryVersion === props.stable.modelVersion && canaryImage === stableImage) {
    throw new Error(
      `the canary runs model version ${canaryVersion} in ${canaryImage}, exactly as the stable track does: ` +
        "give it another modelVersion or image",
    );
  }
  if (props.ingress === undefined) {
    throw new Error("a canary needs an Ingress: its traffic weight is an ingress-nginx canary annotation");
  }
}

/** The canary's fewest pods: its own HPA range, or its replica count. */
function canaryReplicas(
  service: ReleaseTracksProps["service"],
  minReplicas: number | undefined,
): { autoscaling?: AutoscalingProps; replicas?: number } {
  const stableFewest = service.autoscaling?.minReplicas ?? service.replicas ?? 1;
  const fewest = minReplicas ?? Math.min(stableFewest, RELEASE_TRACKS_DEFAULTS.canaryMinReplicas);
  assertInteger(fewest, "canary minReplicas", { min: 1 });
  if (service.autoscaling === undefined) return { replicas: fewest };
  if (fewest > service.autoscaling.maxReplicas) {
    throw new Error(`canary minReplicas (${fewest}) is above the autoscaling maxReplicas (${service.autoscaling.maxReplicas})`);
  }
  return { autoscaling: { ...service.autoscaling, minReplicas: fewest } };
}
