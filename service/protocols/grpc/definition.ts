/**
 * The gRPC services' definitions, loaded at run time from the .proto files in proto/ (the protocol's own text,
 * no generated code), and the TypeScript shape of each message as @grpc/proto-loader decodes it with
 * {@link LOADER_OPTIONS}: field names as in the .proto, int64 as numbers, enums as names, every field present
 * (its default when absent on the wire), bytes as Buffers.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options, type PackageDefinition } from "@grpc/proto-loader";
import { GRPC_CONTRACT } from "../../contract/grpc";

export const PREDICT_PROTO = "grpc_predict_v2.proto";
export const HEALTH_PROTO = "health.proto";

/** How messages are decoded; the interfaces below depend on it. Exported for clients (tests, bench). */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };

/**
 * proto/ of the package: two levels above this module in the repository (service/protocols/grpc), three in the
 * compiled tree (build/service/protocols/grpc, as the image holds it beside /app/proto).
 */
export function protoDirectory(): string {
  for (let dir = __dirname, depth = 0; depth < 6; dir = path.dirname(dir), depth++) {
    const candidate = path.join(dir, "proto");
    if (existsSync(path.join(candidate, PREDICT_PROTO))) return candidate;
  }
  throw new Error(`no proto/${PREDICT_PROTO} above ${__dirname}`);
}

export function loadProtos(): PackageDefinition {
  const dir = protoDirectory();
  return loadSync([path.join(dir, PREDICT_PROTO), path.join(dir, HEALTH_PROTO)], { ...LOADER_OPTIONS, includeDirs: [dir] });
}

export interface GrpcServiceDefinitions {
  readonly inference: ServiceDefinition;
  readonly health: ServiceDefinition;
}

export function serviceDefinitions(definition: PackageDefinition = loadProtos()): GrpcServiceDefinitions {
  const pick = (name: string): ServiceDefinition => {
    const service = definition[name];
    // proto-loader marks a service's definition by its methods' requestStream fields; messages have "format".
    if (service === undefined || "format" in service) throw new Error(`the .proto files define no service ${name}`);
    return service as ServiceDefinition;
  };
  return { inference: pick(GRPC_CONTRACT.inferenceService), health: pick(GRPC_CONTRACT.healthService) };
}

/** InferParameter: one of the three choices is set (`parameter_choice` names it). */
export interface InferParameter {
  readonly bool_param: boolean;
  readonly int64_param: number;
  readonly string_param: string;
  readonly parameter_choice?: "bool_param" | "int64_param" | "string_param";
}

export type Parameters = Readonly<Record<string, InferParameter>>;

export interface InferTensorContents {
  readonly bool_contents: readonly boolean[];
  readonly int_contents: readonly number[];
  readonly int64_contents: readonly number[];
  readonly uint_contents: readonly number[];
  readonly uint64_contents: readonly number[];
  readonly fp32_contents: readonly number[];
  readonly fp64_contents: readonly number[];
  readonly bytes_contents: readonly Buffer[];
}

export interface InferInputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly parameters: Parameters;
  /** null when absent. */
  readonly contents: InferTensorContents | null;
}

export interface InferRequestedOutputTensor {
  readonly name: string;
  readonly parameters: Parameters;
}

export interface ModelInferRequest {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly parameters: Parameters;
  readonly inputs: readonly InferInputTensor[];
  readonly outputs: readonly InferRequestedOutputTensor[];
  readonly raw_input_contents: readonly Buffer[];
}

/** What the server sends; fields left out are the protocol's defaults. */
export interface InferOutputTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly contents?: { readonly fp32_contents: readonly number[] };
}

export interface ModelInferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id: string;
  readonly outputs: readonly InferOutputTensor[];
  readonly raw_output_contents: readonly Buffer[];
}

/** ModelReadyRequest and ModelMetadataRequest. */
export interface ModelRequest {
  readonly name: string;
  readonly version: string;
}

export interface HealthCheckRequest {
  readonly service: string;
}

export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

export interface HealthCheckResponse {
  readonly status: ServingStatus;
}
