/**
 * The fixed parts of the gRPC contract, written once: the names infra/ gives the port and the services a client
 * or a probe calls. This module must stay free of runtime dependencies (no @grpc/grpc-js): infra/ imports it.
 */
export const GRPC_CONTRACT = {
  /** Name of the container and Service port; the Ingress targets it by name. */
  portName: "grpc",
  /** The Service port's appProtocol (Kubernetes: a standard name for gRPC over HTTP/2 cleartext). */
  appProtocol: "grpc",
  /** The Open Inference Protocol's service (proto/grpc_predict_v2.proto). */
  inferenceService: "inference.GRPCInferenceService",
  /** The standard health service (proto/health.proto) that Kubernetes' gRPC probes call. */
  healthService: "grpc.health.v1.Health",
} as const;
