/**
 * What the committed release entry deploys: production's two tracks (dist/production.k8s.yaml) and its Argo
 * Rollouts form (dist/production-rollout.k8s.yaml). A snapshot to review diffs, and the values that matter.
 */
import { rolloutWeights } from "../../charts/pyramidnet-rollout-chart";
import { readReleaseTable } from "../../charts/release-table";
import { CONFIG_SCHEMA } from "../../infra/service-contract";

const MODEL_VERSION_VARIABLE = CONFIG_SCHEMA.modelVersion.name;
import { allOf, grpcIngresses, releaseOf, specOf, synthEnvironment, synthRolloutEnvironment, type Manifest } from "./manifests";

const release = releaseOf("production")!;
const byName = <T extends { metadata?: { name?: string } }>(objects: T[], name: string): T => {
  const found = objects.filter((o) => o.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${name}, found ${found.length}`);
  return found[0];
};

describe("production, two tracks", () => {
  const manifests = synthEnvironment("production");

  test("matches the reviewed snapshot", () => {
    expect(manifests).toMatchSnapshot();
  });

  test("stable serves 1.0.0, the canary 1.1.0, from the same image", () => {
    const configMaps = allOf(manifests, "ConfigMap");
    expect(byName(configMaps, "pyramidnet-stable-config").data![MODEL_VERSION_VARIABLE]).toBe("1.0.0");
    expect(byName(configMaps, "pyramidnet-canary-config").data![MODEL_VERSION_VARIABLE]).toBe("1.1.0");
    const images = allOf(manifests, "Deployment").map((d) => d.spec!.template.spec!.containers[0].image);
    expect(new Set(images)).toEqual(new Set([`${specOf("production").imageRepository}:1.1.0`]));
  });

  test("the canary Ingress sends it 10% of the requests, and every request with X-Canary: always", () => {
    const canary = byName(allOf(manifests, "Ingress"), "pyramidnet-canary");
    expect(canary.metadata!.annotations).toEqual({
      "nginx.ingress.kubernetes.io/canary": "true",
      "nginx.ingress.kubernetes.io/canary-weight": String(release.canary!.weight),
      "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
    });
    expect(release.canary!.weight).toBe(10);
  });

  test("the stable track keeps production's range (3-20); the canary starts at 2 and may grow as far", () => {
    const hpas = allOf(manifests, "HorizontalPodAutoscaler");
    expect(byName(hpas, "pyramidnet-stable").spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    expect(byName(hpas, "pyramidnet-canary").spec).toMatchObject({ minReplicas: 2, maxReplicas: 20 });
    expect(allOf(manifests, "PodDisruptionBudget").map((p) => p.metadata!.name).sort()).toEqual(["pyramidnet-canary", "pyramidnet-stable"]);
  });

  test("gRPC splits the same way: a main gRPC Ingress to the stable Service, a canary one with the same weight", () => {
    const grpc = grpcIngresses(manifests);
    expect(grpc.map((i) => [i.metadata!.name, i.spec!.rules![0].http!.paths[0].backend.service])).toEqual([
      ["pyramidnet-grpc", { name: "pyramidnet-stable", port: { name: "grpc" } }],
      ["pyramidnet-grpc-canary", { name: "pyramidnet-canary", port: { name: "grpc" } }],
    ]);
    expect(grpc[0].spec!.tls).toEqual([{ hosts: ["grpc.pyramidnet.example.com"], secretName: "pyramidnet-grpc-tls" }]);
    // ingress-nginx's canary Ingress carries only its canary annotations; backend-protocol comes from the main one.
    expect(byName(allOf(manifests, "Ingress"), "pyramidnet-grpc-canary").metadata!.annotations).toEqual({
      "nginx.ingress.kubernetes.io/canary": "true",
      "nginx.ingress.kubernetes.io/canary-weight": String(release.canary!.weight),
      "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
    });
    expect(byName(allOf(manifests, "Ingress"), "pyramidnet-grpc-canary").spec!.rules![0].host).toBe("grpc.pyramidnet.example.com");
  });

  test("both ServiceMonitors have Prometheus copy the track label", () => {
    for (const monitor of allOf(manifests, "ServiceMonitor")) expect(monitor.spec.podTargetLabels).toEqual(["track"]);
  });
});

describe("production, Argo Rollouts form", () => {
  const manifests = synthRolloutEnvironment("production", release) as Array<Manifest & { spec?: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- CRD specs, read only

  test("matches the reviewed snapshot", () => {
    expect(manifests).toMatchSnapshot();
  });

  test("rolls 1.1.0 out over 10, 25 and 50%, with the release entry's weight first", () => {
    const rollout = manifests.find((m) => m.kind === "Rollout")!;
    expect(rollout.spec.strategy.canary.steps.filter((s: { setWeight?: number }) => s.setWeight !== undefined)).toEqual([
      { setWeight: 10 },
      { setWeight: 25 },
      { setWeight: 50 },
    ]);
    const deployment = manifests.find((m) => m.kind === "Deployment")!;
    expect(deployment.spec.template.spec.containers[0].env).toEqual([
      { name: MODEL_VERSION_VARIABLE, value: "1.1.0" },
      { name: CONFIG_SCHEMA.modelVersionPolicy.name, value: "specific:1.1.0" },
    ]);
  });

  test("the main HTTP and gRPC Ingresses route to the stable Service the Rollout names; it clones both", () => {
    const ingresses = manifests.filter((m) => m.kind === "Ingress");
    const rollout = manifests.find((m) => m.kind === "Rollout")!;
    expect(ingresses.map((i) => i.metadata.name)).toEqual(["pyramidnet", "pyramidnet-grpc"]);
    expect(rollout.spec.strategy.canary.trafficRouting.nginx.stableIngresses).toEqual(["pyramidnet", "pyramidnet-grpc"]);
    expect(rollout.spec.strategy.canary.trafficRouting.nginx.stableIngress).toBeUndefined();
    for (const ingress of ingresses) {
      for (const path of ingress.spec.rules[0].http.paths) expect(path.backend.service.name).toBe(rollout.spec.strategy.canary.stableService);
    }
    expect(ingresses.map((i) => i.spec.tls)).toEqual([
      [{ hosts: ["pyramidnet.example.com"], secretName: "pyramidnet-tls" }],
      [{ hosts: ["grpc.pyramidnet.example.com"], secretName: "pyramidnet-grpc-tls" }],
    ]);
    expect(ingresses[1].spec.rules[0].http.paths[0].backend.service.port).toEqual({ name: "grpc" });
  });

  test("the Namespace comes first; nothing of the two-track form is in it", () => {
    expect(manifests[0].kind).toBe("Namespace");
    expect(manifests.filter((m) => m.kind === "Deployment").map((m) => m.metadata.name)).toEqual(["pyramidnet"]);
    expect(manifests.filter((m) => m.kind === "Ingress")).toHaveLength(2);
  });
});

test("rolloutWeights: the entry's weight, then the default steps above it", () => {
  const stable = { modelVersion: "1.0.0" };
  expect(rolloutWeights({ stable, canary: { modelVersion: "1.1.0", weight: 10 } })).toEqual([10, 25, 50]);
  expect(rolloutWeights({ stable, canary: { modelVersion: "1.1.0", weight: 30 } })).toEqual([30, 50]);
  expect(rolloutWeights({ stable, canary: { modelVersion: "1.1.0", weight: 0 } })).toEqual([10, 25, 50]);
  expect(rolloutWeights({ stable, canary: { modelVersion: "1.1.0", weight: 100 } })).toEqual([10, 25, 50]);
  expect(rolloutWeights({ stable })).toEqual([10, 25, 50]);
});

test("every release entry's environment has both forms", () => {
  for (const name of Object.keys(readReleaseTable())) expect(specOf(name as "production")).toBeDefined();
});
