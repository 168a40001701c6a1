import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import { assertDnsLabel } from "./labels";
import { HTTP_CONTRACT } from "./service-contract";
import { assertInteger } from "./validation";

/** What an Ingress needs to route to a Service (InferenceService is one). */
export interface HttpBackend {
  readonly namespace: string;
  readonly serviceName: string;
  readonly servicePortName: string;
  /** Largest request body the backend accepts, in bytes. */
  readonly maxRequestBytes: number;
}

/** TLS terminated by the ingress controller with a certificate cert-manager issues. */
export interface IngressTlsProps {
  /** The cert-manager ClusterIssuer that signs the certificate (cert-manager.io/cluster-issuer). */
  readonly clusterIssuer: string;
  /**
   * The Secret cert-manager writes the certificate into.
   * @default - "<ingress name>-tls"
   */
  readonly secretName?: string;
}

export interface ClassifierIngressProps {
  /** The Service to route to, and the largest request it accepts. */
  readonly backend: HttpBackend;
  /** The host name clients use. */
  readonly host: string;
  /**
   * Name of the Ingress.
   * @default - the backend's Service name
   */
  readonly name?: string;
  /** Labels of the Ingress. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The IngressClass.
   * @default "nginx"
   */
  readonly ingressClassName?: string;
  /**
   * HTTPS with a cert-manager certificate; plain HTTP when absent.
   * @default - no TLS
   */
  readonly tls?: IngressTlsProps;
  /**
   * Requests per second one client address may send (ingress-nginx limit-rps); the controller delays bursts up to
   * its burst multiplier (5 by default) and answers the rest with its limit status code (503 by default).
   * @default 20
   */
  readonly rateLimitPerSecond?: number;
  /**
   * The paths routed to the service. Anything else gets the controller's 404, so probes and /metrics are not
   * reachable from outside the cluster.
   * @default HTTP_CONTRACT.publicPaths
   */
  readonly paths?: readonly IngressPath[];
  /**
   * Make this the canary Ingress of the main one for the same host (see IngressCanaryProps). A canary Ingress gets
   * no TLS section and no cert-manager annotation: the main Ingress's certificate serves it.
   * @default - a main Ingress
   */
  readonly canary?: IngressCanaryProps;
}

/**
 * Makes the Ingress an ingress-nginx canary: an alternative backend for the same host and paths as the main
 * Ingress, which must exist. ingress-nginx ignores every other nginx annotation of a canary Ingress (it inherits
 * them, and TLS, from the main one), so a canary Ingress carries only the canary annotations.
 */
export interface IngressCanaryProps {
  /** Percent of requests sent to this backend, 0-100 (nginx.ingress.kubernetes.io/canary-weight). */
  readonly weight: number;
  /**
   * A request header that overrides the weight per request: "always" sends the request to the canary, "never" to
   * the main backend (nginx.ingress.kubernetes.io/canary-by-header).
   * @default "X-Canary"
   */
  readonly header?: string;
}

/** The defaults IngressCanaryProps documents. */
export const INGRESS_CANARY_DEFAULTS = { header: "X-Canary" } as const;

/** ingress-nginx's canary annotations for a weight and a header. */
export function canaryAnnotations(weight: number, header: string = INGRESS_CANARY_DEFAULTS.header): Record<string, string> {
  assertInteger(weight, "canary weight", { min: 0, max: 100 });
  if (!/^[A-Za-z0-9-]+$/.test(header)) throw new Error(`canary header "${header}" must be an HTTP header name (letters, digits, -)`);
  return {
    "nginx.ingress.kubernetes.io/canary": "true",
    "nginx.ingress.kubernetes.io/canary-weight": String(weight),
    "nginx.ingress.kubernetes.io/canary-by-header": header,
  };
}

/** One routed path of the Ingress. */
export interface IngressPath {
  readonly path: string;
  readonly pathType: "Exact" | "Prefix";
}

const HOST = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/;

/** Refuses an Ingress host that is not a lowercase DNS name with at least one dot. */
export function assertIngressHost(host: string): void {
  if (!HOST.test(host)) throw new Error(`ingress host "${host}" must be a lowercase DNS name with at least one dot`);
}

/**
 * ingress-nginx's body size in nginx units, exact: nginx reads "m" as MiB and "k" as KiB, so 10485760 bytes is
 * "10m". The Ingress must not refuse what the service accepts, nor accept what it would refuse with a 413 after
 * the whole upload crossed the network.
 */
export function nginxSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`body size must be a positive integer, got ${bytes}`);
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20}m`;
  if (bytes % 2 ** 10 === 0) return `${bytes / 2 ** 10}k`;
  return String(bytes);
}

/** The TLS Secret's name once the TLS props are checked: the one given, else "<ingress name>-tls". */
export function tlsSecretName(tls: IngressTlsProps, ingressName: string): string {
  if (tls.clusterIssuer.trim() === "") throw new Error("tls.clusterIssuer must not be empty");
  const secretName = tls.secretName ?? `${ingressName}-tls`;
  assertDnsLabel(secretName, "tls secretName");
  return secretName;
}

/** A networking.k8s.io/v1 Ingress for the classifier on ingress-nginx. */
export class ClassifierIngress extends Construct {
  readonly host: string;
  readonly apiObject: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: ClassifierIngressProps) {
    super(scope, id);
    const name = props.name ?? props.backend.serviceName;
    assertDnsLabel(name, "ingress name");
    assertIngressHost(props.host);
    const rateLimit = props.rateLimitPerSecond ?? 20;
    assertInteger(rateLimit, "rateLimitPerSecond", { min: 1 });
    const secretName = props.tls ? tlsSecretName(props.tls, name) : undefined;
    const paths = props.paths ?? HTTP_CONTRACT.publicPaths;
    if (paths.length === 0) throw new Error("the Ingress must route at least one path");
    for (const { path } of paths) {
      if (!path.startsWith("/")) throw new Error(`ingress path "${path}" must start with "/"`);
    }

    this.host = props.host;
    const mainAnnotations = {
      "nginx.ingress.kubernetes.io/proxy-body-size": nginxSize(props.backend.maxRequestBytes),
      "nginx.ingress.kubernetes.io/limit-rps": String(rateLimit),
      ...(props.tls
        ? {
            "cert-manager.io/cluster-issuer": props.tls.clusterIssuer,
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
          }
        : {}),
    };
    const canary = props.canary;
    this.apiObject = new k8s.KubeIngress(this, "Resource", {
      metadata: {
        name,
        namespace: props.backend.namespace,
        labels: { ...props.labels },
        annotations: canary ? canaryAnnotations(canary.weight, canary.header) : mainAnnotations,
      },
      spec: {
        ingressClassName: props.ingressClassName ?? "nginx",
        tls: secretName && !canary ? [{ hosts: [props.host], secretName }] : undefined,
        rules: [
          {
            host: props.host,
            http: {
              paths: paths.map(({ path, pathType }) => ({
                path,
                pathType,
                backend: { service: { name: props.backend.serviceName, port: { name: props.backend.servicePortName } } },
              })),
            },
          },
        ],
      },
    });
  }
}
