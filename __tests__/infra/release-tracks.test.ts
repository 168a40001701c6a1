/** ReleaseTracks alone: one set of objects per track, selectors by track, and the ingress-nginx traffic split. */
import { ReleaseTracks, type ReleaseTracksProps } from "../../infra";
import { CONFIG_SCHEMA, loadConfig } from "../../infra/service-contract";
import { TEST_SERVICE_PROPS, allOf, synthConstructs, type Manifest } from "./manifests";

const VERSION = CONFIG_SCHEMA.modelVersion.name;
const POLICY = CONFIG_SCHEMA.modelVersionPolicy.name;

const PROPS: ReleaseTracksProps = {
  service: TEST_SERVICE_PROPS,
  stable: { modelVersion: "1.0.0" },
  canary: { modelVersion: "1.1.0", weight: 10 },
  ingress: { host: "pyramidnet.example.com" },
};
const synth = (props: Partial<ReleaseTracksProps> = {}) =>
  synthConstructs((scope) => new ReleaseTracks(scope, "Release", { ...PROPS, ...props }));
const named = (manifests: Manifest[], kind: string, name: string) => {
  const found = manifests.filter((m) => m.kind === kind && m.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- read-only access to any kind's spec
  return found[0] as Manifest & { spec: Record<string, any>; data?: Record<string, string>; metadata: { annotations?: Record<string, string> } };
};

describe("a stable and a canary track", () => {
  const manifests = synth();

  test("each track owns a ConfigMap, Deployment, Service, HPA, PDB, NetworkPolicy and ServiceMonitor, named by track", () => {
    for (const kind of ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"]) {
      expect(manifests.filter((m) => m.kind === kind).map((m) => m.metadata.name).sort()).toEqual(["pyramidnet-canary", "pyramidnet-stable"]);
    }
    expect(allOf(manifests, "ConfigMap").map((m) => m.metadata!.name).sort()).toEqual(["pyramidnet-canary-config", "pyramidnet-stable-config"]);
  });

  test.each(["stable", "canary"])("the %s track's selectors are name, instance and track; its objects carry the track label", (track) => {
    const selector = { "app.kubernetes.io/name": "pyramidnet", "app.kubernetes.io/instance": "pyramidnet", track };
    const deployment = named(manifests, "Deployment", `pyramidnet-${track}`);
    expect(deployment.spec.selector).toEqual({ matchLabels: selector });
    expect(deployment.spec.template.metadata.labels).toMatchObject(selector);
    expect(named(manifests, "Service", `pyramidnet-${track}`).spec.selector).toEqual(selector);
    expect(named(manifests, "PodDisruptionBudget", `pyramidnet-${track}`).spec.selector).toEqual({ matchLabels: selector });
    expect(named(manifests, "NetworkPolicy", `pyramidnet-${track}`).spec.podSelector).toEqual({ matchLabels: selector });
    expect(named(manifests, "ServiceMonitor", `pyramidnet-${track}`).spec.selector).toEqual({ matchLabels: selector });
    expect(named(manifests, "HorizontalPodAutoscaler", `pyramidnet-${track}`).spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: `pyramidnet-${track}`,
    });
    for (const m of manifests.filter((o) => o.metadata.name.startsWith(`pyramidnet-${track}`))) expect(m.metadata.labels!.track).toBe(track);
  });

  test("Prometheus copies the track label onto the series; the service is not told its track", () => {
    for (const track of ["stable", "canary"]) {
      expect(named(manifests, "ServiceMonitor", `pyramidnet-${track}`).spec.podTargetLabels).toEqual(["track"]);
    }
  });

  test("each track's ConfigMap serves its one model version (default and policy), and validates", () => {
    const stable = named(manifests, "ConfigMap", "pyramidnet-stable-config").data!;
    const canary = named(manifests, "ConfigMap", "pyramidnet-canary-config").data!;
    expect([VERSION, POLICY]).toEqual(["CLASSIFIER_MODEL_VERSION", "CLASSIFIER_MODEL_VERSION_POLICY"]);
    expect([stable[VERSION], stable[POLICY]]).toEqual(["1.0.0", "specific:1.0.0"]);
    expect([canary[VERSION], canary[POLICY]]).toEqual(["1.1.0", "specific:1.1.0"]);
    expect(loadConfig(canary).modelVersionPolicy).toEqual({ kind: "specific", versions: ["1.1.0"] });
    const withoutVersion = (data: Record<string, string>) =>
      Object.fromEntries(Object.entries(data).filter(([k]) => k !== VERSION && k !== POLICY));
    expect(withoutVersion(canary)).toEqual(withoutVersion(stable));
  });

  test("a version policy in the shared config is kept (it must load the track's version)", () => {
    const all = synth({ service: { ...TEST_SERVICE_PROPS, config: { modelVersionPolicy: { kind: "all" } } } });
    expect(named(all, "ConfigMap", "pyramidnet-canary-config").data![POLICY]).toBe("all");
    expect(named(all, "ConfigMap", "pyramidnet-canary-config").data![VERSION]).toBe("1.1.0");
  });

  test("the canary runs the stable image unless it names its own", () => {
    const image = (m: Manifest[], track: string) => named(m, "Deployment", `pyramidnet-${track}`).spec.template.spec.containers[0].image;
    expect(image(manifests, "canary")).toBe("pyramidnet:1.0.0");
    const ownImage = synth({ canary: { image: { repository: "pyramidnet", tag: "1.1.0-rc1" }, weight: 5 } });
    expect(image(ownImage, "canary")).toBe("pyramidnet:1.1.0-rc1");
    expect(image(ownImage, "stable")).toBe("pyramidnet:1.0.0");
    // Same model version (the stable one's), another image: a server change tried on the same model.
    expect(named(ownImage, "ConfigMap", "pyramidnet-canary-config").data![VERSION]).toBe("1.0.0");
  });

  test("the canary scales from min(stable min, 2) to the stable max by default, or from its own minReplicas", () => {
    expect(named(manifests, "HorizontalPodAutoscaler", "pyramidnet-canary").spec).toMatchObject({ minReplicas: 2, maxReplicas: 4 });
    expect(named(manifests, "HorizontalPodAutoscaler", "pyramidnet-stable").spec).toMatchObject({ minReplicas: 2, maxReplicas: 4 });
    const three = synth({ canary: { ...PROPS.canary!, minReplicas: 3 } });
    expect(named(three, "HorizontalPodAutoscaler", "pyramidnet-canary").spec.minReplicas).toBe(3);
    const single = synth({ service: { ...TEST_SERVICE_PROPS, autoscaling: { minReplicas: 1, maxReplicas: 3 } } });
    expect(named(single, "HorizontalPodAutoscaler", "pyramidnet-canary").spec.minReplicas).toBe(1);
    // One canary pod: no PDB for it, as for any one-replica InferenceService; the stable track keeps its own.
    const oneCanary = synth({ canary: { ...PROPS.canary!, minReplicas: 1 } });
    expect(oneCanary.filter((m) => m.kind === "PodDisruptionBudget").map((m) => m.metadata.name)).toEqual(["pyramidnet-stable"]);
  });

  test("without autoscaling the canary gets a fixed replica count", () => {
    const fixed = synth({ service: { ...TEST_SERVICE_PROPS, autoscaling: undefined, replicas: 5 } });
    expect(named(fixed, "Deployment", "pyramidnet-canary").spec.replicas).toBe(2);
    expect(named(fixed, "Deployment", "pyramidnet-stable").spec.replicas).toBe(5);
  });

  test("the main Ingress routes to the stable Service, the canary Ingress to the canary Service with the weight", () => {
    const main = named(manifests, "Ingress", "pyramidnet");
    const canary = named(manifests, "Ingress", "pyramidnet-canary");
    const backends = (i: typeof main) =>
      new Set(i.spec.rules[0].http.paths.map((p: { backend: { service: { name: string } } }) => p.backend.service.name));
    expect(backends(main)).toEqual(new Set(["pyramidnet-stable"]));
    expect(backends(canary)).toEqual(new Set(["pyramidnet-canary"]));
    expect(canary.spec.rules[0].host).toBe(main.spec.rules[0].host);
    expect(canary.spec.rules[0].http.paths.map((p: { path: string }) => p.path)).toEqual(main.spec.rules[0].http.paths.map((p: { path: string }) => p.path));
    expect(canary.metadata.annotations).toEqual({
      "nginx.ingress.kubernetes.io/canary": "true",
      "nginx.ingress.kubernetes.io/canary-weight": "10",
      "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
    });
    expect(main.metadata.annotations).not.toHaveProperty(["nginx.ingress.kubernetes.io/canary"]);
    expect(canary.metadata.labels!.track).toBe("canary");
  });
});

test("the selectors do not depend on the version: promoting 1.1.0 keeps every selector", () => {
  const selectors = (m: Manifest[]) =>
    m.filter((o) => o.kind === "Deployment" || o.kind === "Service").map((o) => [o.metadata.name, JSON.stringify((o as { spec?: { selector?: unknown } }).spec?.selector)]);
  const before = synth();
  const promoted = synth({ stable: { modelVersion: "1.1.0" }, canary: undefined });
  expect(selectors(promoted)).toEqual(selectors(before).filter(([name]) => name === "pyramidnet-stable"));
});

test("without a canary: the stable track only, and one Ingress", () => {
  const manifests = synth({ canary: undefined });
  expect(manifests.some((m) => m.metadata.labels?.track === "canary")).toBe(false);
  expect(allOf(manifests, "Ingress").map((i) => i.metadata!.name)).toEqual(["pyramidnet"]);
});

test("without an Ingress and without a canary: the stable track's objects only", () => {
  const manifests = synth({ canary: undefined, ingress: undefined });
  expect(allOf(manifests, "Ingress")).toEqual([]);
  expect(allOf(manifests, "Deployment").map((d) => d.metadata!.name)).toEqual(["pyramidnet-stable"]);
});

test("a weight of 0 keeps the canary reachable only through the header", () => {
  const annotations = named(synth({ canary: { ...PROPS.canary!, weight: 0 } }), "Ingress", "pyramidnet-canary").metadata.annotations!;
  expect(annotations["nginx.ingress.kubernetes.io/canary-weight"]).toBe("0");
  expect(annotations["nginx.ingress.kubernetes.io/canary-by-header"]).toBe("X-Canary");
});

describe("a gRPC Ingress", () => {
  const GRPC = { host: "grpc.pyramidnet.example.com", tls: { clusterIssuer: "letsencrypt" } } as const;

  test("a main one to the stable track's gRPC port, a canary one to the canary's with the same weight and header", () => {
    const manifests = synth({ grpcIngress: GRPC, canary: { ...PROPS.canary!, header: "X-Try" } });
    const main = named(manifests, "Ingress", "pyramidnet-grpc");
    const canary = named(manifests, "Ingress", "pyramidnet-grpc-canary");
    expect(main.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: "pyramidnet-stable", port: { name: "grpc" } } });
    expect(canary.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: "pyramidnet-canary", port: { name: "grpc" } } });
    expect(main.metadata.annotations).toMatchObject({ "nginx.ingress.kubernetes.io/backend-protocol": "GRPC" });
    expect(main.spec.tls).toEqual([{ hosts: [GRPC.host], secretName: "pyramidnet-grpc-tls" }]);
    expect(canary.metadata.annotations).toEqual({
      "nginx.ingress.kubernetes.io/canary": "true",
      "nginx.ingress.kubernetes.io/canary-weight": "10",
      "nginx.ingress.kubernetes.io/canary-by-header": "X-Try",
    });
    expect(canary.spec.tls).toBeUndefined();
  });

  test("without a canary, the main one only; without the prop, none", () => {
    expect(allOf(synth({ canary: undefined, grpcIngress: GRPC }), "Ingress").map((i) => i.metadata!.name)).toEqual(["pyramidnet", "pyramidnet-grpc"]);
    expect(allOf(synth(), "Ingress").map((i) => i.metadata!.name)).toEqual(["pyramidnet", "pyramidnet-canary"]);
  });
});
