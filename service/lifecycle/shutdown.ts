/**
 * Graceful shutdown on SIGTERM or SIGINT: readiness turns 503 at once, the listeners close (new connections are
 * refused; the gRPC server, one of `others`, sends GOAWAY and refuses new calls), idle keep-alive connections
 * close, in-flight requests finish and their connections close after the response; then the model is released and the process exits 0. If requests are still running when the grace
 * period ends, their connections are cut and the process exits 1.
 */
import type { Server } from "node:http";
import type { Logger } from "pino";
import type { Lifecycle } from "./lifecycle";

/** Another listener drained alongside the HTTP server (the gRPC server). */
export interface Drainable {
  /** Stops accepting new work; resolves once the work in flight has finished. */
  close(): Promise<void>;
  /** Cuts the work that remains, when the grace period has run out. */
  forceClose(): void;
}

export interface ShutdownOptions {
  readonly server: Server;
  /** Drained like `server`, within the same grace period. @default [] */
  readonly others?: readonly Drainable[];
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
  /** Longest wait for in-flight requests, in milliseconds. */
  readonly graceMs: number;
  /** Releases resources once the server has closed (the model's thread). */
  readonly release?: () => Promise<void>;
  /** @default process.exit */
  readonly exit?: (code: number) => void;
}

/** Starts a graceful shutdown; calling it again while one runs does nothing. Resolves with the exit code. */
export function createShutdown(options: ShutdownOptions): (reason: string) => Promise<number> {
  const { server, lifecycle, logger, graceMs } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;

  return (reason: string) => {
    running ??= (async () => {
      const started = Date.now();
      lifecycle.startDraining();
      const others = options.others ?? [];
      const httpClosed = new Promise<void>((resolve) => {
        // close() stops accepting and, on Node >= 19, closes idle keep-alive connections; busy ones close
        // after their response, which carries Connection: close while draining.
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      const closed = Promise.all([httpClosed, ...others.map((other) => other.close())]).then(() => true);
      logger.info({ reason, grace_ms: graceMs }, "shutting down: listener closed, draining in-flight requests");
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      });
      const clean = await Promise.race([closed, expired]);
      clearTimeout(timer);
      if (!clean) {
        logger.warn({ grace_ms: graceMs }, "grace period expired; closing the remaining connections");
        server.closeAllConnections();
        for (const other of others) other.forceClose();
      }
      try {
        await options.release?.();
      } catch (error) {
        logger.warn({ err: error }, "releasing resources failed");
      }
      const code = clean ? 0 : 1;
      logger.info({ exit_code: code, shutdown_ms: Date.now() - started }, "shutdown complete");
      logger.flush();
      exit(code);
      return code;
    })();
    return running;
  };
}

/** Runs `shutdown` on SIGTERM and SIGINT. */
export function installSignalHandlers(shutdown: (reason: string) => Promise<number>): void {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => void shutdown(signal));
  }
}
