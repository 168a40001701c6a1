import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { assertDnsLabel, assertLabels } from "./labels";

/** An in-cluster client admitted to the HTTP and gRPC ports, besides the ingress controller and Prometheus. */
export interface NetworkClient {
  /** Namespace the client's pods run in. */
  readonly namespace: string;
  /**
   * Labels of the client pods in that namespace.
   * @default - every pod of the namespace
   */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/**
 * Where the pods may open connections. "none": nowhere (the service resolves no names and calls nothing, so this is
 * all it needs; replies to admitted clients and the kubelet's probes are not egress). "dns": only the cluster DNS,
 * port 53 over UDP and TCP, for a sidecar or exporter that must resolve names.
 */
export type EgressPolicy = "none" | "dns";

/** Who may open connections to the pods, and where the pods may connect. Everything else is denied. */
export interface NetworkAccessProps {
  /**
   * Namespace of the ingress controller; all its pods may reach the HTTP and gRPC ports.
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
  /**
   * Other in-cluster clients admitted to the HTTP and gRPC ports, each a namespace and optionally pod labels.
   * @default [] (only the ingress controller and Prometheus)
   */
  readonly clients?: readonly NetworkClient[];
  /**
   * Outbound traffic allowed.
   * @default "none"
   */
  readonly egress?: EgressPolicy;
  /**
   * Namespace of the cluster DNS; only with egress "dns".
   * @default "kube-system"
   */
  readonly dnsNamespace?: string;
  /**
   * Labels of the cluster DNS pods; only with egress "dns".
   * @default { "k8s-app": "kube-dns" } (CoreDNS keeps kube-dns's label in kubeadm, kind, GKE, EKS and AKS)
   */
  readonly dnsPodLabels?: Readonly<Record<string, string>>;
}

/** The defaults NetworkAccessProps documents. */
export const NETWORK_ACCESS_DEFAULTS = {
  ingressControllerNamespace: "ingress-nginx",
  prometheusNamespace: "monitoring",
  prometheusPodLabels: { "app.kubernetes.io/name": "prometheus" },
  clients: [],
  egress: "none",
  dnsNamespace: "kube-system",
  dnsPodLabels: { "k8s-app": "kube-dns" },
} as const satisfies Required<NetworkAccessProps>;

export interface PodIngressPolicyProps {
  /** Name, namespace and labels of the NetworkPolicy. */
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string> };
  /** Labels of the pods it protects. */
  readonly podSelector: Readonly<Record<string, string>>;
  /** The container port traffic may reach: HTTP, which Prometheus scrapes too. */
  readonly port: number;
  /**
   * Further container ports the ingress controller and the client CIDRs may reach (gRPC); Prometheus still
   * reaches only `port`.
   * @default []
   */
  readonly extraPorts?: readonly number[];
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
 * A NetworkPolicy that admits traffic to the HTTP port only from the ingress controller's namespace, from Prometheus,
 * from the named in-cluster clients and from the given client CIDRs (and to the extra ports from all but Prometheus), and lets the pods connect nowhere (or only to
 * the cluster DNS). The namespaces are matched by their kubernetes.io/metadata.name label, which the API server
 * sets on every namespace.
 */
export class PodIngressPolicy extends Construct {
  readonly apiObject: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: PodIngressPolicyProps) {
    super(scope, id);
    const access = props.access ?? {};
    const defaults = NETWORK_ACCESS_DEFAULTS;
    const ingressNamespace = access.ingressControllerNamespace ?? defaults.ingressControllerNamespace;
    const prometheusNamespace = access.prometheusNamespace ?? defaults.prometheusNamespace;
    assertDnsLabel(ingressNamespace, "ingressControllerNamespace");
    assertDnsLabel(prometheusNamespace, "prometheusNamespace");
    const clients = (access.clients ?? defaults.clients).map(clientPeer);
    const repeated = clients.map((peer) => JSON.stringify(peer)).find((peer, i, all) => all.indexOf(peer) !== i);
    if (repeated !== undefined) throw new Error(`networkAccess clients name the same client twice: ${repeated}`);
    const sourceRanges = props.sourceRanges ?? [];
    for (const cidr of sourceRanges) assertCidr(cidr);

    const tcp = (number: number): k8s.NetworkPolicyPort => ({ protocol: "TCP", port: k8s.IntOrString.fromNumber(number) });
    const port = tcp(props.port);
    const clientPorts = [port, ...(props.extraPorts ?? []).map(tcp)];
    const prometheus: k8s.NetworkPolicyPeer = {
      namespaceSelector: namespaceNamed(prometheusNamespace),
      podSelector: { matchLabels: { ...(access.prometheusPodLabels ?? defaults.prometheusPodLabels) } },
    };
    this.apiObject = new k8s.KubeNetworkPolicy(this, "Resource", {
      metadata: { ...props.metadata, labels: { ...props.metadata.labels } },
      spec: {
        podSelector: { matchLabels: { ...props.podSelector } },
        policyTypes: ["Ingress", "Egress"],
        // Without extra ports, one rule for the ingress controller, Prometheus and the clients, as before gRPC.
        ingress: [
          ...(clientPorts.length === 1
            ? [{ from: [{ namespaceSelector: namespaceNamed(ingressNamespace) }, prometheus, ...clients], ports: [port] }]
            : [
                { from: [{ namespaceSelector: namespaceNamed(ingressNamespace) }, ...clients], ports: clientPorts },
                { from: [prometheus], ports: [port] },
              ]),
          ...(sourceRanges.length > 0 ? [{ from: sourceRanges.map((cidr) => ({ ipBlock: { cidr } })), ports: clientPorts }] : []),
        ],
        egress: egressRules(access),
      },
    });
  }
}

/** The `from` peer of one client: its namespace by name, and its pods by label when given. */
function clientPeer(client: NetworkClient): k8s.NetworkPolicyPeer {
  assertDnsLabel(client.namespace, "networkAccess client namespace");
  if (client.podLabels === undefined) return { namespaceSelector: namespaceNamed(client.namespace) };
  if (Object.keys(client.podLabels).length === 0) {
    throw new Error(
      `networkAccess client in ${client.namespace} has empty podLabels, which selects every pod: leave podLabels out to mean that`,
    );
  }
  assertLabels(client.podLabels, "networkAccess client podLabels");
  return { namespaceSelector: namespaceNamed(client.namespace), podSelector: { matchLabels: { ...client.podLabels } } };
}

/** The egress rules: none at all (every connection out is denied), or the cluster DNS on port 53. */
function egressRules(access: NetworkAccessProps): k8s.NetworkPolicyEgressRule[] {
  const egress = access.egress ?? NETWORK_ACCESS_DEFAULTS.egress;
  if (egress === "none") {
    if (access.dnsNamespace !== undefined || access.dnsPodLabels !== undefined) {
      throw new Error('networkAccess dnsNamespace and dnsPodLabels only apply with egress "dns"');
    }
    return [];
  }
  const dnsNamespace = access.dnsNamespace ?? NETWORK_ACCESS_DEFAULTS.dnsNamespace;
  const dnsPodLabels = access.dnsPodLabels ?? NETWORK_ACCESS_DEFAULTS.dnsPodLabels;
  assertDnsLabel(dnsNamespace, "networkAccess dnsNamespace");
  assertLabels(dnsPodLabels, "networkAccess dnsPodLabels");
  const dns = k8s.IntOrString.fromNumber(53);
  return [
    {
      to: [{ namespaceSelector: namespaceNamed(dnsNamespace), podSelector: { matchLabels: { ...dnsPodLabels } } }],
      ports: [
        { protocol: "UDP", port: dns },
        { protocol: "TCP", port: dns },
      ],
    },
  ];
}

function namespaceNamed(namespace: string): k8s.LabelSelector {
  return { matchLabels: { "kubernetes.io/metadata.name": namespace } };
}

function assertCidr(cidr: string): void {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const validIpv4 = ipv4 !== null && ipv4.slice(1, 5).every((o) => Number(o) <= 255) && Number(ipv4[5]) <= 32;
  const validIpv6 = /^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr) && Number(cidr.split("/")[1]) <= 128;
  if (!validIpv4 && !validIpv6) throw new Error(`"${cidr}" is not a CIDR such as 203.0.113.0/24`);
}
