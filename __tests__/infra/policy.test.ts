/**
 * Policy: what kube-score, kube-linter and Polaris would insist on, checked on every environment; and proof, by
 * breaking one thing at a time, that each check fires.
 */
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IIngress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { environmentNames } from "../../charts/environments";
import { type Manifest, specOf, synthEnvironment, synthWithoutRelease } from "./manifests";
import { policyViolations } from "./policy";

describe.each(environmentNames())("%s", (name) => {
  test("has no policy violations", () => {
    expect(policyViolations(synthEnvironment(name), { requireTls: specOf(name).exposure === "public" })).toEqual([]);
  });
});

describe("each policy check fires", () => {
  // The one-track form, whose object names the messages below spell out; the tracks' own checks come after.
  const base = synthWithoutRelease("production");
  const options = { requireTls: true };

  /** The production objects with one change applied to a copy of one kind. */
  function breakOne<T>(kind: string, change: (object: T) => void, remove = false): Manifest[] {
    return base.flatMap((m) => {
      if (m.kind !== kind) return [m];
      if (remove) return [];
      const copy = structuredClone(m);
      change(copy as unknown as T);
      return [copy];
    });
  }
  const breakContainer = (change: (c: IDeployment["spec"] & object) => void) =>
    breakOne<IDeployment>("Deployment", (d) => change(d.spec!));
  const container = (spec: NonNullable<IDeployment["spec"]>) => spec.template.spec!.containers[0];
  /** A copy of a Deployment whose pods no longer turn token automounting off themselves. */
  const mountToken = (deployment: Manifest): Manifest => {
    const copy = structuredClone(deployment) as unknown as IDeployment;
    delete copy.spec!.template.spec!.automountServiceAccountToken;
    return copy as unknown as Manifest;
  };

  const cases: ReadonlyArray<readonly [string, Manifest[], RegExp]> = [
    ["latest tag", breakContainer((s) => void (container(s).image = "pyramidnet:latest")), /uses the latest tag/],
    ["untagged image", breakContainer((s) => void (container(s).image = "ghcr.io/acme/pyramidnet")), /has no tag/],
    ["missing readiness probe", breakContainer((s) => void delete container(s).readinessProbe), /no readiness probe/],
    [
      "identical liveness and readiness",
      breakContainer((s) => void (container(s).readinessProbe = container(s).livenessProbe)),
      /same check/,
    ],
    [
      "probe on an unexposed port",
      breakContainer((s) => void (container(s).livenessProbe!.httpGet!.port = "metrics")),
      /liveness probe targets port metrics/,
    ],
    ["missing memory limit", breakContainer((s) => void delete container(s).resources!.limits!.memory), /no memory limit/],
    ["missing cpu request", breakContainer((s) => void delete container(s).resources!.requests!.cpu), /no cpu request/],
    [
      "root user",
      breakContainer((s) => {
        delete container(s).securityContext!.runAsNonRoot;
        delete s.template.spec!.securityContext!.runAsNonRoot;
      }),
      /may run as root/,
    ],
    [
      "writable root",
      breakContainer((s) => void (container(s).securityContext!.readOnlyRootFilesystem = false)),
      /writable root filesystem/,
    ],
    [
      "privilege escalation",
      breakContainer((s) => void delete container(s).securityContext!.allowPrivilegeEscalation),
      /allows privilege escalation/,
    ],
    ["replicas next to an HPA", breakContainer((s) => void (s.replicas = 3)), /sets replicas although an HPA/],
    ["no PodDisruptionBudget", breakOne("PodDisruptionBudget", () => undefined, true), /without a PodDisruptionBudget/],
    ["no NetworkPolicy", breakOne("NetworkPolicy", () => undefined, true), /no NetworkPolicy selects/],
    [
      "Service selecting nothing",
      breakOne<{ spec: { selector: Record<string, string> } }>("Service", (s) => {
        s.spec.selector["app.kubernetes.io/instance"] = "renamed";
      }),
      /Service pyramidnet: selects no pods/,
    ],
    [
      "HPA targeting a missing Deployment",
      breakOne<{ spec: { scaleTargetRef: { name: string } } }>("HorizontalPodAutoscaler", (h) => {
        h.spec.scaleTargetRef.name = "classifier";
      }),
      /targets Deployment classifier, which does not exist/,
    ],
    [
      "ServiceMonitor selecting nothing",
      breakOne<{ spec: { selector: { matchLabels: Record<string, string> } } }>("ServiceMonitor", (m) => {
        m.spec.selector.matchLabels = { app: "other" };
      }),
      /ServiceMonitor pyramidnet: selects no Service/,
    ],
    [
      "Ingress without TLS",
      breakOne<IIngress>("Ingress", (i) => void delete i.spec!.tls),
      /served without TLS/,
    ],
    ["no Namespace", breakOne("Namespace", () => undefined, true), /which is not created/],
    [
      "the default ServiceAccount",
      breakContainer((s) => void delete s.template.spec!.serviceAccountName),
      /runs as the namespace's default ServiceAccount/,
    ],
    ["a missing ServiceAccount", breakOne("ServiceAccount", () => undefined, true), /runs as ServiceAccount pyramidnet, which does not exist/],
    [
      "a mounted token",
      breakOne<{ automountServiceAccountToken?: boolean }>("ServiceAccount", (a) => void delete a.automountServiceAccountToken).map(
        (m) => (m.kind === "Deployment" ? mountToken(m) : m),
      ),
      /mounts a ServiceAccount token it never uses/,
    ],
    [
      "egress left open",
      breakOne<{ spec: { policyTypes: string[] } }>("NetworkPolicy", (p) => void (p.spec.policyTypes = ["Ingress"])),
      /leaves egress open/,
    ],
    [
      "a VPA on a missing Deployment",
      breakOne<{ spec: { targetRef: { name: string } } }>("VerticalPodAutoscaler", (v) => void (v.spec.targetRef.name = "classifier")),
      /VerticalPodAutoscaler pyramidnet: targets Deployment classifier, which does not exist/,
    ],
    [
      "a VPA on a container the pods do not run",
      breakOne<{ spec: { resourcePolicy: { containerPolicies: Array<{ containerName: string }> } } }>(
        "VerticalPodAutoscaler",
        (v) => void (v.spec.resourcePolicy.containerPolicies[0].containerName = "server"),
      ),
      /names container server, which its target does not run/,
    ],
    [
      "a VPA that resizes pods next to the HPA",
      breakOne<{ spec: { updatePolicy: { updateMode: string } } }>("VerticalPodAutoscaler", (v) => void (v.spec.updatePolicy.updateMode = "Recreate")),
      /updateMode Recreate resizes pods an HPA scales on the same requests/,
    ],
  ];

  test.each(cases)("%s", (_name, manifests, expected) => {
    const violations = policyViolations(manifests, options);
    expect(violations).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });
});

describe("the release tracks' policy checks fire", () => {
  const tracks = synthEnvironment("production");
  const options = { requireTls: true };
  /* eslint-disable @typescript-eslint/no-explicit-any -- each case breaks one field of a copy, whatever its kind */
  const changed = (kind: string, name: string, change: (object: any) => void): Manifest[] =>
    tracks.flatMap((m) => {
      if (m.kind !== kind || m.metadata.name !== name) return [m];
      const copy = structuredClone(m);
      change(copy);
      return [copy];
    });
  /* eslint-enable @typescript-eslint/no-explicit-any */

  test("the committed tracks pass", () => {
    expect(policyViolations(tracks, options)).toEqual([]);
  });

  test("a track other than stable or canary", () => {
    const broken = changed("Deployment", "pyramidnet-canary", (d) => {
      d.spec.selector.matchLabels.track = "blue";
      d.spec.template.metadata.labels.track = "blue";
    });
    expect(policyViolations(broken, options)).toContain('Deployment pyramidnet-canary: selects track "blue", which is neither stable nor canary');
  });

  test("a canary Ingress whose host has no main Ingress", () => {
    const broken = changed("Ingress", "pyramidnet-canary", (i) => {
      i.spec.rules[0].host = "elsewhere.example.com";
    });
    expect(policyViolations(broken, options)).toEqual(
      expect.arrayContaining([
        "Ingress pyramidnet-canary: is a canary without a main Ingress for its host",
        "Ingress pyramidnet-canary: host elsewhere.example.com is served without TLS",
      ]),
    );
  });

  test("a gRPC Ingress without backend-protocol GRPC, or without TLS, even where TLS is not required", () => {
    const plain = changed("Ingress", "pyramidnet-grpc", (i) => {
      delete i.metadata.annotations["nginx.ingress.kubernetes.io/backend-protocol"];
      delete i.spec.tls;
    });
    expect(policyViolations(plain, { requireTls: false })).toEqual([
      "Ingress pyramidnet-grpc: routes to a gRPC port without backend-protocol GRPC",
      "Ingress pyramidnet-grpc: serves gRPC on grpc.pyramidnet.example.com without TLS, which ingress-nginx cannot",
      "Ingress pyramidnet-grpc-canary: routes to a gRPC port without backend-protocol GRPC",
      "Ingress pyramidnet-grpc-canary: serves gRPC on grpc.pyramidnet.example.com without TLS, which ingress-nginx cannot",
    ]);
  });

  test("a canary Ingress inherits no TLS when the main Ingress has none", () => {
    const broken = changed("Ingress", "pyramidnet", (i) => {
      delete i.spec.tls;
    });
    expect(policyViolations(broken, options)).toEqual(
      expect.arrayContaining([
        "Ingress pyramidnet: host pyramidnet.example.com is served without TLS",
        "Ingress pyramidnet-canary: host pyramidnet.example.com is served without TLS",
      ]),
    );
  });
});
