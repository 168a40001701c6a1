/**
 * The image's HEALTHCHECK: exits 0 when the service's liveness endpoint answers 200, 1 otherwise.
 *
 *   node build/scripts/image/healthcheck.js
 *
 * Docker and docker compose run it; Kubernetes ignores HEALTHCHECK and uses the Deployment's probes. It is plain
 * node because the runtime image has no curl, and it reads the port and probe path from the same schema as the
 * service, so an overridden CLASSIFIER_PORT is probed where the service really listens.
 */
import http from "node:http";
import { loadConfig } from "../../service/config/schema";
import { HTTP_CONTRACT } from "../../service/contract/http";

/** Where and how long to probe. */
export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly timeoutMs: number;
}

/** Below Docker's --timeout (5 s), so a hung service is reported as unhealthy by us, not killed mid-probe. */
const DEFAULT_TIMEOUT_MS = 3000;

// Addresses that mean "every interface": the probe then dials loopback, which always reaches them.
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(["0.0.0.0", "::", "[::]"]);

/** The liveness endpoint of a service configured by `env`. Throws a ConfigError if `env` is invalid. */
export function probeTarget(
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): ProbeTarget {
  const config = loadConfig(env);
  return {
    host: WILDCARD_HOSTS.has(config.host) ? "127.0.0.1" : config.host,
    port: config.port,
    path: HTTP_CONTRACT.probes.live,
    timeoutMs,
  };
}

/** Resolves true when `target` answers 200 within its timeout; false on any other status, error or timeout. */
export function probe(target: ProbeTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: target.host, port: target.port, path: target.path, timeout: target.timeoutMs, agent: false },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${target.timeoutMs} ms`)));
    request.on("error", () => resolve(false));
  });
}

async function main(): Promise<number> {
  try {
    const target = probeTarget(process.env);
    const healthy = await probe(target);
    if (!healthy) process.stderr.write(`unhealthy: http://${target.host}:${target.port}${target.path}\n`);
    return healthy ? 0 : 1;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
