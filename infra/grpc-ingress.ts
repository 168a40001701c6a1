import { k8s } from "cdk8s-plus-28";
import { Construct } from "constructs";
import {
  type HttpBackend,
  type IngressCanaryProps,
  type IngressTlsProps,
  assertIngressHost,
  canaryAnnotations,
  nginxSize,
  tlsSecretName,
} from "./ingress";
import { assertDnsLabel } from "./labels";
import { GRPC_CONTRACT } from "./service-contract";
import { assertInteger } from "./validation";

/**
 * The one path a gRPC Ingress routes: every method of the inference service (`/inference.GRPCInferenceService/*`).
 * The health service (and anything else on the port) stays reachable only inside the cluster, as the HTTP probes do.
 */
export const GRPC_INGRESS_PATH = { path: `/${GRPC_CONTRACT.inferenceService}`, pathType: "Prefix" } as const;

/** The bytes gRPC puts before each message on the wire: a compressed flag and a 4-byte length. */
export const GRPC_MESSAGE_PREFIX_BYTES = 5;

export interface GrpcIngressProps {
  /**
   * The Service's gRPC port (InferenceService.grpcBackend), and the largest message it accepts
   * (CLASSIFIER_MAX_REQUEST_SIZE, which is also the gRPC server's receive limit).
   */
  readonly backend: HttpBackend;
  /** The host name gRPC clients dial (over TLS, port 443). */
  readonly host: string;
  /**
   * Name of the Ingress.
   * @default - the backend's Service name and "-grpc"
   */
  readonly name?: string;
  /** Labels of the Ingress. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The IngressClass: an ingress-nginx controller (the `backend-protocol` annotation is ingress-nginx's).
   * @default "nginx"
   */
  readonly ingressClassName?: string;
  /**
   * TLS with a cert-manager certificate. Required on a main gRPC Ingress: ingress-nginx speaks HTTP/2, which gRPC
   * needs, only on its TLS listener, so a plaintext gRPC Ingress could never carry a call and is refused at synth
   * time. A canary Ingress takes the main one's certificate and carries none.
   * @default - none: refused unless `canary` is set
   */
  readonly tls?: IngressTlsProps;
  /**
   * Calls per second one client address may start (ingress-nginx limit-rps; each unary gRPC call is one request).
   * @default 20
   */
  readonly rateLimitPerSecond?: number;
  /**
   * Make this the ingress-nginx canary of the main gRPC Ingress for the same host (see IngressCanaryProps).
   * @default - a main Ingress
   */
  readonly canary?: IngressCanaryProps;
}

/** The defaults GrpcIngressProps documents. */
export const GRPC_INGRESS_DEFAULTS = { ingressClassName: "nginx", rateLimitPerSecond: 20, nameSuffix: "-grpc" } as const;

/**
 * A networking.k8s.io/v1 Ingress for the classifier's gRPC port on ingress-nginx: `backend-protocol: GRPC` (the
 * controller proxies with grpc_pass over HTTP/2 cleartext to the pods), TLS at the controller, the inference
 * service's path only, and a body limit that lets through exactly the messages the service accepts.
 */
export class GrpcIngress extends Construct {
  readonly host: string;
  readonly apiObject: k8s.KubeIngress;

  constructor(scope: Construct, id: string, props: GrpcIngressProps) {
    super(scope, id);
    const name = props.name ?? `${props.backend.serviceName}${GRPC_INGRESS_DEFAULTS.nameSuffix}`;
    assertDnsLabel(name, "gRPC ingress name");
    assertIngressHost(props.host);
    const rateLimit = props.rateLimitPerSecond ?? GRPC_INGRESS_DEFAULTS.rateLimitPerSecond;
    assertInteger(rateLimit, "gRPC rateLimitPerSecond", { min: 1 });
    const canary = props.canary;
    if (canary === undefined && props.tls === undefined) {
      throw new Error(
        `the gRPC Ingress ${name} (host ${props.host}) must terminate TLS: ingress-nginx serves gRPC (HTTP/2) only ` +
          "over TLS, so set its tls",
      );
    }
    const secretName = props.tls && !canary ? tlsSecretName(props.tls, name) : undefined;

    this.host = props.host;
    const mainAnnotations = {
      "nginx.ingress.kubernetes.io/backend-protocol": "GRPC",
      // The body of a unary call is the message behind its 5-byte prefix: the largest message the service accepts
      // must pass, and nothing larger.
      "nginx.ingress.kubernetes.io/proxy-body-size": nginxSize(props.backend.maxRequestBytes + GRPC_MESSAGE_PREFIX_BYTES),
      "nginx.ingress.kubernetes.io/limit-rps": String(rateLimit),
      ...(props.tls ? { "cert-manager.io/cluster-issuer": props.tls.clusterIssuer } : {}),
    };
    this.apiObject = new k8s.KubeIngress(this, "Resource", {
      metadata: {
        name,
        namespace: props.backend.namespace,
        labels: { ...props.labels },
        annotations: canary ? canaryAnnotations(canary.weight, canary.header) : mainAnnotations,
      },
      spec: {
        ingressClassName: props.ingressClassName ?? GRPC_INGRESS_DEFAULTS.ingressClassName,
        tls: secretName === undefined ? undefined : [{ hosts: [props.host], secretName }],
        rules: [
          {
            host: props.host,
            http: {
              paths: [
                {
                  ...GRPC_INGRESS_PATH,
                  backend: { service: { name: props.backend.serviceName, port: { name: props.backend.servicePortName } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
}

/** The gRPC port of a classifier, refused when its configuration turns gRPC off (there is no port to route to). */
export function grpcBackendOf(service: { readonly objectName: string; readonly grpcBackend?: HttpBackend }): HttpBackend {
  if (service.grpcBackend === undefined) {
    throw new Error(
      `a gRPC Ingress needs the gRPC port, which ${service.objectName} does not serve (CLASSIFIER_GRPC_ENABLED is false): ` +
        "turn gRPC on or leave the gRPC Ingress out",
    );
  }
  return service.grpcBackend;
}
