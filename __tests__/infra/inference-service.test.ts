/**
 * InferenceService alone: every documented default, and each prop changing exactly what it says.
 */
import { Chart, Testing } from "cdk8s";
import { InferenceService, INFERENCE_SERVICE_DEFAULTS } from "../../infra";
import { CONFIG_SCHEMA, HTTP_CONTRACT, loadConfig } from "../../infra/service-contract";
import { allOf, oneOf, synthService, TEST_SERVICE_PROPS } from "./manifests";

const FIXED = { autoscaling: undefined } as const;

describe("defaults", () => {
  const manifests = synthService(FIXED);
  const deployment = oneOf(manifests, "Deployment");
  const pod = deployment.spec!.template.spec!;
  const container = pod.containers[0];

  test("objects and names: pyramidnet, its ConfigMap pyramidnet-config, no HPA and no PDB for one replica", () => {
    expect(manifests.map((m) => [m.kind, m.metadata.name])).toEqual([
      ["ServiceAccount", "pyramidnet"],
      ["ConfigMap", "pyramidnet-config"],
      ["Deployment", "pyramidnet"],
      ["Service", "pyramidnet"],
      ["NetworkPolicy", "pyramidnet"],
      ["ServiceMonitor", "pyramidnet"],
    ]);
    for (const m of manifests) expect(m.metadata.namespace).toBe(TEST_SERVICE_PROPS.namespace);
    expect(deployment.spec!.replicas).toBe(1);
  });

  test("labels: name and instance pyramidnet, part of pyramidnet, version from the tag", () => {
    const labels = {
      "app.kubernetes.io/name": "pyramidnet",
      "app.kubernetes.io/instance": "pyramidnet",
      "app.kubernetes.io/version": "1.0.0",
      "app.kubernetes.io/component": "inference-server",
      "app.kubernetes.io/part-of": "pyramidnet",
      "app.kubernetes.io/managed-by": "cdk8s",
    };
    for (const m of manifests) {
      // The ServiceMonitor also carries the label Prometheus selects it by.
      const extra = m.kind === "ServiceMonitor" ? { release: "kube-prometheus-stack" } : {};
      expect(m.metadata.labels).toEqual({ ...labels, ...extra });
    }
    expect(deployment.spec!.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "pyramidnet",
      "app.kubernetes.io/instance": "pyramidnet",
    });
  });

  test("container: the image, IfNotPresent, 500m/1 CPU, 512Mi/1Gi memory, 64Mi/256Mi ephemeral storage", () => {
    expect(container.name).toBe("classifier");
    expect(container.image).toBe("pyramidnet:1.0.0");
    expect(container.imagePullPolicy).toBe("IfNotPresent");
    expect(container.resources).toEqual({
      requests: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "64Mi" },
      limits: { cpu: "1", memory: "1Gi", "ephemeral-storage": "256Mi" },
    });
  });

  test("shutdown: 30 s grace, a 5 s preStop sleep", () => {
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(container.lifecycle).toEqual({ preStop: { exec: { command: ["sleep", "5"] } } });
  });

  test("one writable emptyDir, /tmp, of 64Mi", () => {
    expect(pod.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
    expect(container.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
  });

  test("spread over nodes, best effort; not over zones", () => {
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: deployment.spec!.selector.matchLabels },
        matchLabelKeys: ["pod-template-hash"],
      },
    ]);
  });

  test("Service: ClusterIP on port 80 to the named port, no load-balancer fields", () => {
    expect(oneOf(manifests, "Service").spec).toEqual({
      type: "ClusterIP",
      selector: deployment.spec!.selector.matchLabels,
      ports: [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "grpc", port: 8001, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
      ],
    });
  });

  test("ServiceMonitor: kube-prometheus-stack's release label, every 15 s", () => {
    const monitor = oneOf(manifests, "ServiceMonitor");
    expect(monitor.metadata!.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(monitor.spec.endpoints![0]).toMatchObject({ interval: "15s", scrapeTimeout: "10s" });
  });

  test("ConfigMap: the schema's defaults, with one ONNX Runtime thread for the one-core limit", () => {
    const data = oneOf(manifests, "ConfigMap").data!;
    expect(data[CONFIG_SCHEMA.intraOpThreads.name]).toBe("1");
    expect(data[CONFIG_SCHEMA.port.name]).toBe(String(CONFIG_SCHEMA.port.default));
    expect(data[CONFIG_SCHEMA.logLevel.name]).toBe(CONFIG_SCHEMA.logLevel.default);
  });

  test("the documented defaults are the values synthesized", () => {
    expect(INFERENCE_SERVICE_DEFAULTS.resources.cpu).toEqual({ request: "500m", limit: "1" });
    expect(INFERENCE_SERVICE_DEFAULTS.writablePaths).toEqual(["/tmp"]);
    expect(INFERENCE_SERVICE_DEFAULTS.terminationGracePeriodSeconds).toBe(pod.terminationGracePeriodSeconds);
  });
});

describe("what the construct exposes", () => {
  const chart = new Chart(Testing.app(), "test");
  const service = new InferenceService(chart, "Classifier", { ...TEST_SERVICE_PROPS, config: { maxRequestSize: 2 ** 20 } });
  const manifests = Testing.synth(chart);

  test("the backend an Ingress needs: namespace, Service name, port name and the body limit", () => {
    expect(service.namespace).toBe("pyramidnet-test");
    expect(service.serviceName).toBe("pyramidnet");
    expect(service.servicePortName).toBe("http");
    expect(service.maxRequestBytes).toBe(2 ** 20);
  });

  test("the ConfigMap data it rendered, and the configuration the service loads from it", () => {
    const configMap = manifests.find((m: { kind: string }) => m.kind === "ConfigMap") as { data: Record<string, string> };
    expect(service.configData).toEqual(configMap.data);
    expect(service.config).toEqual(loadConfig(configMap.data));
    expect(service.config.maxRequestSize).toBe(2 ** 20);
  });

  test("the selector is the name and instance labels, and a subset of the labels", () => {
    expect(service.selector).toEqual({ "app.kubernetes.io/name": "pyramidnet", "app.kubernetes.io/instance": "pyramidnet" });
    expect(service.labels).toMatchObject(service.selector);
  });

  test("with autoscaling: the autoscaler, and a PDB from two replicas", () => {
    expect(service.autoscaler?.minReplicas).toBe(2);
    expect(service.podDisruptionBudget).toBeDefined();
  });
});

describe("props", () => {
  test("name, instance and partOf set the names and labels; the ConfigMap follows the name", () => {
    const manifests = synthService({ name: "classifier", instance: "classifier-blue", partOf: "vision" });
    expect(oneOf(manifests, "ConfigMap").metadata!.name).toBe("classifier-config");
    expect(oneOf(manifests, "Deployment").spec!.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "classifier",
      "app.kubernetes.io/instance": "classifier-blue",
    });
    expect(oneOf(manifests, "HorizontalPodAutoscaler").spec!.scaleTargetRef.name).toBe("classifier");
    expect(oneOf(manifests, "Service").metadata!.labels).toMatchObject({ "app.kubernetes.io/part-of": "vision" });
  });

  test("a 2-core limit runs two ONNX Runtime threads", () => {
    const manifests = synthService({
      resources: { cpu: { request: "1", limit: "2" }, memory: { request: "1Gi", limit: "2Gi" } },
    });
    expect(oneOf(manifests, "ConfigMap").data![CONFIG_SCHEMA.intraOpThreads.name]).toBe("2");
    expect(oneOf(manifests, "Deployment").spec!.template.spec!.containers[0].resources!.limits).toEqual({
      cpu: "2",
      memory: "2Gi",
      "ephemeral-storage": "256Mi",
    });
  });

  test("the container port follows the service's configured port, everywhere it appears", () => {
    const manifests = synthService({ config: { port: 9000 } });
    const template = oneOf(manifests, "Deployment").spec!.template;
    expect(template.spec!.containers[0].ports![0]).toEqual({ name: "http", containerPort: 9000, protocol: "TCP" });
    expect(template.metadata!.annotations!["prometheus.io/port"]).toBe("9000");
    expect(oneOf(manifests, "NetworkPolicy").spec!.ingress!.map((rule) => rule.ports)).toEqual([
      [
        { protocol: "TCP", port: 9000 },
        { protocol: "TCP", port: 8001 },
      ],
      [{ protocol: "TCP", port: 9000 }],
    ]);
  });

  test("writable paths and their size: one emptyDir each, named after the path", () => {
    const pod = oneOf(synthService({ writablePaths: ["/tmp", "/var/cache/models"], writableVolumeSize: "128Mi" }), "Deployment")
      .spec!.template.spec!;
    expect(pod.volumes).toEqual([
      { name: "tmp", emptyDir: { sizeLimit: "128Mi" } },
      { name: "var-cache-models", emptyDir: { sizeLimit: "128Mi" } },
    ]);
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: "tmp", mountPath: "/tmp" },
      { name: "var-cache-models", mountPath: "/var/cache/models" },
    ]);
  });

  test("preStopDelaySeconds 0 drops the preStop hook; the grace period is the prop", () => {
    const pod = oneOf(synthService({ preStopDelaySeconds: 0, terminationGracePeriodSeconds: 45 }), "Deployment").spec!.template.spec!;
    expect(pod.containers[0].lifecycle).toBeUndefined();
    expect(pod.terminationGracePeriodSeconds).toBe(45);
  });

  test("nodeSpread and spreadAcrossZones", () => {
    const constraints = oneOf(synthService({ nodeSpread: "DoNotSchedule", spreadAcrossZones: true }), "Deployment").spec!.template
      .spec!.topologySpreadConstraints!;
    expect(constraints.map((c) => [c.topologyKey, c.whenUnsatisfiable])).toEqual([
      ["kubernetes.io/hostname", "DoNotSchedule"],
      ["topology.kubernetes.io/zone", "ScheduleAnyway"],
    ]);
  });

  test("imagePullPolicy and a digest", () => {
    const digest = `sha256:${"b".repeat(64)}`;
    const container = oneOf(
      synthService({ imagePullPolicy: "Always", image: { repository: "ghcr.io/acme/pyramidnet", tag: "2.0.0", digest } }),
      "Deployment",
    ).spec!.template.spec!.containers[0];
    expect(container.image).toBe(`ghcr.io/acme/pyramidnet:2.0.0@${digest}`);
    expect(container.imagePullPolicy).toBe("Always");
  });

  test("servicePort, and a LoadBalancer open to every address by default", () => {
    const spec = oneOf(synthService({ servicePort: 8080, serviceType: "LoadBalancer" }), "Service").spec!;
    expect(spec.ports![0].port).toBe(8080);
    expect(spec.loadBalancerSourceRanges).toEqual(["0.0.0.0/0"]);
    expect(spec.externalTrafficPolicy).toBe("Local");
  });

  test("monitoring labels replace the default release label; the scrape interval is the prop", () => {
    const monitor = oneOf(synthService({ monitoring: { serviceMonitorLabels: { prometheus: "main" }, scrapeInterval: "30s" } }), "ServiceMonitor");
    expect(monitor.metadata!.labels).toMatchObject({ prometheus: "main" });
    expect(monitor.metadata!.labels!.release).toBeUndefined();
    expect(monitor.spec.endpoints![0].interval).toBe("30s");
  });

  test("networkAccess names the namespaces and Prometheus pods the NetworkPolicy admits", () => {
    const policy = oneOf(
      synthService({ networkAccess: { ingressControllerNamespace: "traefik", prometheusNamespace: "observability", prometheusPodLabels: { app: "prom" } } }),
      "NetworkPolicy",
    );
    expect(policy.spec!.ingress!.map((rule) => rule.from)).toEqual([
      [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik" } } }],
      [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "observability" } }, podSelector: { matchLabels: { app: "prom" } } }],
    ]);
  });

  test("probe settings override the defaults of that probe only", () => {
    const container = oneOf(synthService({ probes: { readiness: { periodSeconds: 3, initialDelaySeconds: 1 } } }), "Deployment").spec!
      .template.spec!.containers[0];
    expect(container.readinessProbe).toEqual({
      httpGet: { path: HTTP_CONTRACT.probes.ready, port: "http" },
      initialDelaySeconds: 1,
      periodSeconds: 3,
      timeoutSeconds: 2,
      failureThreshold: 2,
    });
    expect(container.livenessProbe).toMatchObject({ periodSeconds: 10, failureThreshold: 3 });
  });

  test("fixed replicas above one get a PDB and no HPA", () => {
    const manifests = synthService({ autoscaling: undefined, replicas: 3 });
    expect(oneOf(manifests, "Deployment").spec!.replicas).toBe(3);
    expect(allOf(manifests, "HorizontalPodAutoscaler")).toHaveLength(0);
    expect(oneOf(manifests, "PodDisruptionBudget").spec!.maxUnavailable).toBe(1);
  });
});

describe("gRPC: the ports follow CLASSIFIER_GRPC_*", () => {
  const ports = (manifests: ReturnType<typeof synthService>) => ({
    container: oneOf(manifests, "Deployment").spec!.template.spec!.containers[0].ports,
    service: oneOf(manifests, "Service").spec!.ports,
    policy: oneOf(manifests, "NetworkPolicy").spec!.ingress!.map((rule) => rule.ports),
  });

  test("CLASSIFIER_GRPC_PORT moves the container port and the policy's; the Service port stays grpcServicePort", () => {
    const manifests = synthService({ config: { grpcPort: 9001 }, grpcServicePort: 50051 });
    expect(oneOf(manifests, "ConfigMap").data![CONFIG_SCHEMA.grpcPort.name]).toBe("9001");
    expect(ports(manifests)).toEqual({
      container: [
        { name: "http", containerPort: 8000, protocol: "TCP" },
        { name: "grpc", containerPort: 9001, protocol: "TCP" },
      ],
      service: [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "grpc", port: 50051, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
      ],
      policy: [
        [
          { protocol: "TCP", port: 8000 },
          { protocol: "TCP", port: 9001 },
        ],
        [{ protocol: "TCP", port: 8000 }],
      ],
    });
  });

  test("CLASSIFIER_GRPC_ENABLED=false: no gRPC port anywhere, one policy rule as before gRPC, no grpcBackend", () => {
    const chart = new Chart(Testing.app(), "test");
    const service = new InferenceService(chart, "Classifier", { ...TEST_SERVICE_PROPS, config: { grpcEnabled: false } });
    const manifests = Testing.synth(chart) as ReturnType<typeof synthService>;
    expect(oneOf(manifests, "ConfigMap").data![CONFIG_SCHEMA.grpcEnabled.name]).toBe("false");
    expect(ports(manifests)).toEqual({
      container: [{ name: "http", containerPort: 8000, protocol: "TCP" }],
      service: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
      policy: [[{ protocol: "TCP", port: 8000 }]],
    });
    expect(service.grpcBackend).toBeUndefined();
    expect(service.servicePorts.map((port) => port.name)).toEqual(["http"]);
  });

  test("grpcBackend names the Service (with its track) and its grpc port, with the service's request limit", () => {
    const chart = new Chart(Testing.app(), "test");
    const service = new InferenceService(chart, "Classifier", { ...TEST_SERVICE_PROPS, track: "canary", modelVersion: "1.0.0" });
    expect(service.grpcBackend).toEqual({
      namespace: "pyramidnet-test",
      serviceName: "pyramidnet-canary",
      servicePortName: "grpc",
      maxRequestBytes: service.maxRequestBytes,
    });
    expect(INFERENCE_SERVICE_DEFAULTS.grpcServicePort).toBe(8001);
  });
});
