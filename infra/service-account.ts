import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { assertDnsLabel, assertDnsSubdomain } from "./labels";

export interface WorkloadServiceAccountProps {
  /** Name of the ServiceAccount; the pods run as it. */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The pods' own ServiceAccount, so that nothing granted to the namespace's `default` account (by a Helm chart, an
 * operator, a careless RoleBinding) reaches them. Its token is never mounted: the service calls no Kubernetes API.
 */
export class WorkloadServiceAccount extends Construct {
  readonly name: string;
  readonly apiObject: k8s.KubeServiceAccount;

  constructor(scope: Construct, id: string, props: WorkloadServiceAccountProps) {
    super(scope, id);
    assertDnsLabel(props.name, "serviceAccount name");
    this.name = props.name;
    this.apiObject = new k8s.KubeServiceAccount(this, "Resource", {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
      automountServiceAccountToken: false,
    });
  }
}

/**
 * The pod's `imagePullSecrets`: Secrets of type kubernetes.io/dockerconfigjson in the pod's namespace, for a
 * private registry. They go on the pod itself rather than on the ServiceAccount, so they do not depend on the
 * ServiceAccount admission plugin copying them in, and a reader of the Deployment sees them. Refuses a name that
 * cannot be a Secret's and a repeated one.
 */
export function renderImagePullSecrets(names: readonly string[]): k8s.LocalObjectReference[] | undefined {
  for (const name of names) assertDnsSubdomain(name, "imagePullSecrets entry");
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (repeated.length > 0) throw new Error(`imagePullSecrets names ${repeated[0]} more than once`);
  return names.length > 0 ? names.map((name) => ({ name })) : undefined;
}
