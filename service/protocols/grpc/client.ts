/**
 * A small promise-based client of this server's gRPC services, built from the same .proto files at run time:
 * for the tests, the benchmark and scripts. Any other KServe v2 gRPC client works the same way.
 */
import {
  Metadata,
  credentials,
  loadPackageDefinition,
  type CallOptions,
  type ChannelOptions,
  type Client,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { GRPC_CONTRACT } from "../../contract/grpc";
import { loadProtos, type HealthCheckResponse, type ModelInferResponse } from "./definition";

/** A unary call's answer, or its error (code, details, trailers). */
export interface CallOutcome<T> {
  readonly response?: T;
  readonly error?: ServiceError;
  /** The trailers of a successful call. */
  readonly trailers?: Metadata;
}

export interface CallSettings {
  /** Milliseconds from now. @default none */
  readonly deadlineMs?: number;
  /** Sent as x-request-id. */
  readonly requestId?: string;
}

/** Messages as the client sends them: plain objects, fields by their .proto names. */
export type Message = Record<string, unknown>;

export class GrpcInferenceClient {
  private readonly inference: Client;
  private readonly health: Client;

  constructor(address: string, options: ChannelOptions = {}) {
    const root = loadPackageDefinition(loadProtos());
    const constructorOf = (qualified: string): ServiceClientConstructor => {
      let node: unknown = root;
      for (const part of qualified.split(".")) node = (node as Record<string, unknown>)[part];
      return node as ServiceClientConstructor;
    };
    const Inference = constructorOf(GRPC_CONTRACT.inferenceService);
    const Health = constructorOf(GRPC_CONTRACT.healthService);
    this.inference = new Inference(address, credentials.createInsecure(), options);
    // The same channel for both services: one connection, as a probe and a client share a pod's port.
    this.health = new Health(address, credentials.createInsecure(), { ...options, channelOverride: this.inference.getChannel() });
  }

  /** Any unary method of inference.GRPCInferenceService by name, e.g. "ModelInfer". */
  call<T = Message>(method: string, request: Message, settings: CallSettings = {}): Promise<CallOutcome<T>> {
    return unaryCall<T>(this.inference, method, request, settings);
  }

  infer(request: Message, settings: CallSettings = {}): Promise<CallOutcome<ModelInferResponse>> {
    return this.call<ModelInferResponse>("ModelInfer", request, settings);
  }

  check(service = "", settings: CallSettings = {}): Promise<CallOutcome<HealthCheckResponse>> {
    return unaryCall<HealthCheckResponse>(this.health, "Check", { service }, settings);
  }

  /** The health service's Watch stream; cancel it with the returned call's cancel(). */
  watch(service = ""): ReturnType<Client["makeServerStreamRequest"]> {
    const method = (this.health as unknown as Record<string, (request: Message) => ReturnType<Client["makeServerStreamRequest"]>>)["Watch"];
    return method.call(this.health, { service });
  }

  close(): void {
    this.health.close();
    this.inference.close();
  }
}

type UnaryMethod = (request: Message, metadata: Metadata, options: CallOptions, callback: (error: ServiceError | null, response?: unknown) => void) => {
  on(event: "status", listener: (status: { metadata: Metadata }) => void): unknown;
};

function unaryCall<T>(client: Client, method: string, request: Message, settings: CallSettings): Promise<CallOutcome<T>> {
  const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
  if (typeof fn !== "function") throw new Error(`no gRPC method ${method}`);
  const metadata = new Metadata();
  if (settings.requestId !== undefined) metadata.set("x-request-id", settings.requestId);
  const options: CallOptions = settings.deadlineMs === undefined ? {} : { deadline: Date.now() + settings.deadlineMs };
  return new Promise((resolve) => {
    let trailers: Metadata | undefined;
    let answer: CallOutcome<T> | undefined;
    // The callback and the status event come in either order; answer once both are known.
    const settle = () => {
      if (answer !== undefined && (trailers !== undefined || answer.error !== undefined)) resolve({ ...answer, trailers });
    };
    const call = fn.call(client, request, metadata, options, (error, response) => {
      answer = error === null ? { response: response as T } : { error };
      settle();
    });
    call.on("status", (status) => {
      trailers = status.metadata;
      settle();
    });
  });
}
