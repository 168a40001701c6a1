/**
 * Every synth-time refusal of infra/ and charts/, each with its exact message: a setting Kubernetes (or the
 * service) would reject fails `npm run synth` with an error that names it, before anything reaches a cluster.
 */
import { Testing } from "cdk8s";
import { buildApp } from "../../charts/app";
import { PyramidNetChart } from "../../charts/pyramidnet-chart";
import { parseReleaseTable, promoteCanary, rollBackCanary } from "../../charts/release-table";
import {
  AppNamespace,
  CanaryRollout,
  type CanaryRolloutProps,
  ClassifierIngress,
  GrpcIngress,
  type GrpcIngressProps,
  InferenceService,
  ReleaseTracks,
  type ReleaseTracksProps,
  InferenceAutoscaler,
  type InferenceAutoscalerProps,
  type ClassifierIngressProps,
  PodIngressPolicy,
  type PodIngressPolicyProps,
  RequestRecommender,
  type RequestRecommenderProps,
  ServiceMonitor,
  type ServiceMonitorProps,
  grpcBackendOf,
  nginxSize,
  parseQuantity,
  renderImage,
  SLO_DEFAULTS,
  buildDashboard,
  monitoringRuleGroups,
  requestRateRule,
  type MonitoringRulesProps,
} from "../../infra";
import { assertInteger, assertPort } from "../../infra/validation";
import { writableVolumes } from "../../infra/writable-volumes";
import { TEST_SERVICE_PROPS, specOf, synthConstructs, synthService } from "./manifests";

const AUTOSCALER: InferenceAutoscalerProps = {
  name: "pyramidnet",
  namespace: "pyramidnet-test",
  labels: {},
  deploymentName: "pyramidnet",
  requestsPerSecondMetric: "http_requests_per_second",
  minReplicas: 1,
  maxReplicas: 3,
};
const BACKEND = { namespace: "pyramidnet-test", serviceName: "pyramidnet", servicePortName: "http", maxRequestBytes: 1024 };
const INGRESS: ClassifierIngressProps = { backend: BACKEND, host: "pyramidnet.example.com" };
const GRPC_INGRESS: GrpcIngressProps = {
  backend: { ...BACKEND, servicePortName: "grpc" },
  host: "grpc.pyramidnet.example.com",
  tls: { clusterIssuer: "letsencrypt" },
};
const grpcIngress = (overrides: Partial<GrpcIngressProps>) => () =>
  synthConstructs((scope) => new GrpcIngress(scope, "GrpcIngress", { ...GRPC_INGRESS, ...overrides }));
const MONITOR: ServiceMonitorProps = {
  name: "pyramidnet",
  namespace: "pyramidnet-test",
  labels: {},
  serviceSelector: { app: "pyramidnet" },
  portName: "http",
  path: "/metrics",
};
const POLICY_METADATA = { name: "pyramidnet", namespace: "pyramidnet-test", labels: {} };
const RECOMMENDER: RequestRecommenderProps = {
  name: "pyramidnet",
  namespace: "pyramidnet-test",
  labels: {},
  deploymentName: "pyramidnet",
  containerName: "classifier",
};
const GPU = { runtimeClassName: "nvidia" };
const CORES = (limit: string) => ({ cpu: { request: "500m", limit }, memory: { request: "512Mi", limit: "1Gi" } });

const autoscaler = (overrides: Partial<InferenceAutoscalerProps>) => () =>
  synthConstructs((scope) => new InferenceAutoscaler(scope, "Autoscaler", { ...AUTOSCALER, ...overrides }));
const ingress = (overrides: Partial<ClassifierIngressProps>) => () =>
  synthConstructs((scope) => new ClassifierIngress(scope, "Ingress", { ...INGRESS, ...overrides }));
const monitor = (overrides: Partial<ServiceMonitorProps>) => () =>
  synthConstructs((scope) => new ServiceMonitor(scope, "Monitor", { ...MONITOR, ...overrides }));
const RULES: MonitoringRulesProps = {
  namespace: "pyramidnet-test",
  groupPrefix: "pyramidnet-test",
  workloadNames: ["pyramidnet"],
  containerName: "classifier",
  maxQueue: 256,
  maxConcurrentRequests: 64,
  objectives: SLO_DEFAULTS,
  runbookUrl: "docs/runbook.md",
};
const rules = (overrides: Partial<MonitoringRulesProps>) => () => monitoringRuleGroups({ ...RULES, ...overrides });
const service = (overrides: Parameters<typeof synthService>[0]) => () => synthService(overrides);
const TRACKS: ReleaseTracksProps = {
  service: TEST_SERVICE_PROPS,
  stable: { modelVersion: "1.0.0" },
  canary: { modelVersion: "1.1.0", weight: 10 },
  ingress: { host: "pyramidnet.example.com" },
};
const tracks = (overrides: Partial<ReleaseTracksProps>) => () =>
  synthConstructs((scope) => new ReleaseTracks(scope, "Release", { ...TRACKS, ...overrides }));
const withCanary = (canary: Partial<NonNullable<ReleaseTracksProps["canary"]>>) =>
  tracks({ canary: { ...TRACKS.canary!, ...canary } });
const rollout = (overrides: Partial<Omit<CanaryRolloutProps, "service">>, serviceOverrides: Parameters<typeof synthService>[0] = {}) => () =>
  synthConstructs((scope) => {
    const classifier = new InferenceService(scope, "Classifier", { ...TEST_SERVICE_PROPS, ...serviceOverrides });
    return new CanaryRollout(scope, "Rollout", { service: classifier, stableIngressName: "pyramidnet", modelVersion: "1.1.0", ...overrides });
  });
const RELEASES = "releases.json";
const policy = (access: PodIngressPolicyProps["access"]) => () =>
  synthConstructs((scope) => new PodIngressPolicy(scope, "Policy", { metadata: POLICY_METADATA, podSelector: {}, port: 8000, access }));
const recommender = (overrides: Partial<RequestRecommenderProps>) => () =>
  synthConstructs((scope) => new RequestRecommender(scope, "Recommender", { ...RECOMMENDER, ...overrides }));

type Case = readonly [setting: string, refused: () => unknown, message: string | RegExp];

const CASES: Record<string, readonly Case[]> = {
  InferenceService: [
    ["namespace not a DNS label", service({ namespace: "Pyramid_Net" }), 'namespace "Pyramid_Net" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
    ["name not a DNS label", service({ name: "-pyramidnet" }), 'name "-pyramidnet" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
    ["instance not a label value", service({ instance: "a/b" }), 'instance "a/b" is not a valid label value (at most 63 characters, alphanumeric at both ends)'],
    [
      "image tag too long for the version label",
      service({ image: { repository: "pyramidnet", tag: "v".repeat(64) } }),
      `image tag (used as the app.kubernetes.io/version label) "${"v".repeat(64)}" is not a valid label value (at most 63 characters, alphanumeric at both ends)`,
    ],
    ["cpu request malformed", service({ resources: { ...CORES("1"), cpu: { request: "1 core", limit: "1" } } }), 'cpu request "1 core" is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)'],
    ["cpu request zero", service({ resources: { ...CORES("1"), cpu: { request: "0", limit: "1" } } }), 'cpu request "0" must be above zero'],
    ["cpu limit below request", service({ resources: { ...CORES("1"), cpu: { request: "2", limit: "1" } } }), 'cpu limit "1" is below its request "2"'],
    [
      "memory limit below request",
      service({ resources: { ...CORES("1"), memory: { request: "2Gi", limit: "1536Mi" } } }),
      'memory limit "1536Mi" is below its request "2Gi"',
    ],
    [
      "ephemeral storage limit below request",
      service({ resources: { ...CORES("1"), ephemeralStorage: { request: "1Gi", limit: "64Mi" } } }),
      'ephemeral-storage limit "64Mi" is below its request "1Gi"',
    ],
    ["fractional cpu limit", service({ resources: CORES("1500m") }), 'cpu limit "1500m" must be whole cores (1, 2, ...): CLASSIFIER_ORT_INTRA_OP_THREADS is set to it'],
    ["cpu limit under one core", service({ resources: CORES("500m") }), 'cpu limit "500m" must be whole cores (1, 2, ...): CLASSIFIER_ORT_INTRA_OP_THREADS is set to it'],
    [
      "threads that differ from the cpu limit",
      service({ resources: CORES("2"), config: { intraOpThreads: 1 } }),
      "CLASSIFIER_ORT_INTRA_OP_THREADS=1 does not match the cpu limit (2 cores): leave it unset, it is derived from the limit",
    ],
    [
      "a config value the service refuses",
      service({ config: { maxBatchFiles: 0 } }),
      // The service words its own part; infra's prefix and the variable's name are what this side promises.
      /^config overrides rejected by the service's validator: [\s\S]*CLASSIFIER_MAX_BATCH_FILES="0"/,
    ],
    ["grace period zero", service({ terminationGracePeriodSeconds: 0 }), "terminationGracePeriodSeconds must be a positive integer, got 0"],
    ["preStop delay negative", service({ preStopDelaySeconds: -1 }), "preStopDelaySeconds must be a non-negative integer, got -1"],
    [
      "preStop plus drain longer than the grace period",
      service({ terminationGracePeriodSeconds: 10 }),
      "preStopDelaySeconds (5 s) + CLASSIFIER_SHUTDOWN_GRACE_MS (20000 ms) must be shorter than terminationGracePeriodSeconds (10 s), or the kubelet kills in-flight requests",
    ],
    ["replicas and autoscaling", service({ replicas: 2 }), "set either replicas or autoscaling, not both: the HPA owns the replica count"],
    ["replicas zero", service({ autoscaling: undefined, replicas: 0 }), "replicas must be a positive integer, got 0"],
    ["source ranges on ClusterIP", service({ loadBalancerSourceRanges: ["10.0.0.0/8"] }), "loadBalancerSourceRanges needs serviceType LoadBalancer"],
    ["service port out of range", service({ servicePort: 70000 }), "servicePort must be 1-65535, got 70000"],
    [
      "liveness and readiness on one path",
      service({ probes: { readiness: { path: "/health/live" } } }),
      "liveness and readiness probes both check /health/live: a readiness failure (overload, draining) would restart the pod",
    ],
    [
      "probe on an unexposed port",
      service({ probes: { liveness: { port: "metrics" } } }),
      'liveness probe targets port "metrics", which the container does not expose (it exposes http (8000))',
    ],
    ["probe path not absolute", service({ probes: { startup: { path: "health" } } }), 'startup probe path "health" must start with /'],
    ["probe period zero", service({ probes: { readiness: { periodSeconds: 0 } } }), "readiness probe periodSeconds must be a positive integer, got 0"],
    ["probe delay negative", service({ probes: { liveness: { initialDelaySeconds: -5 } } }), "liveness probe initialDelaySeconds must be a non-negative integer, got -5"],
    ["writable path relative", service({ writablePaths: ["tmp"] }), 'writable path "tmp" must be an absolute directory other than /'],
    ["writable path root", service({ writablePaths: ["/"] }), 'writable path "/" must be an absolute directory other than /'],
    ["writable paths colliding", service({ writablePaths: ["/var/cache", "/var-cache"] }), "writable paths /var/cache, /var-cache repeat or collide"],
    ["writable volume size zero", service({ writableVolumeSize: "0" }), "writableVolumeSize must be above zero"],
    ["source range not a CIDR", service({ serviceType: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.0/33"] }), '"10.0.0.0/33" is not a CIDR such as 203.0.113.0/24'],
    ["scrape interval malformed", service({ monitoring: { scrapeInterval: "often" } }), 'interval "often" is not a Prometheus duration such as 15s or 1m'],
    ["pull secret not a Secret name", service({ imagePullSecrets: ["Registry"] }), 'imagePullSecrets entry "Registry" must be a DNS subdomain: lowercase letters, digits, - and ., at most 253 characters'],
    ["pull secret twice", service({ imagePullSecrets: ["ghcr", "ghcr"] }), "imagePullSecrets names ghcr more than once"],
    [
      "CUDA without an accelerator",
      service({ config: { executionProvider: "cuda" } }),
      "CLASSIFIER_ORT_EXECUTION_PROVIDER=cuda needs a GPU: set accelerator (the pod requests none, so the service would stop at start)",
    ],
    [
      "an accelerator with the CPU provider",
      service({ accelerator: GPU, config: { executionProvider: "cpu" } }),
      "accelerator is set but CLASSIFIER_ORT_EXECUTION_PROVIDER=cpu: the pod would hold a GPU it never uses (drop one of the two)",
    ],
    ["no GPU", service({ accelerator: { count: 0 } }), "accelerator count must be a positive integer, got 0"],
    [
      "GPU resource without a domain",
      service({ accelerator: { resourceName: "gpu" } }),
      'accelerator resourceName "gpu" must be an extended resource such as nvidia.com/gpu (domain/name, outside kubernetes.io)',
    ],
    [
      "GPU resource in kubernetes.io",
      service({ accelerator: { resourceName: "kubernetes.io/gpu" } }),
      'accelerator resourceName "kubernetes.io/gpu" must be an extended resource such as nvidia.com/gpu (domain/name, outside kubernetes.io)',
    ],
    [
      "node selector value not a label value",
      service({ accelerator: { nodeSelector: { "nvidia.com/gpu.product": "A100 80GB" } } }),
      'accelerator nodeSelector "nvidia.com/gpu.product" "A100 80GB" is not a valid label value (at most 63 characters, alphanumeric at both ends)',
    ],
    [
      "node selector key malformed",
      service({ accelerator: { nodeSelector: { "gpu type": "a100" } } }),
      'accelerator nodeSelector key "gpu type" is not a valid label key (optional DNS-subdomain prefix and /, then at most 63 characters)',
    ],
    [
      "RuntimeClass not a DNS subdomain",
      service({ accelerator: { runtimeClassName: "NVIDIA" } }),
      'accelerator runtimeClassName "NVIDIA" must be a DNS subdomain: lowercase letters, digits, - and ., at most 253 characters',
    ],
    [
      "toleration Exists with a value",
      service({ accelerator: { tolerations: [{ key: "nvidia.com/gpu", value: "present" }] } }),
      'accelerator toleration "nvidia.com/gpu" has operator Exists and a value ("present"): use operator Equal, or drop the value',
    ],
    [
      "toleration Equal without a value",
      service({ accelerator: { tolerations: [{ key: "sku", operator: "Equal" }] } }),
      'accelerator toleration "sku" has operator Equal and no value',
    ],
  ],
  RequestRecommender: [
    ["nothing recommended", recommender({ controlledResources: [] }), "verticalAutoscaling controlledResources is empty: name cpu, memory or both"],
    ["a resource twice", recommender({ controlledResources: ["cpu", "cpu"] }), "verticalAutoscaling controlledResources repeats a resource (cpu, cpu)"],
    [
      "a bound on a resource not recommended",
      recommender({ controlledResources: ["cpu"], maxAllowed: { memory: "4Gi" } }),
      "verticalAutoscaling maxAllowed.memory is set, but memory is not in controlledResources",
    ],
    ["a malformed bound", recommender({ minAllowed: { cpu: "half" } }), 'verticalAutoscaling minAllowed.cpu "half" is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)'],
    ["a zero bound", recommender({ maxAllowed: { memory: "0" } }), 'verticalAutoscaling maxAllowed.memory "0" must be above zero'],
    [
      "minimum above maximum",
      recommender({ minAllowed: { cpu: "2" }, maxAllowed: { cpu: "1500m" } }),
      'verticalAutoscaling minAllowed.cpu "2" is above maxAllowed.cpu "1500m"',
    ],
  ],
  image: [
    ["repository with a tag", () => renderImage({ repository: "pyramidnet:1.0.0", tag: "1.0.0" }), 'image repository "pyramidnet:1.0.0" is not a valid reference (lowercase path such as ghcr.io/acme/pyramidnet, no tag)'],
    ["no tag", () => renderImage({ repository: "pyramidnet", tag: " " }), 'image pyramidnet has no tag: set an exact version (a missing tag means "latest")'],
    ["latest", () => renderImage({ repository: "pyramidnet", tag: "Latest" }), 'image pyramidnet:Latest uses the "latest" tag: pin an exact version'],
    ["malformed tag", () => renderImage({ repository: "pyramidnet", tag: ".1" }), 'image tag ".1" is not valid (letters, digits, _ . -, at most 128, not starting with . or -)'],
    ["malformed digest", () => renderImage({ repository: "pyramidnet", tag: "1.0.0", digest: "sha256:abc" }), 'image digest "sha256:abc" is not valid (sha256: followed by 64 lowercase hex digits)'],
  ],
  InferenceAutoscaler: [
    ["min above max", autoscaler({ minReplicas: 5, maxReplicas: 2 }), "autoscaling minReplicas (5) is above maxReplicas (2)"],
    ["min zero", autoscaler({ minReplicas: 0 }), "autoscaling minReplicas must be a positive integer, got 0"],
    ["max fractional", autoscaler({ maxReplicas: 2.5 }), "autoscaling maxReplicas must be a positive integer, got 2.5"],
    ["cpu target above 100", autoscaler({ cpuUtilizationPercent: 120 }), "autoscaling cpuUtilizationPercent must be an integer from 1 to 100, got 120"],
    ["memory target zero", autoscaler({ memoryUtilizationPercent: 0 }), "autoscaling memoryUtilizationPercent must be an integer from 1 to 100, got 0"],
    ["requests per second zero", autoscaler({ prometheusAdapter: true, requestsPerSecondPerPod: 0 }), "autoscaling requestsPerSecondPerPod must be a positive number, got 0"],
    ["requests per second infinite", autoscaler({ prometheusAdapter: true, requestsPerSecondPerPod: Infinity }), "autoscaling requestsPerSecondPerPod must be a positive number, got Infinity"],
    ["scale-up window over an hour", autoscaler({ scaleUpStabilizationSeconds: 3601 }), "autoscaling scaleUpStabilizationSeconds must be an integer from 0 to 3600, got 3601"],
    ["scale-down window negative", autoscaler({ scaleDownStabilizationSeconds: -1 }), "autoscaling scaleDownStabilizationSeconds must be an integer from 0 to 3600, got -1"],
    ["scale-up period over 30 minutes", autoscaler({ scaleUpPeriodSeconds: 1801 }), "autoscaling scaleUpPeriodSeconds must be an integer from 1 to 1800, got 1801"],
    ["scale-up percent zero", autoscaler({ scaleUpPercent: 0 }), "autoscaling scaleUpPercent must be a positive integer, got 0"],
    ["scale-up pods zero", autoscaler({ scaleUpPods: 0 }), "autoscaling scaleUpPods must be a positive integer, got 0"],
    [
      "requests per second without prometheus-adapter",
      autoscaler({ requestsPerSecondPerPod: 100 }),
      "autoscaling requestsPerSecondPerPod needs prometheusAdapter: true. Without prometheus-adapter the HPA cannot fetch the Pods metric and then skips every scale-down (it scales up on CPU but never back down); install the adapter (dist/prometheus-adapter/values.yaml) and declare it, or drop requestsPerSecondPerPod",
    ],
    ["scale-down percent 100", autoscaler({ scaleDownPercent: 100 }), "autoscaling scaleDownPercent must be an integer from 1 to 99, got 100"],
    ["scale-down period zero", autoscaler({ scaleDownPeriodSeconds: 0 }), "autoscaling scaleDownPeriodSeconds must be an integer from 1 to 1800, got 0"],
    ["gRPC Service port equal to the HTTP one", service({ servicePort: 8001 }), "grpcServicePort (8001) must differ from servicePort: one Service port per protocol"],
    ["gRPC Service port zero", service({ grpcServicePort: 0 }), "grpcServicePort must be 1-65535, got 0"],
  ],
  GrpcIngress: [
    [
      "no TLS on a main gRPC Ingress",
      grpcIngress({ tls: undefined }),
      "the gRPC Ingress pyramidnet-grpc (host grpc.pyramidnet.example.com) must terminate TLS: ingress-nginx serves gRPC (HTTP/2) only over TLS, so set its tls",
    ],
    ["name not a DNS label", grpcIngress({ name: "Grpc" }), 'gRPC ingress name "Grpc" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
    ["host without a dot", grpcIngress({ host: "grpc" }), 'ingress host "grpc" must be a lowercase DNS name with at least one dot'],
    ["rate limit zero", grpcIngress({ rateLimitPerSecond: 0 }), "gRPC rateLimitPerSecond must be a positive integer, got 0"],
    ["empty ClusterIssuer", grpcIngress({ tls: { clusterIssuer: "" } }), "tls.clusterIssuer must not be empty"],
    ["canary weight above 100", grpcIngress({ canary: { weight: 101 } }), "canary weight must be an integer from 0 to 100, got 101"],
    [
      "a classifier with gRPC off",
      () => synthConstructs((scope) => grpcBackendOf(new InferenceService(scope, "Classifier", { ...TEST_SERVICE_PROPS, config: { grpcEnabled: false } }))),
      "a gRPC Ingress needs the gRPC port, which pyramidnet does not serve (CLASSIFIER_GRPC_ENABLED is false): turn gRPC on or leave the gRPC Ingress out",
    ],
  ],
  ClassifierIngress: [
    ["name not a DNS label", ingress({ name: "Pyramid" }), 'ingress name "Pyramid" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
    ["host without a dot", ingress({ host: "localhost" }), 'ingress host "localhost" must be a lowercase DNS name with at least one dot'],
    ["rate limit zero", ingress({ rateLimitPerSecond: 0 }), "rateLimitPerSecond must be a positive integer, got 0"],
    ["empty ClusterIssuer", ingress({ tls: { clusterIssuer: " " } }), "tls.clusterIssuer must not be empty"],
    ["secret not a DNS label", ingress({ tls: { clusterIssuer: "letsencrypt", secretName: "TLS" } }), 'tls secretName "TLS" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
    ["no path", ingress({ paths: [] }), "the Ingress must route at least one path"],
    ["relative path", ingress({ paths: [{ path: "predict", pathType: "Prefix" }] }), 'ingress path "predict" must start with "/"'],
    ["backend body size zero", ingress({ backend: { ...BACKEND, maxRequestBytes: 0 } }), "body size must be a positive integer, got 0"],
    ["body size fractional", () => nginxSize(1.5), "body size must be a positive integer, got 1.5"],
  ],
  AppNamespace: [
    ["name not a DNS label", () => synthConstructs((s) => new AppNamespace(s, "Namespace", { name: "Dev" })), 'namespace "Dev" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
  ],
  PodIngressPolicy: [
    [
      "ingress controller namespace not a DNS label",
      () => synthConstructs((s) => new PodIngressPolicy(s, "Policy", { metadata: POLICY_METADATA, podSelector: {}, port: 8000, access: { ingressControllerNamespace: "Ingress" } })),
      'ingressControllerNamespace "Ingress" must be a DNS label: lowercase letters, digits and -, at most 63 characters',
    ],
    [
      "Prometheus namespace not a DNS label",
      () => synthConstructs((s) => new PodIngressPolicy(s, "Policy", { metadata: POLICY_METADATA, podSelector: {}, port: 8000, access: { prometheusNamespace: "mon_itoring" } })),
      'prometheusNamespace "mon_itoring" must be a DNS label: lowercase letters, digits and -, at most 63 characters',
    ],
    [
      "IPv6 prefix over 128",
      () => synthConstructs((s) => new PodIngressPolicy(s, "Policy", { metadata: POLICY_METADATA, podSelector: {}, port: 8000, sourceRanges: ["2001:db8::/129"] })),
      '"2001:db8::/129" is not a CIDR such as 203.0.113.0/24',
    ],
    [
      "client namespace not a DNS label",
      policy({ clients: [{ namespace: "Load_Test" }] }),
      'networkAccess client namespace "Load_Test" must be a DNS label: lowercase letters, digits and -, at most 63 characters',
    ],
    [
      "client with empty pod labels",
      policy({ clients: [{ namespace: "loadtest", podLabels: {} }] }),
      "networkAccess client in loadtest has empty podLabels, which selects every pod: leave podLabels out to mean that",
    ],
    [
      "client pod label malformed",
      policy({ clients: [{ namespace: "loadtest", podLabels: { app: "load test" } }] }),
      'networkAccess client podLabels "app" "load test" is not a valid label value (at most 63 characters, alphanumeric at both ends)',
    ],
    [
      "the same client twice",
      policy({ clients: [{ namespace: "loadtest" }, { namespace: "loadtest" }] }),
      'networkAccess clients name the same client twice: {"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"loadtest"}}}',
    ],
    [
      "DNS settings without DNS egress",
      policy({ dnsNamespace: "kube-system" }),
      'networkAccess dnsNamespace and dnsPodLabels only apply with egress "dns"',
    ],
    [
      "DNS namespace not a DNS label",
      policy({ egress: "dns", dnsNamespace: "Kube-System" }),
      'networkAccess dnsNamespace "Kube-System" must be a DNS label: lowercase letters, digits and -, at most 63 characters',
    ],
  ],
  ServiceMonitor: [
    ["timeout above interval", monitor({ interval: "5s" }), "ServiceMonitor scrapeTimeout (10s) exceeds its interval (5s)"],
    ["timeout malformed", monitor({ scrapeTimeout: "10 seconds" }), 'scrapeTimeout "10 seconds" is not a Prometheus duration such as 15s or 1m'],
  ],
  "prometheus-adapter rule": [
    ["window malformed", () => requestRateRule({ counter: "http_requests_total", rateMetric: "rps", window: "2 minutes" }), 'rate window "2 minutes" is not a PromQL duration such as 2m'],
    ["counter malformed", () => requestRateRule({ counter: "http-requests", rateMetric: "rps" }), '"http-requests" is not a Prometheus metric name'],
  ],
  "monitoring rules": [
    ["availability of 100%", rules({ objectives: { ...SLO_DEFAULTS, availability: 1 } }), "SLO availability must be a ratio strictly between 0 and 1 (0.995 = 99.5%), got 1"],
    ["latency target in percent", rules({ objectives: { ...SLO_DEFAULTS, latency: { target: 99, thresholdSeconds: 0.25 } } }), "SLO latency target must be a ratio strictly between 0 and 1 (0.995 = 99.5%), got 99"],
    [
      "latency threshold between buckets",
      rules({ objectives: { ...SLO_DEFAULTS, latency: { target: 0.99, thresholdSeconds: 0.3 } } }),
      "SLO latency threshold 0.3 s is not a bucket bound of the latency histogram (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10): the share of requests under it cannot be measured",
    ],
    ["saturation ratio above 1", rules({ saturationRatio: 1.5 }), "saturationRatio must be in (0, 1], got 1.5"],
    ["time scale below 1", rules({ timing: { timeScale: 0.5 } }), "timeScale must be at least 1, got 0.5"],
    ["request rate window malformed", rules({ timing: { requestRateWindow: "ten seconds" } }), 'requestRateWindow "ten seconds" is not a Prometheus duration such as 15s or 1m'],
    ["window scaled below a millisecond", rules({ timing: { timeScale: 1e9 } }), /a duration must be positive/],
  ],
  "Grafana dashboard": [
    [
      "uid too long",
      () => buildDashboard({ namespace: "ns", uid: "x".repeat(41), title: "t", maxQueue: 1, maxConcurrentRequests: 1, objectives: SLO_DEFAULTS }),
      `dashboard uid "${"x".repeat(41)}" must be 1-40 letters, digits, "-" or "_"`,
    ],
  ],
  PyramidNetChart: [
    [
      "environment name not a DNS label",
      () => new PyramidNetChart(Testing.app(), "chart", { environmentName: "Staging", spec: specOf("development"), imageTag: "1.0.0" }),
      'environment name "Staging" must be a DNS label: lowercase letters, digits and -, at most 63 characters',
    ],
    [
      "public environment without TLS",
      () => {
        const { tls: _dropped, ...plain } = specOf("production").ingress;
        return new PyramidNetChart(Testing.app(), "qa", { environmentName: "qa", spec: { ...specOf("production"), ingress: plain }, imageTag: "1.0.0" });
      },
      'the qa Ingress must terminate TLS (its exposure is "public"): set ingress.tls in its environment entry',
    ],
    [
      "a gRPC Ingress without TLS, even in an internal environment",
      () =>
        new PyramidNetChart(Testing.app(), "lab", {
          environmentName: "lab",
          spec: { ...specOf("development"), grpcIngress: { host: "grpc.pyramidnet.localhost" } },
          imageTag: "1.0.0",
        }),
      "the gRPC Ingress pyramidnet-grpc (host grpc.pyramidnet.localhost) must terminate TLS: ingress-nginx serves gRPC (HTTP/2) only over TLS, so set its tls",
    ],
    [
      "a gRPC Ingress with gRPC switched off",
      () =>
        new PyramidNetChart(Testing.app(), "lab", {
          environmentName: "lab",
          spec: { ...specOf("production"), config: { ...specOf("production").config, grpcEnabled: false } },
          imageTag: "1.0.0",
        }),
      "a gRPC Ingress needs the gRPC port, which pyramidnet does not serve (CLASSIFIER_GRPC_ENABLED is false): turn gRPC on or leave the gRPC Ingress out",
    ],
  ],
  ReleaseTracks: [
    ["weight above 100", withCanary({ weight: 101 }), "canary weight must be an integer from 0 to 100, got 101"],
    ["negative weight", withCanary({ weight: -1 }), "canary weight must be an integer from 0 to 100, got -1"],
    ["fractional weight", withCanary({ weight: 2.5 }), "canary weight must be an integer from 0 to 100, got 2.5"],
    [
      "a canary without a version or image",
      tracks({ canary: { weight: 10 } }),
      "the canary sets neither modelVersion nor image: it needs a version to compare with the stable track",
    ],
    [
      "identical stable and canary versions",
      withCanary({ modelVersion: "1.0.0" }),
      "the canary runs model version 1.0.0 in pyramidnet:1.0.0, exactly as the stable track does: give it another modelVersion or image",
    ],
    [
      "the stable image named again as the canary's",
      tracks({ canary: { image: TEST_SERVICE_PROPS.image, weight: 5 } }),
      "the canary runs model version 1.0.0 in pyramidnet:1.0.0, exactly as the stable track does: give it another modelVersion or image",
    ],
    ["a canary without an Ingress", tracks({ ingress: undefined }), "a canary needs an Ingress: its traffic weight is an ingress-nginx canary annotation"],
    [
      "a gRPC Ingress with gRPC switched off",
      tracks({ service: { ...TEST_SERVICE_PROPS, config: { grpcEnabled: false } }, grpcIngress: { host: "grpc.pyramidnet.example.com", tls: { clusterIssuer: "letsencrypt" } } }),
      "a gRPC Ingress needs the gRPC port, which pyramidnet-stable does not serve (CLASSIFIER_GRPC_ENABLED is false): turn gRPC on or leave the gRPC Ingress out",
    ],
    ["canary minReplicas above maxReplicas", withCanary({ minReplicas: 5 }), "canary minReplicas (5) is above the autoscaling maxReplicas (4)"],
    ["canary minReplicas zero", withCanary({ minReplicas: 0 }), "canary minReplicas must be a positive integer, got 0"],
    ["canary header not a header name", withCanary({ header: "X Canary" }), 'canary header "X Canary" must be an HTTP header name (letters, digits, -)'],
    [
      "a model version the service would refuse",
      withCanary({ modelVersion: "1.1.0 beta" }),
      /^config overrides rejected by the service's validator: Invalid configuration:\n {2}CLASSIFIER_MODEL_VERSION="1\.1\.0 beta": expected a version MAJOR\.MINOR\.PATCH/,
    ],
    [
      "a version policy that does not load the track's version",
      tracks({ service: { ...TEST_SERVICE_PROPS, config: { modelVersionPolicy: { kind: "specific", versions: ["1.0.0"] } } } }),
      /CLASSIFIER_MODEL_VERSION="1\.1\.0": expected one of the versions CLASSIFIER_MODEL_VERSION_POLICY loads \(1\.0\.0\)/,
    ],
    [
      "a model version set twice",
      tracks({ service: { ...TEST_SERVICE_PROPS, config: { modelVersion: "1.1.0" } } }),
      "the model version is set twice: modelVersion 1.0.0 and CLASSIFIER_MODEL_VERSION=1.1.0",
    ],
  ],
  CanaryRollout: [
    [
      "a tracked InferenceService",
      rollout({}, { track: "stable" }),
      "a Rollout manages both tracks itself: give it an InferenceService without a track",
    ],
    ["no weights", rollout({ weights: [] }), "a Rollout needs at least one canary weight"],
    [
      "a gRPC Ingress to clone with gRPC switched off",
      rollout({ stableGrpcIngressName: "pyramidnet-grpc" }, { config: { grpcEnabled: false } }),
      "a gRPC Ingress needs the gRPC port, which pyramidnet does not serve (CLASSIFIER_GRPC_ENABLED is false): turn gRPC on or leave the gRPC Ingress out",
    ],
    ["a gRPC Ingress name that is not a DNS label", rollout({ stableGrpcIngressName: "Grpc" }), 'stableGrpcIngressName "Grpc" must be a DNS label: lowercase letters, digits and -, at most 63 characters'],
    ["a weight of 100", rollout({ weights: [10, 100] }), "canary weight must be an integer from 1 to 99, got 100"],
    ["decreasing weights", rollout({ weights: [25, 10] }), "canary weights must increase step by step, got 25, 10"],
    ["a pause that is not a duration", rollout({ pauseDuration: "ten minutes" }), 'pauseDuration "ten minutes" is not a duration such as 30s, 10m or 1h'],
    ["an analysis interval that is not a duration", rollout({ analysisInterval: "1 m" }), 'analysisInterval "1 m" is not a duration such as 30s, 10m or 1h'],
    ["a negative failure limit", rollout({ failureLimit: -1 }), "failureLimit must be a non-negative integer, got -1"],
    ["a model version the service would refuse", rollout({ modelVersion: "v2" }), /^modelVersion rejected by the service's validator: Invalid configuration:/],
  ],
  "release file": [
    ["not JSON", () => parseReleaseTable("{", RELEASES), /^releases\.json is not JSON: /],
    [
      "a stable track without a version",
      () => parseReleaseTable('{"production":{"stable":{}}}', RELEASES),
      "releases.json is not a valid release file: production.stable.modelVersion is missing",
    ],
    [
      "a canary without a weight, a misspelt field, a weight as text",
      () => parseReleaseTable('{"production":{"stable":{"modelVersion":"1.0.0"},"canary":{"modelVersoin":"1.1.0","weight":"10"}}}', RELEASES),
      "releases.json is not a valid release file: production.canary.modelVersoin is not a known field (modelVersion, imageTag, weight); production.canary.weight must be a number",
    ],
    [
      "an unknown field in an entry",
      () => parseReleaseTable('{"production":{"stable":{"modelVersion":"1.0.0"},"shadow":{}}}', RELEASES),
      "releases.json is not a valid release file: production.shadow is not a known field (stable, canary)",
    ],
    [
      "an empty version",
      () => parseReleaseTable('{"production":{"stable":{"modelVersion":""}}}', RELEASES),
      "releases.json is not a valid release file: production.stable.modelVersion must be a non-empty string",
    ],
    ["an array", () => parseReleaseTable("[]", RELEASES), "releases.json is not a valid release file: the release file must be an object of environments"],
    [
      "an entry for an environment the table lacks",
      () => buildApp({ outdir: "unused", imageTag: "1.0.0", environments: { production: specOf("production") }, releases: { staging: { stable: { modelVersion: "1.0.0" } } } }),
      'the release file has an entry for "staging", which is not an environment (production)',
    ],
    [
      "promoting without a canary",
      () => promoteCanary({ production: { stable: { modelVersion: "1.0.0" } } }, "production"),
      'environment "production" has no canary to promote or roll back',
    ],
    [
      "rolling back an environment without an entry",
      () => rollBackCanary({}, "development"),
      'no release entry for environment "development" in the release file',
    ],
  ],
  "shared checks": [
    ["quantity", () => parseQuantity("1.5.0", "memory limit"), 'memory limit "1.5.0" is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)'],
    ["integer above its bound", () => assertInteger(101, "percent", { min: 1, max: 100 }), "percent must be an integer from 1 to 100, got 101"],
    ["integer below a bound of 2", () => assertInteger(1, "replicas", { min: 2 }), "replicas must be an integer of at least 2, got 1"],
    ["NaN", () => assertInteger(Number.NaN, "period", { min: 0 }), "period must be a non-negative integer, got NaN"],
    ["port zero", () => assertPort(0, "port"), "port must be 1-65535, got 0"],
    ["volume size malformed", () => writableVolumes(["/tmp"], "lots"), 'writableVolumeSize "lots" is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)'],
  ],
};

describe.each(Object.entries(CASES))("%s refuses", (_construct, cases) => {
  test.each(cases)("%s", (_setting, refused, message) => {
    // An Error compares the whole message; a RegExp only where another module words part of it.
    expect(refused).toThrow(typeof message === "string" ? new Error(message) : message);
  });
});

test("the bounds checks accept their edges", () => {
  expect(() => assertInteger(100, "percent", { min: 1, max: 100 })).not.toThrow();
  expect(() => assertInteger(0, "delay", { min: 0 })).not.toThrow();
  expect(() => assertPort(65535, "port")).not.toThrow();
});
