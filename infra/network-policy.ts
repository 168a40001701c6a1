import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { assertDnsLabel } from "./labels";

/** Who may open connections to the pods. Everything else is denied by the NetworkPolicy. */
export interface NetworkAccessProps {
  /**
   * Namespace of the ingress controller; all its pods may reach the HTTP port.
   * @default "ingress-nginx"
   */
  readonly ingressControllerNamespace?: string;
  /**
   * Namespace Prometheus runs in.
   * @default "monitoring"
   */
  readonly prometheusNamespace?: string;
  /**
   * Labels of the Prometheus pods in that namespace.
   * @default { "app.kubernetes.io/name": "prometheus" } (what prometheus-operator puts on its Prometheus pods)
   */
  readonly prometheusPodLabels?: Readonly<Record<string, string>>;
}

export interface PodIngressPolicyProps {
  /** Name, namespace and labels of the NetworkPolicy. */
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string> };
  /** Labels of the pods it protects. */
  readonly podSelector: Readonly<Record<string, string>>;
  /** The one container port traffic may reach. */
  readonly port: number;
  /**
   * Who may reach it.
   * @default - see NetworkAccessProps
   */
  readonly access?: NetworkAccessProps;
  /**
   * Client CIDRs that may reach the port directly (a LoadBalancer Service with externalTrafficPolicy Local).
   * @default [] (only the ingress controller and Prometheus)
   */
  readonly sourceRanges?: readonly string[];
}

/**
 * A NetworkPolicy that admits traffic to one port only from the ingress controller's namespace, from Prometheus,
 * and from the given client CIDRs; the pods accept nothing else. The namespaces are matched by their
 * kubernetes.io/metadata.name label, which the API server sets on every namespace.
 */
export class PodIngressPolicy extends Construct {
  readonly apiObject: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: PodIngressPolicyProps) {
    super(scope, id);
    const access = props.access ?? {};
    const ingressNamespace = access.ingressControllerNamespace ?? "ingress-nginx";
    const prometheusNamespace = access.prometheusNamespace ?? "monitoring";
    assertDnsLabel(ingressNamespace, "ingressControllerNamespace");
    assertDnsLabel(prometheusNamespace, "prometheusNamespace");
    const sourceRanges = props.sourceRanges ?? [];
    for (const cidr of sourceRanges) assertCidr(cidr);

    const port: k8s.NetworkPolicyPort = { protocol: "TCP", port: k8s.IntOrString.fromNumber(props.port) };
    const namespaceNamed = (ns: string) => ({ matchLabels: { "kubernetes.io/metadata.name": ns } });
    this.apiObject = new k8s.KubeNetworkPolicy(this, "Resource", {
      metadata: { ...props.metadata, labels: { ...props.metadata.labels } },
      spec: {
        podSelector: { matchLabels: { ...props.podSelector } },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              { namespaceSelector: namespaceNamed(ingressNamespace) },
              {
                namespaceSelector: namespaceNamed(prometheusNamespace),
                podSelector: {
                  matchLabels: { ...(access.prometheusPodLabels ?? { "app.kubernetes.io/name": "prometheus" }) },
                },
              },
            ],
            ports: [port],
          },
          ...(sourceRanges.length > 0 ? [{ from: sourceRanges.map((cidr) => ({ ipBlock: { cidr } })), ports: [port] }] : []),
        ],
      },
    });
  }
}

function assertCidr(cidr: string): void {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const validIpv4 = ipv4 !== null && ipv4.slice(1, 5).every((o) => Number(o) <= 255) && Number(ipv4[5]) <= 32;
  const validIpv6 = /^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr) && Number(cidr.split("/")[1]) <= 128;
  if (!validIpv4 && !validIpv6) throw new Error(`"${cidr}" is not a CIDR such as 203.0.113.0/24`);
}
