/**
 * The Open Inference Protocol endpoints in OpenAPI 3.1 terms: this protocol's fragment of the service's
 * document, which service/http/openapi.ts assembles. Values (model name, version, shapes, limits) come from the running model and config.
 */
import { CONFIG_SCHEMA } from "../../config/schema";
import { MODEL_VERSION_CONTRACT } from "../../contract/http";
import { schemaRef as schema } from "../../http/openapi-components";
import type { Json, OpenApiContext, OpenApiFragment } from "../../http/route-context";
import { HEADER_LENGTH_HEADER } from "./binary-body";
import { BINARY_TENSOR_DATA_EXTENSION, IMAGE_BYTES_EXTENSION, IMAGE_INPUT_NAME, PROBABILITIES_OUTPUT_NAME, modelMetadata, outputNames } from "./metadata";

const V2_TAG = {
  name: "open inference protocol",
  description:
    "KServe v2 / Open Inference Protocol REST endpoints, beside /predict and sharing its batching, limits and metrics. " +
    'Errors are {"error": "<message>"}.',
};

export function v2OpenApi({ config, model, versions }: OpenApiContext): OpenApiFragment {
  const tags = [V2_TAG.name];
  const itemShape = model.input.shape.slice(1);
  const error = (description: string, retryAfter = false): Json => ({
    description,
    headers: {
      "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" },
      ...(retryAfter ? { "Retry-After": { $ref: "#/components/headers/Retry-After" } } : {}),
    },
    content: { "application/json": { schema: schema("V2Error") } },
  });
  const json = (description: string, name: string): Json => ({ description, content: { "application/json": { schema: schema(name) } } });
  const modelParameter = {
    name: "model",
    in: "path",
    required: true,
    schema: { type: "string", enum: [model.name] },
    description: "Model name; any other answers 404.",
  };
  const versionParameter = {
    name: "version",
    in: "path",
    required: true,
    schema: { type: "string", enum: [...versions] },
    description:
      `A loaded model version (${versions.join(", ")}); without /versions/{version} the default, ${model.version}, answers. ` +
      "A version the repository holds but this server does not load, or an unknown one, answers 404 with a message saying which.",
  };
  const unknown = error("Unknown model, unknown version, or a version in the repository that this server does not load.");
  const methodNotAllowed = error("The path does not support this method; see the Allow header.");

  const perModel = (withVersion: boolean): Record<string, Json> => {
    const parameters = withVersion ? [modelParameter, versionParameter] : [modelParameter];
    const base = withVersion ? "/v2/models/{model}/versions/{version}" : "/v2/models/{model}";
    const suffix = withVersion ? " (explicit version)" : "";
    return {
      [base]: {
        get: {
          tags,
          summary: `Model metadata${suffix}`,
          operationId: withVersion ? "v2ModelVersionMetadata" : "v2ModelMetadata",
          parameters,
          responses: { "200": json("Model metadata.", "V2ModelMetadata"), "404": unknown, "405": methodNotAllowed },
        },
      },
      [`${base}/ready`]: {
        get: {
          tags,
          summary: `Model readiness${suffix}`,
          operationId: withVersion ? "v2ModelVersionReady" : "v2ModelReady",
          parameters,
          responses: {
            "200": json("The model is ready.", "V2ModelReady"),
            "400": json("The model is not ready (loading, or the service is shutting down).", "V2ModelReady"),
            "404": unknown,
            "405": methodNotAllowed,
          },
        },
      },
      [`${base}/infer`]: {
        post: {
          tags,
          summary: `Inference${suffix}`,
          description:
            `Send either the FP32 "${model.input.name}" tensor, shape [N, ${itemShape.join(", ")}], preprocessed as the ` +
            `model card says (flat or nested, row-major), or the BYTES "${IMAGE_INPUT_NAME}" tensor, shape [N], of ` +
            `base64-encoded image files, decoded and preprocessed by the service (extension "${IMAGE_BYTES_EXTENSION}"). ` +
            `N is 1 to ${config.maxBatchFiles}. Outputs: "${model.output.name}" (FP32 [N, ${model.labels.length}], FP32 input ` +
            `only) and "${PROBABILITIES_OUTPUT_NAME}" (softmax, FP32 [N, ${model.labels.length}], class order ` +
            `${model.labels.join(", ")}), flattened row-major. Without "outputs", every output the input allows is returned. ` +
            `Binary tensor data (extension "${BINARY_TENSOR_DATA_EXTENSION}"): the body is the JSON followed by raw little-endian ` +
            `tensor bytes, the ${HEADER_LENGTH_HEADER} header gives the JSON's size, and each binary input carries ` +
            `"parameters": {"binary_data_size": <bytes>} (FP32: 4 bytes per element; BYTES: each image file behind its 4-byte ` +
            `little-endian length). Outputs asked for with "binary_data": true (or all, by the request's "binary_data_output": true) ` +
            `come back the same way, as application/octet-stream with ${HEADER_LENGTH_HEADER}. Any Content-Type or none is read; ` +
            `multipart, image, audio and video types are refused. The body may be compressed (Content-Encoding gzip or deflate); ` +
            `responses are compressed as Accept-Encoding asks. The body may be at most ${config.maxRequestSize} bytes, ` +
            `before and after decompression; a prediction has ${config.predictionTimeoutMs} ms.`,
          operationId: withVersion ? "v2ModelVersionInfer" : "v2ModelInfer",
          parameters,
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: schema("V2InferenceRequest"),
                examples: {
                  image: {
                    summary: "One encoded image (BYTES, base64)",
                    value: {
                      id: "req-1",
                      inputs: [{ name: IMAGE_INPUT_NAME, shape: [1], datatype: "BYTES", data: ["<base64 of a JPEG or PNG file>"] }],
                    },
                  },
                },
              },
              "application/octet-stream": {
                schema: { type: "string", format: "binary", description: `The JSON request (${HEADER_LENGTH_HEADER} bytes), then each binary input's bytes in input order.` },
              },
            },
          },
          responses: {
            "200": {
              description: "Outputs, in the order requested: JSON, or with binary outputs the JSON followed by their bytes.",
              headers: {
                "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" },
                [MODEL_VERSION_CONTRACT.responseHeader]: { description: "The model version that served the request.", schema: { type: "string" } },
                [HEADER_LENGTH_HEADER]: { description: "With binary outputs only: the size of the JSON at the start of the body.", schema: { type: "integer", minimum: 1 } },
              },
              content: {
                "application/json": { schema: schema("V2InferenceResponse") },
                "application/octet-stream": { schema: { type: "string", format: "binary", description: `The JSON response (${HEADER_LENGTH_HEADER} bytes), then each binary output's bytes in output order.` } },
              },
            },
            "400": error(
              "Malformed request: not JSON, wrong input name, datatype or shape, data that does not match the shape, non-finite numbers, bad base64, " +
                "an image that cannot be decoded, binary data sizes that do not add up to the body, or a body that is not valid gzip or deflate.",
            ),
            "404": unknown,
            "405": methodNotAllowed,
            "413": error(`The body, or what it decompresses to, is over ${config.maxRequestSize} bytes (${CONFIG_SCHEMA.maxRequestSize.name}); the connection is closed.`),
            "429": error("Per-client rate limit exceeded.", true),
            "500": error("A fault inside the service."),
            "503": error("Not ready, draining, or overloaded.", true),
            "504": error(`The prediction did not finish within ${config.predictionTimeoutMs} ms.`),
          },
        },
      },
    };
  };

  const metadata = modelMetadata(model, versions);
  const paths: Record<string, Json> = {
    "/v2/health/live": {
      get: { tags, summary: "Server liveness", operationId: "v2Live", responses: { "200": json("Live.", "V2Live"), "405": methodNotAllowed } },
    },
    "/v2/health/ready": {
      get: {
        tags,
        summary: "Server readiness",
        operationId: "v2Ready",
        responses: { "200": json("Ready.", "V2Ready"), "400": json("Not ready.", "V2Ready"), "405": methodNotAllowed },
      },
    },
    "/v2": {
      get: { tags, summary: "Server metadata", operationId: "v2ServerMetadata", responses: { "200": json("Server metadata.", "V2ServerMetadata"), "405": methodNotAllowed } },
    },
    ...perModel(false),
    ...perModel(true),
  };

  const tensorShape: Json = { type: "array", items: { type: "integer", minimum: -1 } };
  const parameters: Json = {
    type: "object",
    additionalProperties: { type: ["string", "number", "boolean"] },
    description:
      "Key/value parameters. binary_data_size (input, bytes), binary_data (output, boolean) and binary_data_output (request, boolean) " +
      "belong to the binary tensor data extension; classification is refused (not supported).",
  };
  const schemas: Record<string, Json> = {
    V2Error: { type: "object", required: ["error"], properties: { error: { type: "string", description: "What went wrong and what to do." } } },
    V2Live: { type: "object", required: ["live"], properties: { live: { type: "boolean" } } },
    V2Ready: { type: "object", required: ["ready"], properties: { ready: { type: "boolean" } } },
    V2ModelReady: { type: "object", required: ["name", "ready"], properties: { name: { type: "string" }, ready: { type: "boolean" } } },
    V2ServerMetadata: {
      type: "object",
      required: ["name", "version", "extensions"],
      properties: {
        name: { type: "string" },
        version: { type: "string" },
        extensions: { type: "array", items: { type: "string" }, examples: [[IMAGE_BYTES_EXTENSION, BINARY_TENSOR_DATA_EXTENSION]] },
      },
    },
    V2MetadataTensor: {
      type: "object",
      required: ["name", "datatype", "shape"],
      properties: { name: { type: "string" }, datatype: { type: "string" }, shape: { ...(tensorShape as object), description: "-1 marks a variable dimension." } },
    },
    V2ModelMetadata: {
      type: "object",
      required: ["name", "platform", "inputs", "outputs"],
      properties: {
        name: { type: "string" },
        versions: { type: "array", items: { type: "string" } },
        platform: { type: "string" },
        inputs: { type: "array", items: schema("V2MetadataTensor") },
        outputs: { type: "array", items: schema("V2MetadataTensor") },
      },
      examples: [JSON.parse(JSON.stringify(metadata)) as Json],
    },
    V2Parameters: parameters,
    V2RequestInput: {
      type: "object",
      required: ["name", "shape", "datatype"],
      properties: {
        name: { type: "string", enum: [model.input.name, IMAGE_INPUT_NAME] },
        shape: { type: "array", items: { type: "integer", minimum: 0 }, examples: [[1, ...itemShape], [1]] },
        datatype: { type: "string", enum: ["FP32", "BYTES"], description: `FP32 for "${model.input.name}", BYTES for "${IMAGE_INPUT_NAME}".` },
        parameters: schema("V2Parameters"),
        data: {
          type: "array",
          description: "Elements in row-major order, flat or nested as the shape. BYTES elements are base64 strings. Absent when the input is binary (parameters.binary_data_size).",
        },
      },
    },
    V2RequestOutput: {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string", enum: [...outputNames(model)] }, parameters: schema("V2Parameters") },
    },
    V2InferenceRequest: {
      type: "object",
      required: ["inputs"],
      properties: {
        id: { type: "string", description: "Echoed in the response; without one, the response carries the X-Request-Id." },
        parameters: schema("V2Parameters"),
        inputs: { type: "array", minItems: 1, maxItems: 1, items: schema("V2RequestInput") },
        outputs: { type: "array", minItems: 1, items: schema("V2RequestOutput") },
      },
    },
    V2ResponseOutput: {
      type: "object",
      required: ["name", "shape", "datatype"],
      properties: {
        name: { type: "string", enum: [...outputNames(model)] },
        shape: { type: "array", items: { type: "integer", minimum: 0 }, examples: [[1, model.labels.length]] },
        datatype: { type: "string", enum: ["FP32"] },
        parameters: schema("V2Parameters"),
        data: { type: "array", items: { type: "number" }, description: "Flattened, row-major. Absent for a binary output (parameters.binary_data_size)." },
      },
    },
    V2InferenceResponse: {
      type: "object",
      required: ["model_name", "model_version", "id", "outputs"],
      properties: {
        model_name: { type: "string", examples: [model.name] },
        model_version: { type: "string", enum: [...versions], description: "The version that served the request." },
        id: { type: "string" },
        outputs: { type: "array", items: schema("V2ResponseOutput") },
      },
    },
  };
  return { tags: [V2_TAG], paths, schemas };
}
