/**
 * A KServe v2 / Open Inference Protocol gRPC client in a page, as any client would write it: @grpc/grpc-js and
 * @grpc/proto-loader with the protocol's own .proto files (proto/), nothing of this service's code. It checks
 * the standard health service, asks for the model's metadata, and classifies image files sent as one BYTES
 * tensor in raw_input_contents (each element a 4-byte little-endian length and the file's bytes).
 *
 *   npm run grpc:client                                  # localhost:8001, two fixture images
 *   npm run grpc:client -- --address host:port a.jpg b.png
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { credentials, loadPackageDefinition, type Client, type ServiceClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { cliOptions } from "./cli-options";

const PROTO_DIR = path.resolve(__dirname, "..", "proto");
const DEFAULT_IMAGES = ["__tests__/fixtures/cifar10/ship/0005.jpg", "__tests__/fixtures/cifar10/cat/0000.jpg"];

type Reply = Record<string, unknown>;
type Unary = (request: Reply, callback: (error: ServiceError | null, reply: Reply) => void) => void;

/** Calls a unary method by name and resolves with its reply (or rejects with the gRPC status). */
function call(client: Client, method: string, request: Reply): Promise<Reply> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  return new Promise((resolve, reject) => fn.call(client, request, (error, reply) => (error === null ? resolve(reply) : reject(error))));
}

function serviceClient(root: ReturnType<typeof loadPackageDefinition>, qualified: string): ServiceClientConstructor {
  let node: unknown = root;
  for (const part of qualified.split(".")) node = (node as Record<string, unknown>)[part];
  return node as ServiceClientConstructor;
}

async function main(): Promise<void> {
  let address = "localhost:8001";
  const files: string[] = [];
  for (const { arg, value } of cliOptions(process.argv.slice(2))) {
    if (arg === "--address") address = value();
    else if (!arg.startsWith("--")) files.push(arg);
    else throw new Error(`unknown option ${arg} (see the header of scripts/grpc-client.ts)`);
  }
  const images = (files.length > 0 ? files : DEFAULT_IMAGES).map((file) => readFileSync(file));

  const definition = loadSync(["grpc_predict_v2.proto", "health.proto"].map((file) => path.join(PROTO_DIR, file)), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    includeDirs: [PROTO_DIR],
  });
  const root = loadPackageDefinition(definition);
  const Inference = serviceClient(root, "inference.GRPCInferenceService");
  const Health = serviceClient(root, "grpc.health.v1.Health");
  const inference = new Inference(address, credentials.createInsecure());
  const health = new Health(address, credentials.createInsecure());
  try {
    console.log("health", JSON.stringify(await call(health, "Check", { service: "" })));
    const metadata = await call(inference, "ModelMetadata", { name: "pyramidnet" });
    console.log("metadata", JSON.stringify({ name: metadata.name, versions: metadata.versions, inputs: metadata.inputs }));

    const tensor = Buffer.concat(
      images.flatMap((image) => {
        const length = Buffer.alloc(4);
        length.writeUInt32LE(image.length);
        return [length, image];
      }),
    );
    const reply = await call(inference, "ModelInfer", {
      model_name: "pyramidnet",
      id: "grpc-1",
      inputs: [{ name: "image", datatype: "BYTES", shape: [images.length] }],
      outputs: [{ name: "probabilities" }],
      raw_input_contents: [tensor],
    });
    const [output] = reply.outputs as Reply[];
    console.log("infer", JSON.stringify({ model_version: reply.model_version, id: reply.id, output }));
    // raw in, raw out: the probabilities are little-endian FP32, row-major [N, 10].
    const raw = (reply.raw_output_contents as Buffer[])[0];
    const labels = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
    for (let row = 0; row < images.length; row++) {
      const scores = labels.map((_, k) => raw.readFloatLE(4 * (row * labels.length + k)));
      const best = scores.indexOf(Math.max(...scores));
      console.log(labels[best], scores[best].toFixed(4));
    }
  } finally {
    inference.close();
    health.close();
  }
}

main().catch((error: unknown) => {
  const status = error as Partial<ServiceError>;
  console.error(status.code === undefined ? String(error) : `gRPC ${status.code}: ${status.details}`);
  process.exit(1);
});
