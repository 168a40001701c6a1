/**
 * `npm run release -- status|promote|rollback --environment <name>`: a model release, GitOps style.
 *
 * - status: each track's error ratio and p99 latency from Prometheus (PROMETHEUS_URL), judged against the same
 *   thresholds as the Argo Rollouts AnalysisTemplate (infra/canary-analysis.ts). Exit 0 when the canary may be
 *   promoted, 1 when it must not be (unhealthy, or no data yet).
 * - promote: the stable track takes the canary's version, the canary goes; rollback: the canary goes. Both rewrite
 *   charts/releases.json, re-synthesize dist/ and print the kubectl commands to run (nothing touches a cluster).
 *
 * Usage errors exit 2.
 */
import { App } from "cdk8s";
import { resolveImageTag, synthesize } from "../charts/app";
import { ENVIRONMENTS, type EnvironmentName } from "../charts/environments";
import { PyramidNetChart } from "../charts/pyramidnet-chart";
import {
  RELEASES_PATH,
  promoteCanary,
  readReleaseTable,
  rollBackCanary,
  writeReleaseTable,
  type ReleaseTable,
} from "../charts/release-table";
import {
  CANARY_THRESHOLDS,
  TRACK_LABEL,
  errorRatioQuery,
  formatRatio,
  formatSeconds,
  judgeTrack,
  p99LatencyQuery,
  type ReleaseTrack,
  type TrackMeasurement,
  type TrackVerdict,
} from "../infra/canary-analysis";
import { cliOptions } from "./cli-options";
import { queryNumber } from "./prometheus-query";

const COMMANDS = ["status", "promote", "rollback"] as const;
type Command = (typeof COMMANDS)[number];

export interface ReleaseOptions {
  readonly command: Command;
  readonly environment: EnvironmentName;
  /** The release file. @default charts/releases.json */
  readonly releasesPath: string;
  /** Where promote and rollback write the manifests. @default "dist" */
  readonly outdir: string;
}

/** Where the script writes and what it reads from its surroundings (the tests pass their own). */
export interface ReleaseIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly print: (line: string) => void;
}

const USAGE =
  "usage: npm run release -- status|promote|rollback --environment <name> [--releases <file>] [--outdir <dir>]\n" +
  "  status reads PROMETHEUS_URL (for example http://localhost:9090)";

class UsageError extends Error {}

export function parseReleaseArgs(argv: readonly string[]): ReleaseOptions {
  let command: Command | undefined;
  let environment: string | undefined;
  let releasesPath = RELEASES_PATH;
  let outdir = "dist";
  for (const { arg, value } of cliOptions(argv)) {
    if (arg === "--environment") environment = value();
    else if (arg === "--releases") releasesPath = value();
    else if (arg === "--outdir") outdir = value();
    else if ((COMMANDS as readonly string[]).includes(arg) && command === undefined) command = arg as Command;
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  if (command === undefined) throw new UsageError(`name a command: ${COMMANDS.join(", ")}`);
  if (environment === undefined) throw new UsageError("--environment is required");
  if (!(environment in ENVIRONMENTS)) {
    throw new UsageError(`unknown environment "${environment}" (${Object.keys(ENVIRONMENTS).join(", ")})`);
  }
  return { command, environment: environment as EnvironmentName, releasesPath, outdir };
}

/** One track's measurements and verdict. */
export interface TrackStatus {
  readonly track: ReleaseTrack;
  readonly measurement: TrackMeasurement;
  readonly verdict: TrackVerdict;
}

/** Measures every track the release entry runs. */
export async function measureTracks(prometheusUrl: string, namespace: string, tracks: readonly ReleaseTrack[]): Promise<TrackStatus[]> {
  return Promise.all(
    tracks.map(async (track) => {
      const selector = { namespace, track };
      const [errorRatio, p99LatencySeconds] = await Promise.all([
        queryNumber(prometheusUrl, errorRatioQuery(selector)),
        queryNumber(prometheusUrl, p99LatencyQuery(selector)),
      ]);
      const measurement = { errorRatio, p99LatencySeconds };
      return { track, measurement, verdict: judgeTrack(measurement) };
    }),
  );
}

const show = (value: number | undefined, format: (n: number) => string) =>
  value === undefined || Number.isNaN(value) ? "no data" : format(value);

async function status(options: ReleaseOptions, table: ReleaseTable, io: ReleaseIo): Promise<number> {
  const prometheusUrl = io.env.PROMETHEUS_URL;
  if (prometheusUrl === undefined || prometheusUrl === "") throw new UsageError("status needs PROMETHEUS_URL, for example http://localhost:9090");
  const entry = table[options.environment];
  if (entry === undefined) {
    throw new UsageError(`${options.environment} has no release entry in ${options.releasesPath}: its pods carry no track label to measure`);
  }
  const namespace = ENVIRONMENTS[options.environment].namespace;
  const tracks: ReleaseTrack[] = entry.canary === undefined ? ["stable"] : ["stable", "canary"];
  const statuses = await measureTracks(prometheusUrl, namespace, tracks);
  const t = CANARY_THRESHOLDS;
  io.print(`${options.environment} (${namespace}), last ${t.window}; limits: error ratio ≤ ${formatRatio(t.maxErrorRatio)}, p99 ≤ ${formatSeconds(t.maxP99LatencySeconds)}`);
  io.print("track  | model version | error ratio | p99 latency | verdict");
  for (const { track, measurement, verdict } of statuses) {
    const version = track === "stable" ? entry.stable.modelVersion : (entry.canary?.modelVersion ?? entry.stable.modelVersion);
    io.print(
      `${track.padEnd(6)} | ${version.padEnd(13)} | ${show(measurement.errorRatio, formatRatio).padEnd(11)} | ` +
        `${show(measurement.p99LatencySeconds, formatSeconds).padEnd(11)} | ${verdict.outcome}`,
    );
  }
  const judged = statuses.find((s) => s.track === "canary") ?? statuses[0];
  const reasons = judged.verdict.outcome === "healthy" ? "" : `: ${judged.verdict.reasons.join("; ")}`;
  if (judged.track === "stable") {
    io.print(`verdict: no canary; the stable track is ${judged.verdict.outcome}${reasons}`);
    return judged.verdict.outcome === "healthy" ? 0 : 1;
  }
  const advice = {
    healthy: `promote (npm run release -- promote --environment ${options.environment})`,
    unhealthy: `roll back (npm run release -- rollback --environment ${options.environment})`,
    "no-data": "wait: the canary has served nothing in the window yet",
  }[judged.verdict.outcome];
  io.print(`verdict: ${advice}${reasons}`);
  return judged.verdict.outcome === "healthy" ? 0 : 1;
}

/** The environment's chart today: the stable Deployment's name and the kinds of the canary's objects. */
function currentChart(options: ReleaseOptions, table: ReleaseTable, imageTag: string): { stableDeployment: string; canaryKinds: string[] } {
  const chart = new PyramidNetChart(new App({ outdir: options.outdir }), options.environment, {
    environmentName: options.environment,
    spec: ENVIRONMENTS[options.environment],
    imageTag,
    release: table[options.environment],
  });
  const objects = chart.toJson() as Array<{ kind: string; metadata: { labels?: Record<string, string> } }>;
  const kinds = objects.filter((o) => o.metadata.labels?.[TRACK_LABEL] === "canary").map((o) => o.kind.toLowerCase());
  return {
    stableDeployment: chart.classifier.deployment.name,
    // The Ingress first: traffic leaves the canary before its pods go.
    canaryKinds: [...new Set(kinds)].sort((a, b) => Number(b === "ingress") - Number(a === "ingress")),
  };
}

function rewrite(options: ReleaseOptions, table: ReleaseTable, io: ReleaseIo): number {
  const imageTag = resolveImageTag(io.env);
  const before = table[options.environment];
  const current = currentChart(options, table, imageTag);
  const next = options.command === "promote" ? promoteCanary(table, options.environment) : rollBackCanary(table, options.environment);
  // Synthesize first: a release entry the charts refuse must not reach the file.
  synthesize({ outdir: options.outdir, imageTag, releases: next });
  writeReleaseTable(next, options.releasesPath);

  const spec = ENVIRONMENTS[options.environment];
  const manifest = `${options.outdir}/${options.environment}.k8s.yaml`;
  const selector = `app.kubernetes.io/instance=pyramidnet-${options.environment},${TRACK_LABEL}=canary`;
  const stable = next[options.environment].stable;
  io.print(
    options.command === "promote"
      ? `promoted: the stable track now runs model ${stable.modelVersion}${stable.imageTag ? ` (image ${stable.imageTag})` : ""}; the canary is gone`
      : `rolled back: the stable track keeps model ${before?.stable.modelVersion}; the canary (${before?.canary?.modelVersion ?? before?.canary?.imageTag}) is gone`,
  );
  io.print(`rewrote ${options.releasesPath} and ${options.outdir}/. Commit both, then run:`);
  const apply = [`kubectl apply -f ${manifest}`, `kubectl -n ${spec.namespace} rollout status deployment/${current.stableDeployment} --timeout=10m`];
  const remove = `kubectl -n ${spec.namespace} delete ${current.canaryKinds.join(",")} -l ${selector}`;
  // A promotion keeps the canary serving until the stable pods run its version; a rollback takes it out first.
  for (const line of options.command === "promote" ? [...apply, remove] : [remove, ...apply]) io.print(`  ${line}`);
  io.print(
    `With Argo Rollouts (${options.outdir}/${options.environment}-rollout.k8s.yaml) the controller does this itself: ` +
      `kubectl argo rollouts ${options.command === "promote" ? "promote --full" : "abort"} pyramidnet -n ${spec.namespace}`,
  );
  return 0;
}

/** Runs one command; returns the exit code. */
export async function runRelease(argv: readonly string[], io: ReleaseIo): Promise<number> {
  try {
    const options = parseReleaseArgs(argv);
    const table = readReleaseTable(options.releasesPath);
    return options.command === "status" ? await status(options, table, io) : rewrite(options, table, io);
  } catch (error) {
    io.print(error instanceof UsageError ? `${error.message}\n${USAGE}` : `release failed: ${(error as Error).message}`);
    return 2;
  }
}

if (require.main === module) {
  void runRelease(process.argv.slice(2), { env: process.env, print: (line) => console.log(line) }).then((code) => {
    process.exitCode = code;
  });
}
