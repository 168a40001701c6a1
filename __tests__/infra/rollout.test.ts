/** CanaryRollout alone: the Rollout, its Services, its analysis, and how it takes the Deployment over. */
import { CANARY_THRESHOLDS, CanaryRollout, InferenceService, errorRatioQuery, p99LatencyQuery, type CanaryRolloutProps } from "../../infra";
import { TEST_SERVICE_PROPS, oneOf, synthConstructs, type Manifest } from "./manifests";

interface Loose {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- read-only access to CRD specs
}

function synth(props: Partial<Omit<CanaryRolloutProps, "service">> = {}): Loose[] {
  const manifests: Manifest[] = synthConstructs((scope) => {
    const service = new InferenceService(scope, "Classifier", { ...TEST_SERVICE_PROPS, namespace: "vision" });
    new CanaryRollout(scope, "Rollout", { service, stableIngressName: "front", modelVersion: "1.1.0", ...props });
  });
  return manifests as unknown as Loose[];
}
const find = (manifests: Loose[], kind: string, name?: string) => {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ""}, found ${found.length}`);
  return found[0];
};

describe("defaults", () => {
  const manifests = synth();
  const rollout = find(manifests, "Rollout");
  const canary = rollout.spec.strategy.canary;

  test("the Rollout takes the Deployment's pod template and selects its pods", () => {
    expect(rollout.metadata.name).toBe("pyramidnet");
    expect(rollout.spec.workloadRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "pyramidnet" });
    expect(rollout.spec.selector).toEqual({
      matchLabels: { "app.kubernetes.io/name": "pyramidnet", "app.kubernetes.io/instance": "pyramidnet" },
    });
    expect(rollout.spec.template).toBeUndefined();
  });

  test("steps: 10, 25 and 50% with a 10 minute pause after each; analysis from the first weight on", () => {
    expect(canary.steps).toEqual([
      { setWeight: 10 },
      { pause: { duration: "10m" } },
      { setWeight: 25 },
      { pause: { duration: "10m" } },
      { setWeight: 50 },
      { pause: { duration: "10m" } },
    ]);
    expect(canary.analysis).toEqual({ templates: [{ templateName: "pyramidnet-canary-health" }], startingStep: 1 });
  });

  test("traffic through ingress-nginx: the stable Ingress, the X-Canary header, track labels on the pods", () => {
    expect(canary.trafficRouting).toEqual({
      nginx: { stableIngress: "front", additionalIngressAnnotations: { "canary-by-header": "X-Canary" } },
    });
    expect(canary.stableService).toBe("pyramidnet-stable");
    expect(canary.canaryService).toBe("pyramidnet-canary");
    expect(canary.stableMetadata).toEqual({ labels: { track: "stable" } });
    expect(canary.canaryMetadata).toEqual({ labels: { track: "canary" } });
  });

  test("the stable and canary Services select the pods and carry no instance label (one scrape per pod)", () => {
    for (const track of ["stable", "canary"]) {
      const service = find(manifests, "Service", `pyramidnet-${track}`);
      expect(service.spec.selector).toEqual(rollout.spec.selector.matchLabels);
      expect(service.spec.ports).toEqual([
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "grpc", port: 8001, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
      ]);
      expect(service.metadata.labels).not.toHaveProperty(["app.kubernetes.io/instance"]);
      expect(service.metadata.labels!.track).toBe(track);
    }
    const monitor = find(manifests, "ServiceMonitor");
    const matched = manifests.filter(
      (m) => m.kind === "Service" && Object.entries(monitor.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => m.metadata.labels?.[k] === v),
    );
    expect(matched.map((m) => m.metadata.name)).toEqual(["pyramidnet"]);
    expect(monitor.spec.podTargetLabels).toEqual(["track"]);
  });

  test("the hand-over: no Deployment pods, the HPA scales the Rollout, the version is pinned in the template", () => {
    const deployment = find(manifests, "Deployment");
    expect(deployment.spec.replicas).toBe(0);
    expect(deployment.spec.template.spec.containers[0].env).toEqual([
      { name: "CLASSIFIER_MODEL_VERSION", value: "1.1.0" },
      { name: "CLASSIFIER_MODEL_VERSION_POLICY", value: "specific:1.1.0" },
    ]);
    // The ConfigMap keeps the service's defaults; the template's env wins over envFrom.
    expect(oneOf(manifests as unknown as Manifest[], "ConfigMap").data!.CLASSIFIER_MODEL_VERSION_POLICY).toBe("latest:1");
    expect(find(manifests, "HorizontalPodAutoscaler").spec.scaleTargetRef).toEqual({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Rollout",
      name: "pyramidnet",
    });
  });

  test("the AnalysisTemplate measures the canary's error ratio and p99 against CANARY_THRESHOLDS", () => {
    const template = find(manifests, "AnalysisTemplate", "pyramidnet-canary-health");
    const address = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090";
    const series = { namespace: "vision", track: "canary" } as const;
    expect(template.spec.metrics).toEqual([
      {
        name: "error-ratio",
        interval: "1m",
        failureLimit: 1,
        successCondition: `result[0] <= ${CANARY_THRESHOLDS.maxErrorRatio}`,
        provider: { prometheus: { address, query: errorRatioQuery(series) } },
      },
      {
        name: "p99-latency",
        interval: "1m",
        failureLimit: 1,
        successCondition: `result[0] <= ${CANARY_THRESHOLDS.maxP99LatencySeconds}`,
        provider: { prometheus: { address, query: p99LatencyQuery(series) } },
      },
    ]);
    expect(template.spec.metrics[0].successCondition).toBe("result[0] <= 0.01");
    expect(template.spec.metrics[1].successCondition).toBe("result[0] <= 0.5");
  });
});

test("weights, pause, header, thresholds, address, interval and failure limit are props", () => {
  const manifests = synth({
    weights: [5, 50],
    pauseDuration: "1h",
    header: "X-Try",
    thresholds: { maxErrorRatio: 0.002, maxP99LatencySeconds: 0.25, window: "10m" },
    prometheusAddress: "http://prometheus.obs:9090",
    analysisInterval: "30s",
    failureLimit: 3,
  });
  const canary = find(manifests, "Rollout").spec.strategy.canary;
  expect(canary.steps).toEqual([{ setWeight: 5 }, { pause: { duration: "1h" } }, { setWeight: 50 }, { pause: { duration: "1h" } }]);
  expect(canary.trafficRouting.nginx.additionalIngressAnnotations).toEqual({ "canary-by-header": "X-Try" });
  const [errors, latency] = find(manifests, "AnalysisTemplate").spec.metrics;
  expect(errors).toMatchObject({ interval: "30s", failureLimit: 3, successCondition: "result[0] <= 0.002" });
  expect(errors.provider.prometheus.address).toBe("http://prometheus.obs:9090");
  expect(errors.provider.prometheus.query).toContain("[10m]");
  expect(latency.successCondition).toBe("result[0] <= 0.25");
});

describe("gRPC", () => {
  test("without a gRPC Ingress the controller manages the HTTP one alone (stableIngress)", () => {
    expect(find(synth(), "Rollout").spec.strategy.canary.trafficRouting.nginx).toEqual({
      stableIngress: "front",
      additionalIngressAnnotations: { "canary-by-header": "X-Canary" },
    });
  });

  test("with one, it manages both (stableIngresses), and stableGrpcBackend is the stable Service's grpc port", () => {
    let backend: CanaryRollout["stableGrpcBackend"];
    const manifests = synthConstructs((scope) => {
      const service = new InferenceService(scope, "Classifier", { ...TEST_SERVICE_PROPS, namespace: "vision" });
      backend = new CanaryRollout(scope, "Rollout", { service, stableIngressName: "front", stableGrpcIngressName: "front-grpc", modelVersion: "1.1.0" })
        .stableGrpcBackend;
    }) as unknown as Loose[];
    expect(find(manifests, "Rollout").spec.strategy.canary.trafficRouting.nginx).toEqual({
      stableIngresses: ["front", "front-grpc"],
      additionalIngressAnnotations: { "canary-by-header": "X-Canary" },
    });
    expect(backend).toEqual({ namespace: "vision", serviceName: "pyramidnet-stable", servicePortName: "grpc", maxRequestBytes: 10 * 2 ** 20 });
  });

  test("with gRPC off the track Services carry the HTTP port only", () => {
    const manifests = synthConstructs((scope) => {
      const service = new InferenceService(scope, "Classifier", { ...TEST_SERVICE_PROPS, config: { grpcEnabled: false } });
      new CanaryRollout(scope, "Rollout", { service, stableIngressName: "front", modelVersion: "1.1.0" });
    }) as unknown as Loose[];
    for (const track of ["stable", "canary"]) {
      expect(find(manifests, "Service", `pyramidnet-${track}`).spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    }
  });
});
