/**
 * The service's configuration, written once: every CLASSIFIER_* variable, its default and allowed values, and
 * how a set of them is loaded (and rendered back). HTTP paths and limits live in service/contract/http.ts,
 * metric definitions in service/contract/metrics.ts.
 *
 * The service parses its environment with {@link loadConfig}; infra/ renders the ConfigMap from the same
 * {@link CONFIG_SCHEMA} and validates an environment's overrides with the same function, so a manifest cannot
 * name a variable the service does not read or carry a value it would refuse.
 *
 * This module must stay free of runtime dependencies (no express, sharp, onnxruntime): infra/ imports it.
 */
import { boolean, integer, list, oneOf, text, versionPolicy, type VariableSpec } from "./variables";
import { VERSION_PATTERN } from "./version-policy";

export type { VariableSpec } from "./variables";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export const GRAPH_OPTIMIZATION_LEVELS = ["disabled", "basic", "extended", "all"] as const;
/**
 * ONNX Runtime execution providers the service can run on. onnxruntime-node 1.30 bundles only the CPU provider
 * (and WebGPU) for linux/x64; CUDA's provider libraries come from its install script (the image's runtime-cuda
 * target), and they need an NVIDIA GPU, its driver and CUDA 12 with cuDNN 9 at run time.
 */
export const EXECUTION_PROVIDERS = ["cpu", "cuda"] as const;

/** RFC 1123 label, as Kubernetes names namespaces. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A model's directory name: no path separators, never "." or "..". */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const MiB = 1024 * 1024;

/** Every variable the service reads. Keys are the typed config's field names. */
export const CONFIG_SCHEMA = {
  port: integer("CLASSIFIER_PORT", 8000, 1, 65535, "TCP port the HTTP server listens on."),
  host: text("CLASSIFIER_HOST", "0.0.0.0", "Address the HTTP server binds to."),
  grpcEnabled: boolean(
    "CLASSIFIER_GRPC_ENABLED",
    true,
    "Serve the Open Inference Protocol's gRPC API (inference.GRPCInferenceService) and the gRPC health service on CLASSIFIER_GRPC_PORT; false serves HTTP only.",
  ),
  grpcPort: integer(
    "CLASSIFIER_GRPC_PORT",
    8001,
    1,
    65535,
    "TCP port the gRPC server listens on (on CLASSIFIER_HOST), when CLASSIFIER_GRPC_ENABLED.",
  ),
  modelRepository: text(
    "CLASSIFIER_MODEL_REPOSITORY",
    "models",
    "Directory of the model repository: <model>/<version>/ holds each version's ONNX file and its model card.",
  ),
  modelName: text(
    "CLASSIFIER_MODEL_NAME",
    "pyramidnet",
    "Model served: the directory under the repository, and the model card's name.",
    MODEL_NAME,
    "a model name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  ),
  modelVersion: text(
    "CLASSIFIER_MODEL_VERSION",
    "1.1.0",
    "Default version: the one that answers when a request names none; must be among the loaded versions.",
    VERSION_PATTERN,
    "a version MAJOR.MINOR.PATCH, such as 1.1.0",
  ),
  modelVersionPolicy: versionPolicy(
    "CLASSIFIER_MODEL_VERSION_POLICY",
    { kind: "latest", count: 1 },
    "Versions loaded, as Triton's version_policy: the newest N, all, or a list; each is checked and warmed up before readiness.",
  ),
  logLevel: oneOf("CLASSIFIER_LOG_LEVEL", "info", LOG_LEVELS, "Minimum level of the JSON log lines."),
  // Any DNS label, not a list of known names: the service only logs it, and the charts name their environments.
  environment: text(
    "CLASSIFIER_ENVIRONMENT",
    "development",
    "Deployment environment name, logged with every line.",
    DNS_LABEL,
    "a DNS label: 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
  ),
  maxRequestSize: integer(
    "CLASSIFIER_MAX_REQUEST_SIZE",
    10 * MiB,
    1024,
    256 * MiB,
    "Largest request body in bytes; larger uploads get 413 while streaming.",
  ),
  maxImagePixels: integer(
    "CLASSIFIER_MAX_IMAGE_PIXELS",
    50_000_000,
    1,
    1_000_000_000,
    "Largest decoded image (width x height); larger images get 422 before they are decoded.",
  ),
  maxBatchFiles: integer("CLASSIFIER_MAX_BATCH_FILES", 32, 1, 1024, "Most files in one /predict/batch request."),
  maxConcurrentRequests: integer(
    "CLASSIFIER_MAX_CONCURRENT_REQUESTS",
    64,
    1,
    100_000,
    "Prediction requests in flight at once; more get 503 with Retry-After.",
  ),
  predictionTimeoutMs: integer(
    "CLASSIFIER_PREDICTION_TIMEOUT_MS",
    10_000,
    1,
    600_000,
    "Deadline of one prediction, queueing included; past it the client gets 504.",
  ),
  headersTimeoutMs: integer(
    "CLASSIFIER_HEADERS_TIMEOUT_MS",
    10_000,
    100,
    600_000,
    "Time a client has to send its request headers.",
  ),
  requestTimeoutMs: integer(
    "CLASSIFIER_REQUEST_TIMEOUT_MS",
    30_000,
    100,
    600_000,
    "Time a client has to send the whole request, body included (slow uploads are cut off).",
  ),
  keepAliveTimeoutMs: integer(
    "CLASSIFIER_KEEP_ALIVE_TIMEOUT_MS",
    65_000,
    1_000,
    600_000,
    "How long an idle keep-alive connection stays open. Keep it above the idle timeout of the proxy in front " +
      "(ingress-nginx keeps upstream connections 60 s), or the proxy may reuse a connection as it closes and answer 502.",
  ),
  shutdownGraceMs: integer(
    "CLASSIFIER_SHUTDOWN_GRACE_MS",
    20_000,
    0,
    600_000,
    "After SIGTERM, how long in-flight requests may take before the process exits.",
  ),
  corsOrigins: list("CLASSIFIER_CORS_ORIGINS", "Origins allowed by CORS; empty disables CORS headers."),
  rateLimitPerMinute: integer(
    "CLASSIFIER_RATE_LIMIT_PER_MINUTE",
    0,
    0,
    1_000_000,
    "Requests per minute per client address; 0 turns rate limiting off.",
  ),
  intraOpThreads: integer(
    "CLASSIFIER_ORT_INTRA_OP_THREADS",
    2,
    1,
    256,
    "ONNX Runtime threads inside one operator; match the container's CPU limit.",
  ),
  interOpThreads: integer("CLASSIFIER_ORT_INTER_OP_THREADS", 1, 1, 256, "ONNX Runtime threads across operators."),
  spinWait: boolean(
    "CLASSIFIER_ORT_SPIN_WAIT",
    false,
    "Idle ONNX Runtime threads spin instead of sleeping: ~1 ms faster to wake, but they burn CPU that decoding and the pod's CPU quota need.",
  ),
  graphOptimizationLevel: oneOf(
    "CLASSIFIER_ORT_GRAPH_OPTIMIZATION",
    "all",
    GRAPH_OPTIMIZATION_LEVELS,
    "ONNX Runtime graph optimization level.",
  ),
  executionProvider: oneOf(
    "CLASSIFIER_ORT_EXECUTION_PROVIDER",
    "cpu",
    EXECUTION_PROVIDERS,
    "ONNX Runtime execution provider. cuda runs the model on an NVIDIA GPU (the image's runtime-cuda build on a node with a GPU); when it cannot load, the service stops at start with a message saying why.",
  ),
  batchingEnabled: boolean(
    "CLASSIFIER_BATCHING_ENABLED",
    true,
    "Run concurrent requests as one ONNX Runtime batch; results are identical either way.",
  ),
  batchMaxSize: integer("CLASSIFIER_BATCH_MAX_SIZE", 32, 1, 1024, "Most images in one ONNX Runtime batch."),
  batchMaxDelayMs: integer(
    "CLASSIFIER_BATCH_MAX_DELAY_MS",
    0,
    0,
    1000,
    "How long an idle model waits for more images before it runs a batch; while a batch runs, the next one forms anyway.",
  ),
  maxQueue: integer(
    "CLASSIFIER_MAX_QUEUE",
    256,
    1,
    100_000,
    "Images waiting for inference at most; more get 503 with Retry-After.",
  ),
  decodeConcurrency: integer(
    "CLASSIFIER_DECODE_CONCURRENCY",
    1,
    1,
    64,
    "libvips threads per decoded image (sharp.concurrency); 1 suits small images.",
  ),
} as const;

export type ConfigSchema = typeof CONFIG_SCHEMA;
type SpecValue<S> = S extends VariableSpec<infer T> ? T : never;

/** The validated configuration the service runs with. */
export type Config = { readonly [K in keyof ConfigSchema]: SpecValue<ConfigSchema[K]> };

/** A variable that is set but not allowed. */
export interface ConfigProblem {
  readonly variable: string;
  readonly value: string;
  readonly allowed: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      "Invalid configuration:\n" +
        problems.map((p) => `  ${p.variable}=${JSON.stringify(p.value)}: expected ${p.allowed}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Parses and validates every CLASSIFIER_* variable at once; throws a ConfigError naming each bad one. */
export function loadConfig(env: Environment = process.env): Config {
  const problems: ConfigProblem[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [string, VariableSpec<unknown>][]) {
    const raw = env[spec.name];
    if (raw === undefined || raw.trim() === "") {
      values[key] = spec.default;
      continue;
    }
    const parsed = spec.parse(raw);
    if (parsed === undefined) problems.push({ variable: spec.name, value: raw, allowed: spec.allowed });
    else values[key] = parsed;
  }
  const config = values as Config;
  if (problems.length === 0) problems.push(...crossFieldProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function crossFieldProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.requestTimeoutMs < config.headersTimeoutMs) {
    problems.push({
      variable: CONFIG_SCHEMA.requestTimeoutMs.name,
      value: String(config.requestTimeoutMs),
      allowed: `at least ${CONFIG_SCHEMA.headersTimeoutMs.name} (${config.headersTimeoutMs})`,
    });
  }
  if (config.grpcEnabled && config.grpcPort === config.port) {
    problems.push({
      variable: CONFIG_SCHEMA.grpcPort.name,
      value: String(config.grpcPort),
      allowed: `a port other than ${CONFIG_SCHEMA.port.name} (${config.port}), or ${CONFIG_SCHEMA.grpcEnabled.name}=false`,
    });
  }
  if (config.maxQueue < config.maxBatchFiles) {
    // A full batch request must fit in the queue, or it could never be admitted.
    problems.push({
      variable: CONFIG_SCHEMA.maxQueue.name,
      value: String(config.maxQueue),
      allowed: `at least ${CONFIG_SCHEMA.maxBatchFiles.name} (${config.maxBatchFiles})`,
    });
  }
  const policy = config.modelVersionPolicy;
  if (policy.kind === "specific" && !policy.versions.includes(config.modelVersion)) {
    // The default version must be loaded; for latest:N and all only the repository's contents can tell (at start).
    problems.push({
      variable: CONFIG_SCHEMA.modelVersion.name,
      value: config.modelVersion,
      allowed: `one of the versions ${CONFIG_SCHEMA.modelVersionPolicy.name} loads (${policy.versions.join(", ")})`,
    });
  }
  return problems;
}

/** Config field values an environment wants to differ from the defaults. */
export type ConfigOverrides = { readonly [K in keyof Config]?: Config[K] };

/**
 * The environment variables for a set of overrides: every variable, defaults included, so the ConfigMap
 * documents the whole configuration. Validated by {@link loadConfig}, exactly as the service would.
 */
export function renderEnvironment(overrides: ConfigOverrides = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA) as [keyof Config, VariableSpec<unknown>][]) {
    const value = key in overrides ? overrides[key] : spec.default;
    env[spec.name] = spec.render(value);
  }
  loadConfig(env);
  return env;
}
