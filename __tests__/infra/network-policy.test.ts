/** PodIngressPolicy alone: one port, admitted from the ingress controller, Prometheus and the given CIDRs only. */
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
    policyTypes: ["Ingress"],
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
