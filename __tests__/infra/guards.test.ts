/**
 * Synth-time guards: impossible settings fail the synth with an error that names them, before anything reaches a
 * cluster. And the flexibility the table promises (LoadBalancer, fixed replicas, a staging entry) really works.
 */
import { App, Chart, Testing } from "cdk8s";
import { Construct } from "constructs";
import { buildApp, resolveImageTag, rolloutChartName } from "../../charts/app";
import { readReleaseTable } from "../../charts/release-table";
import { ENVIRONMENTS, type EnvironmentSpec } from "../../charts/environments";
import { PyramidNetChart } from "../../charts/pyramidnet-chart";
import { ClassifierIngress, InferenceService, nginxSize, renderImage } from "../../infra";
import { classifierConfigMap, oneOf, allOf, specOf, synthService, TEST_SERVICE_PROPS as BASE, type Manifest, withoutGrpcIngresses } from "./manifests";
import { policyViolations } from "./policy";

function synthChart(spec: EnvironmentSpec, name = "development"): Manifest[] {
  const chart = new PyramidNetChart(Testing.app(), name, { environmentName: name, spec, imageTag: "1.0.0" });
  return Testing.synth(chart) as Manifest[];
}

describe("refused settings", () => {
  test("min replicas above max", () => {
    expect(() => synthService({ autoscaling: { minReplicas: 5, maxReplicas: 2 } })).toThrow(
      "autoscaling minReplicas (5) is above maxReplicas (2)",
    );
  });

  test("a limit below its request", () => {
    expect(() =>
      synthService({ resources: { cpu: { request: "2", limit: "1" }, memory: { request: "1Gi", limit: "2Gi" } } }),
    ).toThrow('cpu limit "1" is below its request "2"');
    expect(() =>
      synthService({ resources: { cpu: { request: "1", limit: "1" }, memory: { request: "2Gi", limit: "1536Mi" } } }),
    ).toThrow('memory limit "1536Mi" is below its request "2Gi"');
  });

  test("a quantity Kubernetes would reject", () => {
    expect(() =>
      synthService({ resources: { cpu: { request: "1 core", limit: "1" }, memory: { request: "1Gi", limit: "1Gi" } } }),
    ).toThrow('cpu request "1 core" is not a Kubernetes quantity');
  });

  test("the latest tag, from the table or from IMAGE_TAG", () => {
    expect(() => synthService({ image: { repository: "pyramidnet", tag: "latest" } })).toThrow(
      'image pyramidnet:latest uses the "latest" tag: pin an exact version',
    );
    expect(() => buildApp({ outdir: "unused", imageTag: resolveImageTag({ IMAGE_TAG: "latest" }) })).toThrow(
      /uses the "latest" tag/,
    );
  });

  test("a missing tag, including an IMAGE_TAG that is set but empty", () => {
    expect(() => synthService({ image: { repository: "pyramidnet", tag: "" } })).toThrow(
      'image pyramidnet has no tag: set an exact version (a missing tag means "latest")',
    );
    expect(() => buildApp({ outdir: "unused", imageTag: resolveImageTag({ IMAGE_TAG: "" }) })).toThrow(/has no tag/);
  });

  test("a tag smuggled into the repository, or a malformed digest", () => {
    expect(() => renderImage({ repository: "pyramidnet:1.0.0", tag: "1.0.0" })).toThrow(/not a valid reference/);
    expect(() => renderImage({ repository: "pyramidnet", tag: "1.0.0", digest: "sha256:abc" })).toThrow(/digest/);
    const digest = `sha256:${"a".repeat(64)}`;
    expect(renderImage({ repository: "ghcr.io/acme/pyramidnet", tag: "1.0.0", digest })).toBe(
      `ghcr.io/acme/pyramidnet:1.0.0@${digest}`,
    );
  });

  test("a probe on a port the container does not expose", () => {
    expect(() => synthService({ probes: { liveness: { port: "metrics" } } })).toThrow(
      'liveness probe targets port "metrics", which the container does not expose (it exposes http (8000))',
    );
    expect(() => synthService({ probes: { readiness: { port: 9090 } } })).toThrow(
      "readiness probe targets port 9090, which the container does not expose",
    );
  });

  test("a probe on the exposed port by number is accepted", () => {
    const deployment = oneOf(synthService({ probes: { readiness: { port: 8000 } } }), "Deployment");
    expect(deployment.spec!.template.spec!.containers[0].readinessProbe!.httpGet!.port).toBe(8000);
  });

  test("liveness and readiness on the same path", () => {
    expect(() => synthService({ probes: { readiness: { path: "/health/live" } } })).toThrow(
      "liveness and readiness probes both check /health/live",
    );
  });

  test("a config override the service would refuse, named by its variable", () => {
    expect(() => synthService({ config: { maxBatchFiles: 0 } })).toThrow(/CLASSIFIER_MAX_BATCH_FILES="0": expected an integer from 1 to 1024/);
    expect(() => synthService({ config: { requestTimeoutMs: 1000, headersTimeoutMs: 5000 } })).toThrow(
      /CLASSIFIER_REQUEST_TIMEOUT_MS="1000": expected at least CLASSIFIER_HEADERS_TIMEOUT_MS/,
    );
  });

  test("ONNX Runtime threads that differ from the CPU limit", () => {
    expect(() => synthService({ config: { intraOpThreads: 4 } })).toThrow(
      "CLASSIFIER_ORT_INTRA_OP_THREADS=4 does not match the cpu limit (1 core)",
    );
  });

  test("a fractional CPU limit, which no thread count can match", () => {
    expect(() =>
      synthService({ resources: { cpu: { request: "500m", limit: "1500m" }, memory: { request: "1Gi", limit: "1Gi" } } }),
    ).toThrow('cpu limit "1500m" must be whole cores');
  });

  test("a preStop pause plus the shutdown drain longer than the kubelet waits", () => {
    expect(() => synthService({ config: { shutdownGraceMs: 25_000 } })).toThrow(
      "preStopDelaySeconds (5 s) + CLASSIFIER_SHUTDOWN_GRACE_MS (25000 ms) must be shorter than terminationGracePeriodSeconds (30 s)",
    );
    expect(() => synthService({ config: { shutdownGraceMs: 25_000 }, preStopDelaySeconds: 0 })).not.toThrow();
    expect(() => synthService({ preStopDelaySeconds: -1 })).toThrow("preStopDelaySeconds must be a non-negative integer, got -1");
  });

  test("replicas and an HPA at once", () => {
    expect(() => synthService({ replicas: 3 })).toThrow("set either replicas or autoscaling, not both");
  });

  test("source ranges on a ClusterIP Service", () => {
    expect(() => synthService({ loadBalancerSourceRanges: ["10.0.0.0/8"] })).toThrow(
      "loadBalancerSourceRanges needs serviceType LoadBalancer",
    );
  });

  test("a source range that is not a CIDR", () => {
    expect(() => synthService({ serviceType: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.0/33"] })).toThrow(
      '"10.0.0.0/33" is not a CIDR such as 203.0.113.0/24',
    );
  });

  test("a production environment without TLS", () => {
    const { tls: _dropped, ...plainIngress } = specOf("production").ingress;
    expect(() => synthChart({ ...specOf("production"), ingress: plainIngress }, "production")).toThrow(
      "the production Ingress must terminate TLS",
    );
  });

  test("an Ingress with no path, or a path that is not absolute", () => {
    const ingress = (paths: { path: string; pathType: "Exact" | "Prefix" }[]) => () => {
      const chart = new Chart(Testing.app(), "Chart");
      const service = new InferenceService(chart, "Classifier", BASE);
      new ClassifierIngress(chart, "Ingress", { backend: service, host: "pyramidnet.example.com", paths });
    };
    expect(ingress([])).toThrow("the Ingress must route at least one path");
    expect(ingress([{ path: "predict", pathType: "Prefix" }])).toThrow('ingress path "predict" must start with "/"');
  });

  test("a namespace that is not a DNS label", () => {
    expect(() => synthService({ namespace: "PyramidNet_Dev" })).toThrow(/namespace "PyramidNet_Dev" must be a DNS label/);
  });
});

describe("stable identity", () => {
  test("renaming or moving the construct changes no name, label or selector", () => {
    const here = synthService({}, "Classifier");
    const chart = new Chart(Testing.app(), "elsewhere");
    new InferenceService(new Construct(chart, "Group"), "RenamedInference", BASE);
    const moved = Testing.synth(chart) as Manifest[];
    expect(moved).toEqual(here);
  });
});

describe("options the table can choose", () => {
  test("LoadBalancer: type, client-address preservation, source ranges, and a NetworkPolicy rule for them", () => {
    const manifests = synthService({ serviceType: "LoadBalancer", loadBalancerSourceRanges: ["203.0.113.0/24"] });
    expect(oneOf(manifests, "Service").spec).toMatchObject({
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      loadBalancerSourceRanges: ["203.0.113.0/24"],
      ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "grpc", port: 8001, targetPort: "grpc" }],
    });
    // The client addresses reach both protocols; the rules before it admit the ingress controller and Prometheus.
    expect(oneOf(manifests, "NetworkPolicy").spec!.ingress![2]).toEqual({
      from: [{ ipBlock: { cidr: "203.0.113.0/24" } }],
      ports: [
        { protocol: "TCP", port: 8000 },
        { protocol: "TCP", port: 8001 },
      ],
    });
  });

  test("fixed replicas: no HPA, replicas set, a PDB from two replicas", () => {
    const one = synthService({ autoscaling: undefined, replicas: 1 });
    expect(allOf(one, "HorizontalPodAutoscaler")).toHaveLength(0);
    expect(allOf(one, "PodDisruptionBudget")).toHaveLength(0);
    expect(oneOf(one, "Deployment").spec!.replicas).toBe(1);
    const two = synthService({ autoscaling: undefined, replicas: 2 });
    expect(oneOf(two, "Deployment").spec!.replicas).toBe(2);
    expect(allOf(two, "PodDisruptionBudget")).toHaveLength(1);
  });

  test("a changed config override rolls the pods: the checksum annotation follows the ConfigMap", () => {
    const checksum = (m: Manifest[]) =>
      oneOf(m, "Deployment").spec!.template.metadata!.annotations!["checksum/config"];
    expect(checksum(synthService({ config: { logLevel: "warn" } }))).not.toBe(checksum(synthService({})));
  });

  test("adding staging is one entry: it synthesizes, passes policy and runs as CLASSIFIER_ENVIRONMENT=staging", () => {
    const staging: EnvironmentSpec = {
      ...specOf("production"),
      namespace: "pyramidnet-staging",
      autoscaling: { minReplicas: 2, maxReplicas: 6 },
      ingress: { host: "pyramidnet.staging.example.com", rateLimitPerSecond: 20, tls: { clusterIssuer: "letsencrypt-staging" } },
    };
    const app = buildApp({ outdir: "unused", imageTag: "1.0.0", environments: { staging } });
    expect(app.charts.map((c) => c.node.id)).toEqual(["staging"]);
    const manifests = Testing.synth(app.charts[0]) as Manifest[];
    expect(classifierConfigMap(manifests).data!.CLASSIFIER_ENVIRONMENT).toBe("staging");
    expect(oneOf(withoutGrpcIngresses(manifests), "Ingress").spec!.tls).toEqual([
      { hosts: ["pyramidnet.staging.example.com"], secretName: "pyramidnet-tls" },
    ]);
    expect(policyViolations(manifests, { requireTls: true })).toEqual([]);
  });

  test("the whole app builds one chart per table entry, in table order", () => {
    const app: App = buildApp({ outdir: "unused", imageTag: "1.0.0" });
    // ...followed by the Argo Rollouts form of each environment with a release entry.
    const rolloutCharts = Object.keys(readReleaseTable()).map(rolloutChartName);
    expect(app.charts.map((c) => c.node.id)).toEqual([...Object.keys(ENVIRONMENTS), ...rolloutCharts]);
    expect(app.charts.map((c) => c.node.id)).toEqual(expect.arrayContaining(["development", "production"]));
  });
});

describe("nginx body size", () => {
  test("is exact in nginx units (m = MiB, k = KiB)", () => {
    expect(nginxSize(10 * 2 ** 20)).toBe("10m");
    expect(nginxSize(1536 * 1024)).toBe("1536k");
    expect(nginxSize(1000)).toBe("1000");
    expect(() => nginxSize(0)).toThrow(/positive/);
  });
});
