/**
 * Every synthesized object, and every object in the committed dist/, validates against the Kubernetes OpenAPI
 * schemas (kubernetes-models 4.x compiles them into validators), the prometheus-operator CRD schema, the Argo
 * Rollouts CRD schemas (Rollout, AnalysisTemplate) and, for the VerticalPodAutoscaler that kubernetes-models
 * lacks, a minimal schema of its v1 API (vpa-schema.ts). Offline: no cluster, no network.
 */
import fs from "node:fs";
import path from "node:path";
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import { Rollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parseAllDocuments } from "yaml";
import { rolloutChartName } from "../../charts/app";
import { environmentNames, type EnvironmentName } from "../../charts/environments";
import { readReleaseTable } from "../../charts/release-table";
import { type Manifest, synthEnvironment, synthRolloutEnvironment } from "./manifests";
import { validateVerticalPodAutoscaler } from "./vpa-schema";

interface Validatable {
  validate(): void;
}

/** The model of each apiVersion/kind the charts emit. An object of any other kind fails the test. */
const MODELS: Readonly<Record<string, new (data: never) => Validatable>> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "networking.k8s.io/v1/Ingress": Ingress,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "argoproj.io/v1alpha1/Rollout": Rollout,
  "argoproj.io/v1alpha1/AnalysisTemplate": AnalysisTemplate,
  "v1/ServiceAccount": ServiceAccount,
  "autoscaling.k8s.io/v1/VerticalPodAutoscaler": class {
    constructor(private readonly data: unknown) {}
    validate(): void {
      validateVerticalPodAutoscaler(this.data);
    }
  },
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

const DIST = path.resolve(__dirname, "../../dist");

/** Every output: each environment's file, and the Rollout form of each environment with a release entry. */
const OUTPUTS: ReadonlyArray<readonly [file: string, synthesize: () => Manifest[]]> = [
  ...environmentNames().map((name) => [name, () => synthEnvironment(name)] as const),
  ...Object.entries(readReleaseTable()).map(
    ([name, release]) => [rolloutChartName(name), () => synthRolloutEnvironment(name as EnvironmentName, release)] as const,
  ),
];

describe.each(OUTPUTS)("%s", (name, synthesize) => {
  const synthesized = synthesize();
  const committed = parseAllDocuments(fs.readFileSync(path.join(DIST, `${name}.k8s.yaml`), "utf8")).map(
    (doc) => doc.toJSON() as Manifest,
  );

  test.each(synthesized.map((m) => [`${m.kind} ${m.metadata.name}`, m] as const))(
    "synthesized %s validates",
    (_label, manifest) => {
      expect(() => validate(manifest)).not.toThrow();
    },
  );

  test("every object in the committed dist file validates", () => {
    expect(committed).toHaveLength(synthesized.length);
    for (const manifest of committed) expect(() => validate(manifest)).not.toThrow();
  });
});

describe("the validators are not vacuous", () => {
  const deployment = synthEnvironment("production").find((m) => m.kind === "Deployment")!;
  type Spec = { template: { spec: { containers: Array<Record<string, unknown>> } } };
  const mutate = (change: (spec: Spec) => void): Manifest => {
    const copy = structuredClone(deployment) as Manifest & { spec: Spec };
    change(copy.spec);
    return copy;
  };

  test("a string containerPort is rejected", () => {
    const bad = mutate((spec) => {
      spec.template.spec.containers[0].ports = [{ name: "http", containerPort: "8000" }];
    });
    expect(() => validate(bad)).toThrow(/containerPort must be integer/);
  });

  test("a container without a name is rejected", () => {
    const bad = mutate((spec) => {
      delete spec.template.spec.containers[0].name;
    });
    expect(() => validate(bad)).toThrow(/containers\/0 must have required property name/);
  });

  test("a ServiceMonitor without endpoints is rejected", () => {
    const monitor = structuredClone(synthEnvironment("production").find((m) => m.kind === "ServiceMonitor")!) as Manifest & {
      spec: Record<string, unknown>;
    };
    delete monitor.spec.endpoints;
    expect(() => validate(monitor)).toThrow(/endpoints/);
  });

  test("a Rollout step with a string weight is rejected", () => {
    const [name, release] = Object.entries(readReleaseTable())[0];
    const rollout = structuredClone(synthRolloutEnvironment(name as EnvironmentName, release).find((m) => m.kind === "Rollout")!) as Manifest & {
      spec: { strategy: { canary: { steps: Array<Record<string, unknown>> } } };
    };
    rollout.spec.strategy.canary.steps[0] = { setWeight: "10" };
    expect(() => validate(rollout)).toThrow(/setWeight must be integer/);
  });

  test("an AnalysisTemplate metric without a provider is rejected", () => {
    const [name, release] = Object.entries(readReleaseTable())[0];
    const template = structuredClone(
      synthRolloutEnvironment(name as EnvironmentName, release).find((m) => m.kind === "AnalysisTemplate")!,
    ) as Manifest & { spec: { metrics: Array<Record<string, unknown>> } };
    delete template.spec.metrics[0].provider;
    expect(() => validate(template)).toThrow(/provider/);
  });

  describe("the VerticalPodAutoscaler schema", () => {
    type Recommender = Manifest & {
      spec: { updatePolicy: Record<string, unknown>; resourcePolicy: { containerPolicies: Array<Record<string, unknown>> } };
    };
    const recommender = (): Recommender =>
      structuredClone(synthEnvironment("production").find((m) => m.kind === "VerticalPodAutoscaler")!) as Recommender;

    test("accepts what the construct writes", () => {
      expect(() => validate(recommender())).not.toThrow();
    });

    const cases: ReadonlyArray<readonly [string, (v: Recommender) => void, RegExp]> = [
      ["an update mode the API does not have", (v) => void (v.spec.updatePolicy.updateMode = "off"), /updateMode must be equal to one of the allowed values/],
      ["a malformed quantity", (v) => void (v.spec.resourcePolicy.containerPolicies[0].maxAllowed = { cpu: "4 cores" }), /maxAllowed\/cpu must match pattern/],
      ["a misspelt field", (v) => void (v.spec.resourcePolicy.containerPolicies[0].containerNmae = "x"), /must NOT have additional properties/],
      ["no targetRef", (v) => void delete (v.spec as Record<string, unknown>).targetRef, /must have required property 'targetRef'/],
    ];
    test.each(cases)("refuses %s", (_name, change, expected) => {
      const broken = recommender();
      change(broken);
      expect(() => validate(broken)).toThrow(expected);
    });
  });

  test("a PrometheusRule group without rules is rejected", () => {
    const rule = structuredClone(synthEnvironment("production").find((m) => m.kind === "PrometheusRule")!) as Manifest & {
      spec: { groups: Array<Record<string, unknown>> };
    };
    delete rule.spec.groups[0].rules;
    expect(() => validate(rule)).toThrow(/rules/);
  });

  test("an unknown kind is reported rather than skipped", () => {
    expect(() => validate({ apiVersion: "v1", kind: "Secret", metadata: { name: "x" } })).toThrow(/no schema/);
  });
});
