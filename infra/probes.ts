import { k8s } from "cdk8s-plus-28";
import { HTTP_CONTRACT } from "./service-contract";
import { assertInteger } from "./validation";

/** Timing and target of one HTTP probe. */
export interface HttpProbeSettings {
  /**
   * The HTTP path probed.
   * @default - the service's path for this probe in HTTP_CONTRACT.probes
   */
  readonly path?: string;
  /**
   * The container port probed, by name or number. Must be a port the container exposes.
   * @default "http" (HTTP_CONTRACT.portName)
   */
  readonly port?: string | number;
  /**
   * Seconds after the container starts before the first probe.
   * @default 0 (the startup probe holds the other two back until the model is loaded)
   */
  readonly initialDelaySeconds?: number;
  /** Seconds between probes. @default - 2 for startup, 10 for liveness, 5 for readiness */
  readonly periodSeconds?: number;
  /** Seconds before one probe attempt counts as failed. @default 2 */
  readonly timeoutSeconds?: number;
  /**
   * Consecutive failures before the kubelet acts (restarts for startup and liveness, unready for readiness).
   * @default - 30 for startup (60 s to load the model), 3 for liveness, 2 for readiness
   */
  readonly failureThreshold?: number;
}

/**
 * The three probes of the inference container, all httpGet on the HTTP port. The service also answers the
 * standard gRPC health service (grpc.health.v1.Health, service "" and "inference.GRPCInferenceService") on its
 * gRPC port, which a kubelet `grpc:` probe could call; the HTTP probes stay because they tell startup (model
 * loaded) from readiness (draining, overloaded), and answer while gRPC is switched off.
 */
export interface ProbesProps {
  /** Gates the other probes until the model is loaded. @default - see {@link HttpProbeSettings} */
  readonly startup?: HttpProbeSettings;
  /** Restarts a wedged process. @default - see {@link HttpProbeSettings} */
  readonly liveness?: HttpProbeSettings;
  /** Takes the pod out of the Service while it cannot serve (draining, overloaded). @default - see {@link HttpProbeSettings} */
  readonly readiness?: HttpProbeSettings;
}

/** A container port a probe may target. */
export interface ExposedPort {
  readonly name: string;
  readonly containerPort: number;
}

/** The three probes a container has. */
export type ProbeKind = "startup" | "liveness" | "readiness";

/** Defaults for one probe kind, before user settings apply. */
export interface ProbeDefaults {
  readonly path: string;
  readonly port: string;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/**
 * Renders an httpGet probe, refusing a port the container does not expose (the probe would always fail and the
 * kubelet would restart the pod forever) and timings Kubernetes rejects.
 */
export function renderHttpProbe(
  kind: ProbeKind,
  settings: HttpProbeSettings | undefined,
  defaults: ProbeDefaults,
  exposed: readonly ExposedPort[],
): k8s.Probe {
  const port = settings?.port ?? defaults.port;
  const matches = exposed.some((p) => (typeof port === "number" ? p.containerPort === port : p.name === port));
  if (!matches) {
    const list = exposed.map((p) => `${p.name} (${p.containerPort})`).join(", ");
    throw new Error(`${kind} probe targets port ${JSON.stringify(port)}, which the container does not expose (it exposes ${list})`);
  }
  const path = settings?.path ?? defaults.path;
  if (!path.startsWith("/")) throw new Error(`${kind} probe path "${path}" must start with /`);

  const periodSeconds = settings?.periodSeconds ?? defaults.periodSeconds;
  const timeoutSeconds = settings?.timeoutSeconds ?? defaults.timeoutSeconds;
  const failureThreshold = settings?.failureThreshold ?? defaults.failureThreshold;
  const initialDelaySeconds = settings?.initialDelaySeconds ?? 0;
  assertInteger(periodSeconds, `${kind} probe periodSeconds`, { min: 1 });
  assertInteger(timeoutSeconds, `${kind} probe timeoutSeconds`, { min: 1 });
  assertInteger(failureThreshold, `${kind} probe failureThreshold`, { min: 1 });
  assertInteger(initialDelaySeconds, `${kind} probe initialDelaySeconds`, { min: 0 });

  return {
    httpGet: {
      path,
      port: typeof port === "number" ? k8s.IntOrString.fromNumber(port) : k8s.IntOrString.fromString(port),
    },
    initialDelaySeconds: initialDelaySeconds === 0 ? undefined : initialDelaySeconds,
    periodSeconds,
    timeoutSeconds,
    failureThreshold,
  };
}

/** The inference container's probe defaults, on the service's own paths (the timings HttpProbeSettings documents). */
export function inferenceProbeDefaults(portName: string): Readonly<Record<ProbeKind, ProbeDefaults>> {
  const timing = { port: portName, timeoutSeconds: 2 };
  return {
    startup: { path: HTTP_CONTRACT.probes.startup, ...timing, periodSeconds: 2, failureThreshold: 30 },
    liveness: { path: HTTP_CONTRACT.probes.live, ...timing, periodSeconds: 10, failureThreshold: 3 },
    readiness: { path: HTTP_CONTRACT.probes.ready, ...timing, periodSeconds: 5, failureThreshold: 2 },
  };
}

/** Liveness and readiness must be different checks: one restarts the pod, the other only takes it out of rotation. */
export function assertDistinctProbes(probes: ProbesProps | undefined): void {
  const live = probes?.liveness?.path ?? HTTP_CONTRACT.probes.live;
  const ready = probes?.readiness?.path ?? HTTP_CONTRACT.probes.ready;
  if (live === ready) {
    throw new Error(
      `liveness and readiness probes both check ${live}: a readiness failure (overload, draining) would restart the pod`,
    );
  }
}

/** The container's three probes: the defaults with the user's settings applied, each checked. */
export function renderInferenceProbes(
  probes: ProbesProps | undefined,
  port: ExposedPort,
): Pick<k8s.Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
  const defaults = inferenceProbeDefaults(port.name);
  const exposed = [port];
  return {
    startupProbe: renderHttpProbe("startup", probes?.startup, defaults.startup, exposed),
    livenessProbe: renderHttpProbe("liveness", probes?.liveness, defaults.liveness, exposed),
    readinessProbe: renderHttpProbe("readiness", probes?.readiness, defaults.readiness, exposed),
  };
}
