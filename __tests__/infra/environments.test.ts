/**
 * What each environment's table entry deploys (without its release entry, whose stable and canary tracks
 * releases.test.ts asserts): a snapshot to review diffs, and explicit assertions on every field that matters
 * (a snapshot alone would accept a wrong value once it was committed).
 */
import { parse } from "yaml";
import { adapterValues, resolveImageTag } from "../../charts/app";
import { environmentNames, type EnvironmentName } from "../../charts/environments";
import { AUTOSCALING_DEFAULTS, GPU_CONFIG_DEFAULTS, renderAdapterValuesFile } from "../../infra";
import { CONFIG_SCHEMA, GRPC_CONTRACT, HTTP_CONTRACT, METRIC_NAMES, loadConfig } from "../../infra/service-contract";
import { allOf, classifierConfigMap, grpcIngresses, oneOf, specOf, synthEnvironment, synthWithoutRelease, withoutGrpcIngresses } from "./manifests";
import { version as packageVersion } from "../../package.json";

const environments = environmentNames();

test("the table holds development and production (and may hold more)", () => {
  expect(environments).toEqual(expect.arrayContaining(["development", "production"]));
});

describe.each(environments)("%s", (name: EnvironmentName) => {
  const spec = specOf(name);
  const manifests = synthWithoutRelease(name);
  const deployment = oneOf(manifests, "Deployment");
  const podSpec = deployment.spec!.template.spec!;
  const container = podSpec.containers[0];
  const configMap = classifierConfigMap(manifests);
  const service = oneOf(manifests, "Service");
  const hpa = oneOf(manifests, "HorizontalPodAutoscaler");
  const ingress = oneOf(withoutGrpcIngresses(manifests), "Ingress");
  const limits = container.resources!.limits!;
  const requests = container.resources!.requests!;

  test("matches the reviewed snapshot", () => {
    expect(manifests).toMatchSnapshot();
  });

  test("objects come in apply order: the Namespace first, everything else inside it", () => {
    expect(manifests[0].kind).toBe("Namespace");
    expect(manifests[0].metadata.name).toBe(spec.namespace);
    expect(manifests[0].metadata.namespace).toBeUndefined();
    for (const m of manifests.slice(1)) expect(m.metadata.namespace).toBe(spec.namespace);
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      [
        "ConfigMap",
        // The Grafana dashboard.
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Namespace",
        "NetworkPolicy",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        ...(spec.autoscaling.minReplicas > 1 ? ["PodDisruptionBudget"] : []),
        ...(spec.verticalAutoscaling !== undefined ? ["VerticalPodAutoscaler"] : []),
        ...(spec.grpcIngress !== undefined ? ["Ingress"] : []),
      ].sort(),
    );
  });

  test("namespace enforces the restricted Pod Security Standard", () => {
    expect(oneOf(manifests, "Namespace").metadata!.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
  });

  test("names and selectors are explicit app.kubernetes.io labels", () => {
    const selector = {
      "app.kubernetes.io/name": "pyramidnet",
      "app.kubernetes.io/instance": `pyramidnet-${name}`,
    };
    expect(deployment.spec!.selector.matchLabels).toEqual(selector);
    expect(deployment.spec!.template.metadata!.labels).toMatchObject(selector);
    expect(service.spec!.selector).toEqual(selector);
    for (const m of manifests) {
      expect(["pyramidnet", "pyramidnet-config", "pyramidnet-dashboard", "pyramidnet-grpc", spec.namespace]).toContain(m.metadata.name);
      for (const key of Object.keys(m.metadata.labels ?? {})) expect(key).not.toMatch(/cdk8s\.io/);
    }
  });

  test("deployment runs the environment's pinned image", () => {
    expect(container.image).toBe(`${spec.imageRepository}:${packageVersion}`);
    expect(container.image).not.toMatch(/:latest$/);
    expect(container.imagePullPolicy).toBe(spec.imagePullPolicy);
    expect(deployment.metadata!.labels!["app.kubernetes.io/version"]).toBe(packageVersion);
  });

  test("deployment rolls out one extra pod at a time and never goes below capacity", () => {
    expect(deployment.spec!.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
  });

  test("the HPA owns the replica count", () => {
    expect(deployment.spec!.replicas).toBeUndefined();
  });

  test("pods carry the Prometheus scrape annotations for the service's port and path", () => {
    expect(deployment.spec!.template.metadata!.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "8000",
      "prometheus.io/path": "/metrics",
    });
  });

  test("a config change rolls the pods (checksum annotation)", () => {
    expect(deployment.spec!.template.metadata!.annotations!["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
  });

  test("pod security context: non-root uid/gid 1000, fsGroup 1000, RuntimeDefault seccomp", () => {
    expect(podSpec.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(podSpec.automountServiceAccountToken).toBe(false);
  });

  test("container security context: no escalation, read-only root, every capability dropped", () => {
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  test("requests and limits are the environment's", () => {
    expect(requests).toMatchObject({ cpu: spec.resources.cpu.request, memory: spec.resources.memory.request });
    expect(limits).toMatchObject({ cpu: spec.resources.cpu.limit, memory: spec.resources.memory.limit });
    expect(requests["ephemeral-storage"]).toBeDefined();
    expect(limits["ephemeral-storage"]).toBeDefined();
  });

  test("the container exposes the service's port as 'http' and its gRPC port (CLASSIFIER_GRPC_PORT) as 'grpc'", () => {
    expect(container.ports).toEqual([
      { name: HTTP_CONTRACT.portName, containerPort: CONFIG_SCHEMA.port.default, protocol: "TCP" },
      { name: GRPC_CONTRACT.portName, containerPort: CONFIG_SCHEMA.grpcPort.default, protocol: "TCP" },
    ]);
    expect([HTTP_CONTRACT.portName, GRPC_CONTRACT.portName]).toEqual(["http", "grpc"]);
    expect([CONFIG_SCHEMA.port.default, CONFIG_SCHEMA.grpcPort.default]).toEqual([8000, 8001]);
    const config = loadConfig(configMap.data!);
    expect([config.grpcEnabled, config.grpcPort]).toEqual([true, 8001]);
  });

  test("startup, liveness and readiness probe the service's own paths on port 'http'", () => {
    expect(container.startupProbe!.httpGet).toEqual({ path: HTTP_CONTRACT.probes.startup, port: "http" });
    expect(container.livenessProbe!.httpGet).toEqual({ path: HTTP_CONTRACT.probes.live, port: "http" });
    expect(container.readinessProbe!.httpGet).toEqual({ path: HTTP_CONTRACT.probes.ready, port: "http" });
    expect(container.livenessProbe!.httpGet!.path).not.toBe(container.readinessProbe!.httpGet!.path);
  });

  test("the startup probe gives the model a minute to load; the others run often", () => {
    const startup = container.startupProbe!;
    expect(startup).toMatchObject({ periodSeconds: 2, failureThreshold: 30 });
    expect(startup.periodSeconds! * startup.failureThreshold!).toBeGreaterThanOrEqual(60);
    expect(container.livenessProbe).toMatchObject({ periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 });
    expect(container.readinessProbe).toMatchObject({ periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 });
  });

  test("configuration comes from the ConfigMap", () => {
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata!.name } }]);
    expect(container.env).toBeUndefined();
  });

  test("/tmp is a size-limited emptyDir (the root filesystem is read-only)", () => {
    expect(container.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(podSpec.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }]);
  });

  test("30 s grace on shutdown, longer than the preStop pause plus the service's own drain", () => {
    expect(podSpec.terminationGracePeriodSeconds).toBe(30);
    const container = podSpec.containers[0];
    expect(container.lifecycle).toEqual({ preStop: { exec: { command: ["sleep", "5"] } } });
    expect(5_000 + Number(configMap.data![CONFIG_SCHEMA.shutdownGraceMs.name])).toBeLessThan(30_000);
  });

  test("pods spread across nodes", () => {
    const byHost = podSpec.topologySpreadConstraints!.find((c) => c.topologyKey === "kubernetes.io/hostname");
    expect(byHost).toMatchObject({
      maxSkew: 1,
      whenUnsatisfiable: spec.nodeSpread,
      labelSelector: { matchLabels: deployment.spec!.selector.matchLabels },
    });
    const byZone = podSpec.topologySpreadConstraints!.some((c) => c.topologyKey === "topology.kubernetes.io/zone");
    expect(byZone).toBe(spec.spreadAcrossZones);
  });

  test("ConfigMap: every schema variable, defaults except the environment's overrides, accepted by the service", () => {
    const data = configMap.data!;
    expect(Object.keys(data).sort()).toEqual(Object.values(CONFIG_SCHEMA).map((v) => v.name).sort());
    const config = loadConfig(data);
    expect(config.environment).toBe(name);
    expect(config.logLevel).toBe(spec.config.logLevel);
    expect(config.maxRequestSize).toBe(CONFIG_SCHEMA.maxRequestSize.default);
    // A GPU environment batches more (GPU_CONFIG_DEFAULTS) unless its entry says otherwise.
    const onGpu = spec.accelerator !== undefined;
    expect(config.batchMaxSize).toBe(onGpu ? GPU_CONFIG_DEFAULTS.batchMaxSize : CONFIG_SCHEMA.batchMaxSize.default);
    expect(config.batchMaxDelayMs).toBe(onGpu ? GPU_CONFIG_DEFAULTS.batchMaxDelayMs : CONFIG_SCHEMA.batchMaxDelayMs.default);
    expect(config.executionProvider).toBe(onGpu ? "cuda" : "cpu");
  });

  test("ONNX Runtime's intra-op threads equal the CPU limit in cores", () => {
    expect(configMap.data![CONFIG_SCHEMA.intraOpThreads.name]).toBe(String(Number(limits.cpu)));
    expect(Number(limits.cpu)).toBeGreaterThanOrEqual(1);
  });

  test("Service: ClusterIP port 80 to the named port 'http', 8001 (appProtocol grpc) to 'grpc'", () => {
    expect(service.spec).toMatchObject({
      type: spec.serviceType,
      ports: [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "grpc", port: 8001, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
      ],
    });
  });

  test("HPA: autoscaling/v2 on CPU, memory, and requests per second per pod where prometheus-adapter is declared", () => {
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "pyramidnet" });
    expect(hpa.spec!.minReplicas).toBe(spec.autoscaling.minReplicas);
    expect(hpa.spec!.maxReplicas).toBe(spec.autoscaling.maxReplicas);
    expect(hpa.spec!.metrics).toEqual([
      {
        type: "Resource",
        resource: {
          name: "cpu",
          target: {
            type: "Utilization",
            averageUtilization: spec.autoscaling.cpuUtilizationPercent ?? AUTOSCALING_DEFAULTS.cpuUtilizationPercent,
          },
        },
      },
      {
        type: "Resource",
        resource: {
          name: "memory",
          target: {
            type: "Utilization",
            averageUtilization: spec.autoscaling.memoryUtilizationPercent ?? AUTOSCALING_DEFAULTS.memoryUtilizationPercent,
          },
        },
      },
      // Only where the adapter serves it: an unfetchable metric blocks every scale-down.
      ...((spec.autoscaling.prometheusAdapter ?? false)
        ? [
            {
              type: "Pods",
              pods: {
                metric: { name: METRIC_NAMES.requestsPerSecond },
                target: {
                  type: "AverageValue",
                  averageValue: String(spec.autoscaling.requestsPerSecondPerPod ?? AUTOSCALING_DEFAULTS.requestsPerSecondPerPod),
                },
              },
            },
          ]
        : []),
    ]);
  });

  test("HPA behaviour: fast scale-up (max of 100% and 4 pods per 30 s), 10-minute scale-down window, then at most 50% per minute", () => {
    expect(hpa.spec!.behavior).toEqual({
      scaleUp: {
        stabilizationWindowSeconds: 30,
        selectPolicy: "Max",
        policies: [
          { type: "Percent", value: 100, periodSeconds: 30 },
          { type: "Pods", value: 4, periodSeconds: 30 },
        ],
      },
      scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: "Percent", value: 50, periodSeconds: 60 }] },
    });
  });

  test("ServiceMonitor scrapes the Service's 'http' port at /metrics, and Prometheus selects it", () => {
    const monitor = oneOf(manifests, "ServiceMonitor");
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(monitor.metadata!.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(monitor.spec.selector.matchLabels).toEqual(service.spec!.selector);
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: [spec.namespace] });
    expect(monitor.spec.endpoints).toEqual([
      { port: "http", path: "/metrics", interval: "15s", scrapeTimeout: "10s", scheme: "http" },
    ]);
  });

  test("NetworkPolicy admits 8000 and gRPC's 8001 from the ingress controller and the entry's clients, 8000 from Prometheus; no egress", () => {
    const policy = oneOf(manifests, "NetworkPolicy");
    expect(policy.spec!.podSelector).toEqual({ matchLabels: deployment.spec!.selector.matchLabels });
    // Egress is in the policy with no rule: the pods may open no connection at all.
    expect(policy.spec!.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec!.egress).toEqual([]);
    const clients = (spec.networkClients ?? []).map((client) => ({
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": client.namespace } },
      ...(client.podLabels === undefined ? {} : { podSelector: { matchLabels: client.podLabels } }),
    }));
    expect(policy.spec!.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }, ...clients],
        ports: [
          { protocol: "TCP", port: 8000 },
          { protocol: "TCP", port: 8001 },
        ],
      },
      {
        from: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ],
        ports: [{ protocol: "TCP", port: 8000 }],
      },
    ]);
  });

  test("a gRPC Ingress exactly where the entry asks for one: its host and rate limit, TLS, backend-protocol GRPC", () => {
    const grpc = grpcIngresses(manifests);
    const wanted = spec.grpcIngress;
    if (wanted === undefined) {
      expect(grpc).toEqual([]);
      return;
    }
    expect(grpc).toHaveLength(1);
    const [grpcIngress] = grpc;
    expect(grpcIngress.metadata!.name).toBe("pyramidnet-grpc");
    expect(grpcIngress.metadata!.annotations).toEqual({
      "nginx.ingress.kubernetes.io/backend-protocol": "GRPC",
      "nginx.ingress.kubernetes.io/proxy-body-size": String(10 * 2 ** 20 + 5),
      "nginx.ingress.kubernetes.io/limit-rps": String(wanted.rateLimitPerSecond),
      "cert-manager.io/cluster-issuer": wanted.tls!.clusterIssuer,
    });
    expect(grpcIngress.spec!.tls).toEqual([{ hosts: [wanted.host], secretName: wanted.tls!.secretName }]);
    expect(grpcIngress.spec!.rules).toEqual([
      {
        host: wanted.host,
        http: {
          paths: [
            { path: "/inference.GRPCInferenceService", pathType: "Prefix", backend: { service: { name: "pyramidnet", port: { name: "grpc" } } } },
          ],
        },
      },
    ]);
  });

  test("pods run as their own ServiceAccount, token not mounted, pulling with the entry's secrets", () => {
    const account = oneOf(manifests, "ServiceAccount");
    expect(account.metadata!.name).toBe("pyramidnet");
    expect(account.automountServiceAccountToken).toBe(false);
    expect(podSpec.serviceAccountName).toBe(account.metadata!.name);
    expect(podSpec.automountServiceAccountToken).toBe(false);
    const secrets = spec.imagePullSecrets ?? [];
    expect(podSpec.imagePullSecrets).toEqual(secrets.length > 0 ? secrets.map((name) => ({ name })) : undefined);
  });

  test("GPUs exactly when the entry has an accelerator: nvidia.com/gpu, GPU nodes, their taint tolerated", () => {
    const accelerator = spec.accelerator;
    if (accelerator === undefined) {
      expect(limits["nvidia.com/gpu"]).toBeUndefined();
      expect(podSpec.nodeSelector).toBeUndefined();
      expect(podSpec.tolerations).toBeUndefined();
      expect(podSpec.runtimeClassName).toBeUndefined();
      return;
    }
    expect(limits["nvidia.com/gpu"]).toBe(1);
    expect(requests["nvidia.com/gpu"]).toBe(1);
    expect(podSpec.nodeSelector).toEqual({ "nvidia.com/gpu.present": "true" });
    expect(podSpec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    expect(podSpec.runtimeClassName).toBe(accelerator.runtimeClassName);
  });

  test("a VerticalPodAutoscaler exactly when the entry asks, in recommendation mode on the Deployment's container", () => {
    const recommenders = allOf(manifests, "VerticalPodAutoscaler");
    if (spec.verticalAutoscaling === undefined) {
      expect(recommenders).toHaveLength(0);
      return;
    }
    expect(recommenders).toHaveLength(1);
    expect(recommenders[0].spec.targetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata!.name });
    expect(recommenders[0].spec.updatePolicy).toEqual({ updateMode: "Off" });
    expect(recommenders[0].spec.resourcePolicy.containerPolicies.map((p) => p.containerName)).toEqual([container.name]);
  });

  test("PodDisruptionBudget exactly when more than one replica is guaranteed", () => {
    const budgets = allOf(manifests, "PodDisruptionBudget");
    if (spec.autoscaling.minReplicas > 1) {
      expect(budgets).toHaveLength(1);
      expect(budgets[0].spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: deployment.spec!.selector.matchLabels },
        unhealthyPodEvictionPolicy: "AlwaysAllow",
      });
    } else {
      expect(budgets).toHaveLength(0);
    }
  });

  test("Ingress: nginx class, the environment's host, only the public paths, body size equal to the service's limit, rate limited", () => {
    expect(ingress.spec!.ingressClassName).toBe("nginx");
    const backend = { service: { name: "pyramidnet", port: { name: "http" } } };
    expect(ingress.spec!.rules).toEqual([
      {
        host: spec.ingress.host,
        http: {
          paths: [
            { path: "/predict", pathType: "Prefix", backend },
            { path: "/v2", pathType: "Prefix", backend },
            { path: "/docs", pathType: "Prefix", backend },
            { path: "/openapi.json", pathType: "Exact", backend },
            { path: "/ui", pathType: "Prefix", backend },
            { path: "/", pathType: "Exact", backend },
          ],
        },
      },
    ]);
    // Probes and metrics are for kubelet and Prometheus, which reach pods directly.
    const routed = ingress.spec!.rules![0].http!.paths.map((p) => p.path);
    for (const internal of [HTTP_CONTRACT.metricsPath, ...Object.values(HTTP_CONTRACT.probes)]) {
      expect(routed).not.toContain(internal);
    }
    const annotations = ingress.metadata!.annotations!;
    // nginx's "m" is MiB: 10m is exactly the service's 10485760-byte limit.
    expect(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("10m");
    expect(10 * 2 ** 20).toBe(Number(configMap.data![CONFIG_SCHEMA.maxRequestSize.name]));
    expect(annotations["nginx.ingress.kubernetes.io/limit-rps"]).toBe(String(spec.ingress.rateLimitPerSecond));
  });
});

describe("environment differences", () => {
  const dev = synthWithoutRelease("development");
  const prod = synthWithoutRelease("production");

  test("namespaces are pyramidnet-dev and pyramidnet-prod", () => {
    expect(oneOf(dev, "Namespace").metadata!.name).toBe("pyramidnet-dev");
    expect(oneOf(prod, "Namespace").metadata!.name).toBe("pyramidnet-prod");
  });

  test("development scales 1-3 at 70% CPU / 80% memory; production 3-20 at 60% / 70%", () => {
    const range = (m: typeof dev) => {
      const spec = oneOf(m, "HorizontalPodAutoscaler").spec!;
      return [spec.minReplicas, spec.maxReplicas, ...spec.metrics!.slice(0, 2).map((x) => x.resource!.target.averageUtilization)];
    };
    expect(range(dev)).toEqual([1, 3, 70, 80]);
    expect(range(prod)).toEqual([3, 20, 60, 70]);
  });

  test("production terminates TLS with a cert-manager ClusterIssuer; development is plain HTTP on a local host", () => {
    const prodIngress = oneOf(withoutGrpcIngresses(prod), "Ingress");
    expect(prodIngress.spec!.tls).toEqual([{ hosts: ["pyramidnet.example.com"], secretName: "pyramidnet-tls" }]);
    expect(prodIngress.metadata!.annotations).toMatchObject({
      "cert-manager.io/cluster-issuer": "letsencrypt-prod",
      "nginx.ingress.kubernetes.io/ssl-redirect": "true",
    });
    const devIngress = oneOf(withoutGrpcIngresses(dev), "Ingress");
    expect(devIngress.spec!.tls).toBeUndefined();
    expect(devIngress.metadata!.annotations!["cert-manager.io/cluster-issuer"]).toBeUndefined();
    expect(devIngress.spec!.rules![0].host).toBe("pyramidnet.localhost");
  });

  test("production runs two ONNX Runtime threads on a 2-core limit, development one on one core", () => {
    const threads = (m: typeof dev) => classifierConfigMap(m).data![CONFIG_SCHEMA.intraOpThreads.name];
    expect(threads(dev)).toBe("1");
    expect(threads(prod)).toBe("2");
  });
});

describe("staging and gpu", () => {
  const staging = synthWithoutRelease("staging");
  const gpu = synthWithoutRelease("gpu");

  test("staging: its own namespace and TLS host, production's image, 2-6 replicas with a PodDisruptionBudget", () => {
    expect(oneOf(staging, "Namespace").metadata!.name).toBe("pyramidnet-staging");
    const ingress = oneOf(withoutGrpcIngresses(staging), "Ingress");
    expect(ingress.spec!.tls).toEqual([{ hosts: ["pyramidnet.staging.example.com"], secretName: "pyramidnet-staging-tls" }]);
    expect(oneOf(staging, "Deployment").spec!.template.spec!.containers[0].image).toBe(
      `${specOf("production").imageRepository}:${packageVersion}`,
    );
    const hpa = oneOf(staging, "HorizontalPodAutoscaler").spec!;
    expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([2, 6]);
    const prod = oneOf(synthWithoutRelease("production"), "HorizontalPodAutoscaler").spec!;
    expect(hpa.maxReplicas).toBeLessThan(prod.maxReplicas);
    expect(allOf(staging, "PodDisruptionBudget")).toHaveLength(1);
  });

  test("staging admits its load-test namespace's pods besides the ingress controller and Prometheus", () => {
    expect(oneOf(staging, "NetworkPolicy").spec!.ingress![0].from).toContainEqual({
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "pyramidnet-loadtest" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "loadtest" } },
    });
  });

  test("gpu: the CUDA image on one GPU per pod under the nvidia RuntimeClass, CUDA provider, batches of 128", () => {
    const pod = oneOf(gpu, "Deployment").spec!.template.spec!;
    expect(pod.containers[0].image).toBe(`ghcr.io/pyramidnet/pyramidnet-cuda:${packageVersion}`);
    expect(pod.runtimeClassName).toBe("nvidia");
    expect(pod.containers[0].resources!.limits!["nvidia.com/gpu"]).toBe(1);
    const data = classifierConfigMap(gpu).data!;
    expect(data[CONFIG_SCHEMA.executionProvider.name]).toBe("cuda");
    expect(data[CONFIG_SCHEMA.batchMaxSize.name]).toBe("128");
    expect(data[CONFIG_SCHEMA.batchMaxDelayMs.name]).toBe("2");
    // Four cores decode uploads for the GPU; ONNX Runtime's CPU threads follow the limit as everywhere.
    expect(data[CONFIG_SCHEMA.intraOpThreads.name]).toBe("4");
  });

  test("no CPU environment asks for CUDA", () => {
    for (const name of environmentNames().filter((n) => specOf(n).accelerator === undefined)) {
      expect(classifierConfigMap(synthWithoutRelease(name)).data![CONFIG_SCHEMA.executionProvider.name]).toBe("cpu");
    }
  });
});

describe("prometheus-adapter rule", () => {
  const values = parse(renderAdapterValuesFile(adapterValues(), "dist/prometheus-adapter/values.yaml"));

  test("derives http_requests_per_second per pod from rate(http_requests_total[2m])", () => {
    expect(values.rules).toEqual({
      default: false,
      custom: [
        {
          seriesQuery: `${METRIC_NAMES.httpRequestsTotal}{namespace!="",pod!=""}`,
          resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
          name: { matches: `^${METRIC_NAMES.httpRequestsTotal}$`, as: METRIC_NAMES.requestsPerSecond },
          metricsQuery: "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
        },
      ],
    });
  });

  test("serves the exact metric name every HPA asks for", () => {
    const withAdapter = environments.filter((name) => specOf(name).autoscaling.prometheusAdapter === true);
    expect(withAdapter).toContain("production");
    for (const name of withAdapter) {
      const hpa = oneOf(synthWithoutRelease(name), "HorizontalPodAutoscaler");
      const podsMetric = hpa.spec!.metrics!.find((m) => m.type === "Pods")!;
      expect(values.rules.custom.map((r: { name: { as: string } }) => r.name.as)).toContain(podsMetric.pods!.metric.name);
    }
  });

  test("development (kind, no adapter) scales on CPU and memory alone, so it can scale back down", () => {
    const hpa = oneOf(synthEnvironment("development"), "HorizontalPodAutoscaler");
    expect(hpa.spec!.metrics!.map((m) => m.type)).toEqual(["Resource", "Resource"]);
  });

  test("points at kube-prometheus-stack's Prometheus by default", () => {
    expect(values.prometheus).toEqual({ url: "http://kube-prometheus-stack-prometheus.monitoring.svc", port: 9090 });
  });
});

describe("image tag", () => {
  test("defaults to the package version and follows IMAGE_TAG when CI sets it", () => {
    expect(resolveImageTag({})).toBe(packageVersion);
    expect(resolveImageTag({ IMAGE_TAG: "git-3f2a1c9" })).toBe("git-3f2a1c9");
  });
});
