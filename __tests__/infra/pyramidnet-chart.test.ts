/**
 * PyramidNetChart alone, from a spec written here rather than the committed table: where each field of an
 * environment entry lands, and what its name becomes.
 */
import { Testing } from "cdk8s";
import type { EnvironmentSpec } from "../../charts/environments";
import { PyramidNetChart } from "../../charts/pyramidnet-chart";
import type { EnvironmentRelease } from "../../charts/release-table";
import { CONFIG_SCHEMA, loadConfig } from "../../infra/service-contract";
import { classifierConfigMap, oneOf, type Manifest } from "./manifests";

const SPEC: EnvironmentSpec = {
  namespace: "pyramidnet-staging",
  imageRepository: "registry.example.com/ml/pyramidnet",
  imagePullPolicy: "Always",
  resources: { cpu: { request: "1", limit: "2" }, memory: { request: "1Gi", limit: "1Gi" } },
  autoscaling: { minReplicas: 2, maxReplicas: 5 },
  serviceType: "ClusterIP",
  nodeSpread: "DoNotSchedule",
  spreadAcrossZones: false,
  exposure: "internal",
  ingress: { host: "pyramidnet.staging.internal", rateLimitPerSecond: 9 },
  config: { logLevel: "warn" },
};

function synthChart(spec: EnvironmentSpec, environmentName = "staging"): { chart: PyramidNetChart; manifests: Manifest[] } {
  const chart = new PyramidNetChart(Testing.app(), environmentName, { environmentName, spec, imageTag: "3.1.4" });
  return { chart, manifests: Testing.synth(chart) as Manifest[] };
}

describe("an internal environment", () => {
  const { chart, manifests } = synthChart(SPEC);
  const container = oneOf(manifests, "Deployment").spec!.template.spec!.containers[0];

  test("the Namespace comes first, and every other object lives in it", () => {
    expect(manifests[0]).toMatchObject({ kind: "Namespace", metadata: { name: "pyramidnet-staging" } });
    expect(oneOf(manifests, "Namespace").metadata!.labels).toMatchObject({
      "app.kubernetes.io/part-of": "pyramidnet",
      "app.kubernetes.io/managed-by": "cdk8s",
    });
    for (const m of manifests.slice(1)) expect(m.metadata.namespace).toBe("pyramidnet-staging");
    expect(chart.namespaceName).toBe("pyramidnet-staging");
  });

  test("the name is the instance label and the pods' CLASSIFIER_ENVIRONMENT", () => {
    expect(chart.classifier.selector).toEqual({
      "app.kubernetes.io/name": "pyramidnet",
      "app.kubernetes.io/instance": "pyramidnet-staging",
    });
    const data = classifierConfigMap(manifests).data!;
    expect(data[CONFIG_SCHEMA.environment.name]).toBe("staging");
    expect(loadConfig(data).environment).toBe("staging");
  });

  test("image, pull policy, resources and config come from the entry; the tag from the caller", () => {
    expect(container.image).toBe("registry.example.com/ml/pyramidnet:3.1.4");
    expect(container.imagePullPolicy).toBe("Always");
    expect(container.resources!.limits).toMatchObject({ cpu: "2", memory: "1Gi" });
    expect(classifierConfigMap(manifests).data![CONFIG_SCHEMA.logLevel.name]).toBe("warn");
    expect(classifierConfigMap(manifests).data![CONFIG_SCHEMA.intraOpThreads.name]).toBe("2");
  });

  test("autoscaling, spreading and the Service type come from the entry", () => {
    expect(oneOf(manifests, "HorizontalPodAutoscaler").spec).toMatchObject({ minReplicas: 2, maxReplicas: 5 });
    const constraints = oneOf(manifests, "Deployment").spec!.template.spec!.topologySpreadConstraints!;
    expect(constraints.map((c) => [c.topologyKey, c.whenUnsatisfiable])).toEqual([["kubernetes.io/hostname", "DoNotSchedule"]]);
    expect(oneOf(manifests, "Service").spec!.type).toBe("ClusterIP");
  });

  test("the Ingress: the entry's host and rate limit, labelled like the classifier, plain HTTP", () => {
    const ingress = oneOf(manifests, "Ingress");
    expect(ingress.spec!.rules![0].host).toBe("pyramidnet.staging.internal");
    expect(ingress.metadata!.annotations!["nginx.ingress.kubernetes.io/limit-rps"]).toBe("9");
    expect(ingress.metadata!.labels).toEqual(chart.classifier.labels);
    expect(ingress.spec!.tls).toBeUndefined();
  });
});

test("a public environment with TLS gets HTTPS", () => {
  const { manifests } = synthChart(
    { ...SPEC, exposure: "public", ingress: { ...SPEC.ingress, tls: { clusterIssuer: "letsencrypt-staging", secretName: "staging-tls" } } },
    "staging",
  );
  expect(oneOf(manifests, "Ingress").spec!.tls).toEqual([{ hosts: ["pyramidnet.staging.internal"], secretName: "staging-tls" }]);
});

test("TLS on an internal environment is allowed, not required", () => {
  const { manifests } = synthChart({ ...SPEC, ingress: { ...SPEC.ingress, tls: { clusterIssuer: "internal-ca" } } });
  expect(oneOf(manifests, "Ingress").metadata!.annotations!["cert-manager.io/cluster-issuer"]).toBe("internal-ca");
});

describe("with a release entry", () => {
  const DIGEST = `sha256:${"ab".repeat(32)}`;
  const synthRelease = (release: EnvironmentRelease, imageDigest?: string) =>
    Testing.synth(new PyramidNetChart(Testing.app(), "staging", { environmentName: "staging", spec: SPEC, imageTag: "3.1.4", imageDigest, release })) as Manifest[];
  const imageOf = (manifests: Manifest[], name: string) =>
    (manifests.find((m) => m.kind === "Deployment" && m.metadata.name === name) as unknown as { spec: { template: { spec: { containers: Array<{ image: string }> } } } })
      .spec.template.spec.containers[0].image;

  test("both tracks run the deployed tag with its digest unless the entry names a tag; a named tag goes without it", () => {
    const sameImage = synthRelease({ stable: { modelVersion: "1.0.0" }, canary: { modelVersion: "1.1.0", weight: 5 } }, DIGEST);
    expect(imageOf(sameImage, "pyramidnet-stable")).toBe(`registry.example.com/ml/pyramidnet:3.1.4@${DIGEST}`);
    expect(imageOf(sameImage, "pyramidnet-canary")).toBe(`registry.example.com/ml/pyramidnet:3.1.4@${DIGEST}`);
    const ownTag = synthRelease({ stable: { modelVersion: "1.0.0" }, canary: { imageTag: "3.2.0-rc1", weight: 5 } }, DIGEST);
    expect(imageOf(ownTag, "pyramidnet-canary")).toBe("registry.example.com/ml/pyramidnet:3.2.0-rc1");
    const pinnedStable = synthRelease({ stable: { modelVersion: "1.0.0", imageTag: "3.0.0" }, canary: { modelVersion: "1.1.0", weight: 5 } }, DIGEST);
    expect(imageOf(pinnedStable, "pyramidnet-stable")).toBe("registry.example.com/ml/pyramidnet:3.0.0");
    // The canary inherits the stable track's image, which is now the pinned tag.
    expect(imageOf(pinnedStable, "pyramidnet-canary")).toBe("registry.example.com/ml/pyramidnet:3.0.0");
  });

  test("the chart exposes both tracks and both Ingresses", () => {
    const chart = new PyramidNetChart(Testing.app(), "staging", {
      environmentName: "staging",
      spec: SPEC,
      imageTag: "3.1.4",
      release: { stable: { modelVersion: "1.0.0" }, canary: { modelVersion: "1.1.0", weight: 5 } },
    });
    expect([chart.classifier.objectName, chart.canary?.objectName]).toEqual(["pyramidnet-stable", "pyramidnet-canary"]);
    expect([chart.ingress.apiObject.name, chart.canaryIngress?.apiObject.name]).toEqual(["pyramidnet", "pyramidnet-canary"]);
    expect(chart.classifier.selector).toEqual({
      "app.kubernetes.io/name": "pyramidnet",
      "app.kubernetes.io/instance": "pyramidnet-staging",
      track: "stable",
    });
  });
});
