/**
 * A gRPC client for hostile traffic on loopback: it sends any bytes as a method's request message (no protobuf
 * encoding on this side, so a mutated or lying message reaches the server's decoder as it is), and encodes valid
 * messages with the service's own .proto files, as the starting points of mutations.
 */
import { Client, Metadata, credentials, status as Status, type ServiceError } from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { GRPC_CONTRACT } from "../../../service/contract/grpc";
import type { Message } from "../../../service/protocols/grpc/client";
import { loadProtos } from "../../../service/protocols/grpc/definition";

export { Status };

/** One call's end: its status code and details (OK with the response's bytes). */
export interface RawOutcome {
  readonly code: Status;
  readonly details: string;
  readonly response?: Buffer;
}

const identity = (bytes: Buffer): Buffer => bytes;

export class RawGrpcClient {
  private readonly client: Client;

  constructor(address: string, maxSendBytes = 64 * 2 ** 20) {
    this.client = new Client(address, credentials.createInsecure(), {
      "grpc.max_send_message_length": maxSendBytes,
      "grpc.max_receive_message_length": 64 * 2 ** 20,
    });
  }

  /** Sends `message` as the request of `service`'s unary `method`, with a deadline. */
  call(method: string, message: Buffer, deadlineMs: number, service: string = GRPC_CONTRACT.inferenceService): Promise<RawOutcome> {
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        `/${service}/${method}`,
        identity,
        identity,
        message,
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error: ServiceError | null, response?: Buffer) => {
          resolve(error === null ? { code: Status.OK, details: "", response } : { code: error.code, details: error.details });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Encodes and decodes the messages of the inference service's methods with the service's .proto files. */
export class ProtoCodec {
  private readonly methods: Readonly<Record<string, MethodDefinition<Message, Message>>>;

  constructor() {
    const definition = loadProtos();
    this.methods = definition[GRPC_CONTRACT.inferenceService] as unknown as Record<string, MethodDefinition<Message, Message>>;
  }

  request(method: string, message: Message): Buffer {
    return this.method(method).requestSerialize(message);
  }

  response(method: string, bytes: Buffer): Message {
    return this.method(method).responseDeserialize(bytes);
  }

  private method(name: string): MethodDefinition<Message, Message> {
    const method = this.methods[name];
    if (method === undefined) throw new Error(`no method ${name} in ${GRPC_CONTRACT.inferenceService}`);
    return method;
  }
}
