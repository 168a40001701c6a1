/**
 * PodIngressPolicy alone: the HTTP port (and the gRPC port, for all but Prometheus), admitted from the ingress controller, Prometheus, the named clients and the given
 * CIDRs only; no egress, or only the cluster DNS.
 */
import { PodIngressPolicy, type PodIngressPolicyProps } from "../../infra";
import { oneOf, synthConstructs } from "./manifests";

const PROPS: PodIngressPolicyProps = {
  metadata: { name: "classifier", namespace: "vision", labels: { team: "ml" } },
  podSelector: { app: "classifier" },
  port: 8000,
};
const policyOf = (props: Partial<PodIngressPolicyProps>) =>
  oneOf(synthConstructs((scope) => new PodIngressPolicy(scope, "Policy", { ...PROPS, ...props })), "NetworkPolicy");
const PORT = [{ protocol: "TCP", port: 8000 }];

test("defaults: ingress-nginx's namespace and prometheus-operator's Prometheus pods in monitoring", () => {
  const policy = policyOf({});
  expect(policy.metadata).toEqual(PROPS.metadata);
  expect(policy.spec).toEqual({
    podSelector: { matchLabels: { app: "classifier" } },
    policyTypes: ["Ingress", "Egress"],
    egress: [],
    ingress: [
      {
        from: [
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ],
        ports: PORT,
      },
    ],
  });
});

test("source ranges add one rule of ipBlocks on the same port, IPv4 and IPv6", () => {
  const policy = policyOf({ sourceRanges: ["203.0.113.0/24", "2001:db8::/32"] });
  expect(policy.spec!.ingress).toHaveLength(2);
  expect(policy.spec!.ingress![1]).toEqual({
    from: [{ ipBlock: { cidr: "203.0.113.0/24" } }, { ipBlock: { cidr: "2001:db8::/32" } }],
    ports: PORT,
  });
});

test("the port is the prop", () => {
  expect(policyOf({ port: 9090 }).spec!.ingress![0].ports).toEqual([{ protocol: "TCP", port: 9090 }]);
});

test("clients join the first rule's peers on the same port: a whole namespace, or its pods by label", () => {
  const policy = policyOf({
    access: { clients: [{ namespace: "batch-jobs" }, { namespace: "loadtest", podLabels: { "app.kubernetes.io/name": "k6" } }] },
  });
  expect(policy.spec!.ingress).toHaveLength(1);
  expect(policy.spec!.ingress![0].from!.slice(2)).toEqual([
    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "batch-jobs" } } },
    {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "loadtest" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "k6" } },
    },
  ]);
  expect(policy.spec!.ingress![0].ports).toEqual(PORT);
});

test("extra ports (gRPC) open to the ingress controller, the clients and the CIDRs; Prometheus keeps the first port only", () => {
  const policy = policyOf({ extraPorts: [8001], access: { clients: [{ namespace: "loadtest" }] }, sourceRanges: ["203.0.113.0/24"] });
  const both = [...PORT, { protocol: "TCP", port: 8001 }];
  expect(policy.spec!.ingress).toEqual([
    {
      from: [
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
        { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "loadtest" } } },
      ],
      ports: both,
    },
    {
      from: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
          podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
        },
      ],
      ports: PORT,
    },
    { from: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: both },
  ]);
  // No extra ports: the one rule of before.
  expect(policyOf({ extraPorts: [] }).spec!.ingress).toHaveLength(1);
});

test('egress "dns" allows only the cluster DNS on port 53, UDP and TCP; its namespace and labels are props', () => {
  const dns = [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ];
  expect(policyOf({ access: { egress: "dns" } }).spec!.egress).toEqual([
    {
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        },
      ],
      ports: dns,
    },
  ]);
  const custom = policyOf({ access: { egress: "dns", dnsNamespace: "dns", dnsPodLabels: { app: "coredns" } } });
  expect(custom.spec!.egress![0].to).toEqual([
    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dns" } }, podSelector: { matchLabels: { app: "coredns" } } },
  ]);
  expect(custom.spec!.policyTypes).toEqual(["Ingress", "Egress"]);
});
