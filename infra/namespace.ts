import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { assertDnsLabel } from "./labels";

/** Pod Security Admission levels (kubernetes.io/docs/concepts/security/pod-security-standards). */
export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

export interface AppNamespaceProps {
  /** The namespace's name. */
  readonly name: string;
  /** Labels besides the Pod Security ones. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Pod Security Admission level enforced on every pod in the namespace; the inference pods meet "restricted".
   * @default "restricted"
   */
  readonly podSecurity?: PodSecurityLevel;
}

/** A Namespace (cluster-scoped, so it carries no namespace of its own) that enforces a Pod Security level. */
export class AppNamespace extends Construct {
  readonly name: string;
  readonly apiObject: k8s.KubeNamespace;

  constructor(scope: Construct, id: string, props: AppNamespaceProps) {
    super(scope, id);
    assertDnsLabel(props.name, "namespace");
    const level = props.podSecurity ?? "restricted";
    this.name = props.name;
    this.apiObject = new k8s.KubeNamespace(this, "Resource", {
      metadata: {
        name: props.name,
        labels: {
          ...props.labels,
          "pod-security.kubernetes.io/enforce": level,
          "pod-security.kubernetes.io/warn": level,
          "pod-security.kubernetes.io/audit": level,
        },
      },
    });
  }
}
