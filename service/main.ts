/**
 * The service's entry point and the only module that reads process.env: validate the configuration, load and
 * verify every model version the policy selects, compose the app (service/compose.ts, as the tests do), listen,
 * and shut down gracefully on SIGTERM/SIGINT.
 */
import { ServerCredentials, type Server as GrpcServer } from "@grpc/grpc-js";
import { compose, sessionOptions } from "./compose";
import { ConfigError, loadConfig, type Config } from "./config/schema";
import { createHttpServer } from "./http/server";
import { Lifecycle } from "./lifecycle/lifecycle";
import { createShutdown, installSignalHandlers } from "./lifecycle/shutdown";
import { createLogger, type Logger } from "./logging/logger";
import { loadVersions, planRepository } from "./model/repository";
import { grpcDrain } from "./protocols/grpc/server";
import { configureSharp } from "./pipeline/decode";

async function main(): Promise<void> {
  const startedAt = performance.now();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    // Logging is not configured yet (its level may be the bad value): plain text on stderr.
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config);
  process.on("uncaughtException", (error) => fatal(logger, "uncaught exception", error));
  process.on("unhandledRejection", (error) => fatal(logger, "unhandled promise rejection", error));
  await start(config, logger, startedAt).catch((error: unknown) => fatal(logger, "start-up failed", error));
}

/** Model versions (cards, sha256 checks, sessions, warm-ups), app, listener; readiness turns true only at the end. */
async function start(config: Config, logger: Logger, startedAt: number): Promise<void> {
  const lifecycle = new Lifecycle();
  configureSharp(config.decodeConcurrency);
  const plan = await planRepository(config);
  const versions = await loadVersions(plan, {
    ...sessionOptions(config),
    warmUpBatchSizes: config.batchMaxSize > 1 ? [1, config.batchMaxSize] : [1],
    onFailure: (error) => {
      lifecycle.markFailed();
      fatal(logger, "the inference thread failed; exiting so the pod restarts", error);
    },
  });
  const { app, models, grpc } = compose({ config, versions, repositoryVersions: plan.available, logger, lifecycle });

  const server = createHttpServer(app, config);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const grpcPort = grpc === undefined ? undefined : await bindGrpc(grpc, config);
  installSignalHandlers(
    createShutdown({
      server,
      others: grpc === undefined ? [] : [grpcDrain(grpc)],
      lifecycle,
      logger,
      graceMs: config.shutdownGraceMs,
      release: () => models.close(),
    }),
  );
  lifecycle.markReady();
  const address = server.address();
  logger.info(
    {
      port: typeof address === "object" && address !== null ? address.port : config.port,
      host: config.host,
      grpc_port: grpcPort ?? false,
      model: {
        name: plan.name,
        default_version: plan.defaultVersion,
        policy: plan.policy,
        repository_versions: plan.available,
        loaded: versions.map(({ card }) => ({ version: card.version, sha256: card.sha256 })),
      },
      batching: config.batchingEnabled ? { max_size: config.batchMaxSize, max_delay_ms: config.batchMaxDelayMs } : false,
      startup_ms: Math.round(performance.now() - startedAt),
    },
    "ready",
  );
}

/** Binds the gRPC server (cleartext HTTP/2: TLS ends at the ingress) and resolves with its port. */
function bindGrpc(grpc: GrpcServer, config: Config): Promise<number> {
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return new Promise((resolve, reject) => {
    grpc.bindAsync(`${host}:${config.grpcPort}`, ServerCredentials.createInsecure(), (error, port) => {
      if (error === null) resolve(port);
      else reject(new Error(`gRPC server cannot listen on ${host}:${config.grpcPort}: ${error.message}`));
    });
  });
}

function fatal(logger: Logger | undefined, message: string, error: unknown): never {
  const detail = error instanceof Error ? error.message : String(error);
  if (logger === undefined) process.stderr.write(`${message}: ${detail}\n`);
  else {
    logger.fatal({ err: error }, `${message}: ${detail}`);
    logger.flush();
  }
  process.exit(1);
}

main().catch((error: unknown) => fatal(undefined, "start-up failed", error));
