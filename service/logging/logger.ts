/**
 * JSON lines on stdout (pino). Every value a client controls (paths, filenames, request ids) is a JSON string
 * field, escaped by the serializer, so no input can start a new line or fake a field.
 */
import pino, { type DestinationStream, type Logger } from "pino";
import type { Config } from "../config/schema";

export type { Logger };

export function createLogger(
  config: Pick<Config, "logLevel" | "environment">,
  destination: DestinationStream = pino.destination({ fd: 1, sync: false }),
): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: "pyramidnet-classifier", environment: config.environment, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
