import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { acceleratedConfig, renderAccelerator } from "./accelerator";
import { InferenceAutoscaler } from "./autoscaling";
import { TRACK_LABEL, type ReleaseTrack } from "./canary-analysis";
import { configChecksum, modelVersionConfig, renderConfigData } from "./config-map";
import { resolveResources, threadsForCpuLimit } from "./container-resources";
import { renderImage } from "./image";
import { INFERENCE_SERVICE_DEFAULTS, type InferenceServiceProps, type ServiceType } from "./inference-service-props";
import type { HttpBackend } from "./ingress";
import { assertDnsLabel, assertLabelValue, selectorLabels, standardLabels } from "./labels";
import { PodIngressPolicy } from "./network-policy";
import { CONTAINER_NAME, assertShutdownTiming, renderPodTemplate } from "./pod-spec";
import { assertDistinctProbes, type ExposedPort } from "./probes";
import { WorkloadServiceAccount, renderImagePullSecrets } from "./service-account";
import { GRPC_CONTRACT, HTTP_CONTRACT, METRIC_NAMES, loadConfig, type Config } from "./service-contract";
import { ServiceMonitor } from "./service-monitor";
import { assertInteger, assertPort } from "./validation";
import { RequestRecommender } from "./vertical-autoscaler";
import { writableVolumes } from "./writable-volumes";

/**
 * The PyramidNet classifier on Kubernetes: ServiceAccount, ConfigMap (rendered from the service's config schema),
 * Deployment, Service, optional HPA, PodDisruptionBudget (more than one replica), NetworkPolicy, ServiceMonitor and
 * optional VerticalPodAutoscaler (recommendations only).
 *
 * Every name and selector comes from the props, never from construct ids, and every impossible setting is refused
 * at synth time with an error that names it. The pieces live in their own modules: the Props and their defaults
 * (inference-service-props.ts), the pod template (pod-spec.ts), resources, ConfigMap data and volumes.
 */
export class InferenceService extends Construct implements HttpBackend {
  readonly namespace: string;
  /** The app.kubernetes.io/name label. */
  readonly name: string;
  /** The name of the Deployment, Service, HPA, PDB, NetworkPolicy and ServiceMonitor (the name, plus the track). */
  readonly objectName: string;
  readonly serviceName: string;
  /** The release track, when the objects serve one. */
  readonly track?: ReleaseTrack;
  readonly servicePortName: string = HTTP_CONTRACT.portName;
  /** The port the Service listens on. */
  readonly servicePort: number;
  /** The Service's gRPC port, for a gRPC Ingress; undefined when the configuration turns gRPC off. */
  readonly grpcBackend?: HttpBackend;
  /** The Service's ports: HTTP, and gRPC unless the configuration turns it off. */
  readonly servicePorts: readonly k8s.ServicePort[];
  readonly maxRequestBytes: number;
  /** Labels that select the pods. */
  readonly selector: Readonly<Record<string, string>>;
  /** The app.kubernetes.io labels on every object (a superset of the selector). */
  readonly labels: Readonly<Record<string, string>>;
  /** The validated configuration the pods run with. */
  readonly config: Config;
  /** The ConfigMap's data: every CLASSIFIER_* variable. */
  readonly configData: Readonly<Record<string, string>>;

  readonly serviceAccount: WorkloadServiceAccount;
  readonly configMap: k8s.KubeConfigMap;
  readonly deployment: k8s.KubeDeployment;
  readonly service: k8s.KubeService;
  readonly autoscaler?: InferenceAutoscaler;
  readonly podDisruptionBudget?: k8s.KubePodDisruptionBudget;
  readonly networkPolicy: PodIngressPolicy;
  readonly serviceMonitor: ServiceMonitor;
  readonly recommender?: RequestRecommender;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    const name = props.name ?? INFERENCE_SERVICE_DEFAULTS.name;
    const instance = props.instance ?? name;
    assertDnsLabel(props.namespace, "namespace");
    assertDnsLabel(name, "name");
    assertLabelValue(instance, "instance");
    this.namespace = props.namespace;
    this.name = name;
    this.track = props.track;
    const objectName = props.track === undefined ? name : `${name}-${props.track}`;
    assertDnsLabel(objectName, "name with its track");
    this.objectName = objectName;
    this.serviceName = objectName;

    const image = renderImage(props.image);
    // The tag doubles as the app.kubernetes.io/version label, which is stricter (63 characters).
    assertLabelValue(props.image.tag, "image tag (used as the app.kubernetes.io/version label)");
    const identity = {
      name,
      instance,
      version: props.image.tag,
      component: "inference-server",
      partOf: props.partOf ?? INFERENCE_SERVICE_DEFAULTS.partOf,
    };
    const trackLabel: Record<string, string> = props.track === undefined ? {} : { [TRACK_LABEL]: props.track };
    this.selector = { ...selectorLabels(identity), ...trackLabel };
    this.labels = { ...standardLabels(identity), ...trackLabel };
    const metadata = (objectName: string) => ({ name: objectName, namespace: props.namespace, labels: { ...this.labels } });

    const resources = resolveResources(props.resources);
    const accelerator = props.accelerator === undefined ? undefined : renderAccelerator(props.accelerator);
    const config = acceleratedConfig(props.accelerator, modelVersionConfig(props.modelVersion, props.config ?? {}));
    this.configData = renderConfigData(config, threadsForCpuLimit(resources.cpu));
    this.config = loadConfig(this.configData);
    this.maxRequestBytes = this.config.maxRequestSize;

    const shutdown = {
      terminationGracePeriodSeconds: props.terminationGracePeriodSeconds ?? INFERENCE_SERVICE_DEFAULTS.terminationGracePeriodSeconds,
      preStopDelaySeconds: props.preStopDelaySeconds ?? INFERENCE_SERVICE_DEFAULTS.preStopDelaySeconds,
    };
    assertShutdownTiming(shutdown, this.config.shutdownGraceMs);

    if (props.replicas !== undefined && props.autoscaling !== undefined) {
      throw new Error("set either replicas or autoscaling, not both: the HPA owns the replica count");
    }
    const replicas = props.replicas ?? INFERENCE_SERVICE_DEFAULTS.replicas;
    assertInteger(replicas, "replicas", { min: 1 });

    const serviceType = props.serviceType ?? INFERENCE_SERVICE_DEFAULTS.serviceType;
    const sourceRanges = loadBalancerSourceRanges(serviceType, props.loadBalancerSourceRanges);
    const servicePort = props.servicePort ?? INFERENCE_SERVICE_DEFAULTS.servicePort;
    assertPort(servicePort, "servicePort");
    this.servicePort = servicePort;

    const port: ExposedPort = { name: HTTP_CONTRACT.portName, containerPort: this.config.port };
    const grpcPort: ExposedPort | undefined = this.config.grpcEnabled ? { name: GRPC_CONTRACT.portName, containerPort: this.config.grpcPort } : undefined;
    const grpcServicePort = props.grpcServicePort ?? INFERENCE_SERVICE_DEFAULTS.grpcServicePort;
    assertPort(grpcServicePort, "grpcServicePort");
    if (grpcPort !== undefined && grpcServicePort === servicePort) {
      throw new Error(`grpcServicePort (${grpcServicePort}) must differ from servicePort: one Service port per protocol`);
    }
    assertDistinctProbes(props.probes);

    const imagePullSecrets = renderImagePullSecrets(props.imagePullSecrets ?? INFERENCE_SERVICE_DEFAULTS.imagePullSecrets);

    this.serviceAccount = new WorkloadServiceAccount(this, "ServiceAccount", {
      name: objectName,
      namespace: props.namespace,
      labels: this.labels,
    });

    const configMapName = `${objectName}-config`;
    this.configMap = new k8s.KubeConfigMap(this, "ConfigMap", {
      metadata: metadata(configMapName),
      data: { ...this.configData },
    });

    this.deployment = new k8s.KubeDeployment(this, "Deployment", {
      metadata: metadata(objectName),
      spec: {
        replicas: props.autoscaling ? undefined : replicas,
        selector: { matchLabels: { ...this.selector } },
        strategy: {
          type: "RollingUpdate",
          // Capacity never drops during a rollout: a new pod must be ready before an old one goes.
          rollingUpdate: { maxSurge: k8s.IntOrString.fromNumber(1), maxUnavailable: k8s.IntOrString.fromNumber(0) },
        },
        template: renderPodTemplate({
          labels: this.labels,
          selector: this.selector,
          image,
          imagePullPolicy: props.imagePullPolicy ?? INFERENCE_SERVICE_DEFAULTS.imagePullPolicy,
          configMapName,
          configChecksum: configChecksum(this.configData),
          port,
          extraPorts: grpcPort === undefined ? [] : [grpcPort],
          resources,
          probes: props.probes,
          volumes: writableVolumes(
            props.writablePaths ?? INFERENCE_SERVICE_DEFAULTS.writablePaths,
            props.writableVolumeSize ?? INFERENCE_SERVICE_DEFAULTS.writableVolumeSize,
          ),
          shutdown,
          nodeSpread: props.nodeSpread ?? INFERENCE_SERVICE_DEFAULTS.nodeSpread,
          spreadAcrossZones: props.spreadAcrossZones ?? INFERENCE_SERVICE_DEFAULTS.spreadAcrossZones,
          serviceAccountName: this.serviceAccount.name,
          imagePullSecrets,
          accelerator,
        }),
      },
    });

    this.servicePorts = [
      { name: this.servicePortName, port: servicePort, targetPort: k8s.IntOrString.fromString(port.name), protocol: "TCP" },
      ...(grpcPort === undefined
        ? []
        : [
            {
              name: GRPC_CONTRACT.portName,
              port: grpcServicePort,
              targetPort: k8s.IntOrString.fromString(grpcPort.name),
              protocol: "TCP",
              appProtocol: GRPC_CONTRACT.appProtocol,
            },
          ]),
    ];
    this.service = new k8s.KubeService(this, "Service", {
      metadata: metadata(objectName),
      spec: {
        type: serviceType,
        selector: { ...this.selector },
        ports: this.servicePorts.map((servicePort) => ({ ...servicePort })),
        ...(serviceType === "LoadBalancer"
          ? // Local keeps the client's address, which the NetworkPolicy's ipBlock rule and rate limits need.
            { externalTrafficPolicy: "Local", loadBalancerSourceRanges: [...sourceRanges] }
          : {}),
      },
    });

    if (props.autoscaling) {
      this.autoscaler = new InferenceAutoscaler(this, "Autoscaler", {
        ...props.autoscaling,
        name: objectName,
        namespace: props.namespace,
        labels: this.labels,
        deploymentName: objectName,
        requestsPerSecondMetric: METRIC_NAMES.requestsPerSecond,
      });
    }
    const fewestReplicas = this.autoscaler?.minReplicas ?? replicas;
    if (fewestReplicas > 1) {
      this.podDisruptionBudget = new k8s.KubePodDisruptionBudget(this, "DisruptionBudget", {
        metadata: metadata(objectName),
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: { ...this.selector } },
          // A crash-looping pod must not block node drains.
          unhealthyPodEvictionPolicy: "AlwaysAllow",
        },
      });
    }

    this.networkPolicy = new PodIngressPolicy(this, "NetworkPolicy", {
      metadata: metadata(objectName),
      podSelector: this.selector,
      port: port.containerPort,
      extraPorts: grpcPort === undefined ? [] : [grpcPort.containerPort],
      access: props.networkAccess,
      sourceRanges,
    });

    if (grpcPort !== undefined) {
      this.grpcBackend = { namespace: this.namespace, serviceName: objectName, servicePortName: GRPC_CONTRACT.portName, maxRequestBytes: this.maxRequestBytes };
    }

    this.serviceMonitor = new ServiceMonitor(this, "ServiceMonitor", {
      name: objectName,
      namespace: props.namespace,
      labels: { ...this.labels, ...(props.monitoring?.serviceMonitorLabels ?? INFERENCE_SERVICE_DEFAULTS.serviceMonitorLabels) },
      serviceSelector: this.selector,
      portName: this.servicePortName,
      path: HTTP_CONTRACT.metricsPath,
      interval: props.monitoring?.scrapeInterval,
      // The service does not know its track; Prometheus takes it from the pod label.
      podTargetLabels: props.track === undefined ? undefined : [TRACK_LABEL],
    });

    if (props.verticalAutoscaling) {
      this.recommender = new RequestRecommender(this, "Recommender", {
        ...props.verticalAutoscaling,
        name: objectName,
        namespace: props.namespace,
        labels: this.labels,
        deploymentName: objectName,
        containerName: CONTAINER_NAME,
      });
    }
  }
}

/** The client CIDRs a LoadBalancer admits; refused on any other Service type. */
function loadBalancerSourceRanges(serviceType: ServiceType, ranges: readonly string[] | undefined): readonly string[] {
  if (ranges !== undefined && serviceType !== "LoadBalancer") {
    throw new Error("loadBalancerSourceRanges needs serviceType LoadBalancer");
  }
  return serviceType === "LoadBalancer" ? (ranges ?? INFERENCE_SERVICE_DEFAULTS.loadBalancerSourceRanges) : [];
}
