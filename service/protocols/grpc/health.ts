/**
 * The standard gRPC health service (grpc.health.v1.Health), for Kubernetes' native gRPC probes: SERVING while
 * the service is ready, NOT_SERVING while starting, draining or failed, for the server as a whole ("") and for
 * the inference service by name; NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch) for any other name.
 */
import { status as Status, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation, type sendUnaryData } from "@grpc/grpc-js";
import { GRPC_CONTRACT } from "../../contract/grpc";
import type { Lifecycle } from "../../lifecycle/lifecycle";
import type { HealthCheckRequest, HealthCheckResponse, ServingStatus } from "./definition";

/** How often a Watch stream looks at the lifecycle for a change to report. */
const WATCH_INTERVAL_MS = 250;

const KNOWN_SERVICES: ReadonlySet<string> = new Set(["", GRPC_CONTRACT.inferenceService]);

export function servingStatus(lifecycle: Lifecycle, service: string): ServingStatus | undefined {
  if (!KNOWN_SERVICES.has(service)) return undefined;
  return lifecycle.ready ? "SERVING" : "NOT_SERVING";
}

export function healthImplementation(lifecycle: Lifecycle): UntypedServiceImplementation {
  return {
    Check(call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) {
      const status = servingStatus(lifecycle, call.request.service);
      if (status === undefined) callback({ code: Status.NOT_FOUND, details: `Unknown service "${call.request.service}".` });
      else callback(null, { status });
    },
    // The current status at once, then each change. Once draining, the stream ends after reporting
    // NOT_SERVING, so an open Watch never holds the graceful shutdown until its grace period runs out.
    Watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      let last: ServingStatus | undefined;
      const report = () => {
        const status = servingStatus(lifecycle, call.request.service) ?? "SERVICE_UNKNOWN";
        if (status !== last) call.write({ status });
        last = status;
        if (lifecycle.draining) stop(true);
      };
      const timer = setInterval(report, WATCH_INTERVAL_MS);
      timer.unref();
      const stop = (end: boolean) => {
        clearInterval(timer);
        if (end) call.end();
      };
      call.once("cancelled", () => stop(false));
      report();
    },
  };
}
