/**
 * Which model versions each environment runs, and how much traffic its canary gets: the release entry that
 * `npm run release -- promote|rollback` rewrites (GitOps: the change is a commit to charts/releases.json, and dist/
 * is synthesized from it). JSON rather than TypeScript so that a script can rewrite it without editing code; the
 * type guard below checks it before any chart reads it.
 *
 * An environment without an entry runs one track (no `track` label, no canary objects), as before releases existed.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What the stable track runs. */
export interface StableRelease {
  /** The model version the stable pods serve (CLASSIFIER_MODEL_VERSION), for example "1.0.0". */
  readonly modelVersion: string;
  /**
   * The image tag of the stable pods.
   * @default - the tag the synth deploys (the package version, or IMAGE_TAG)
   */
  readonly imageTag?: string;
}

/** What the canary track runs and how much traffic it gets. At least one of modelVersion and imageTag. */
export interface CanaryRelease {
  /**
   * The model version the canary pods serve.
   * @default - the stable track's
   */
  readonly modelVersion?: string;
  /**
   * The image tag of the canary pods.
   * @default - the stable track's
   */
  readonly imageTag?: string;
  /** Percent of requests the Ingress sends to the canary, 0-100 (the X-Canary header overrides it per request). */
  readonly weight: number;
}

export interface EnvironmentRelease {
  readonly stable: StableRelease;
  /** @default - no canary: the stable track takes all traffic */
  readonly canary?: CanaryRelease;
}

/** Release entries by environment name (keys of charts/environments.ts). */
export type ReleaseTable = Readonly<Record<string, EnvironmentRelease>>;

/** The committed release file. */
// This module is not named releases.ts: Node would resolve "./releases" to the JSON file first.
export const RELEASES_PATH = join(__dirname, "releases.json");

const STABLE_KEYS = new Set(["modelVersion", "imageTag"]);
const CANARY_KEYS = new Set(["modelVersion", "imageTag", "weight"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fieldProblems(
  value: unknown,
  where: string,
  allowed: ReadonlySet<string>,
  required: readonly string[],
): string[] {
  if (!isRecord(value)) return [`${where} must be an object`];
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) problems.push(`${where}.${key} is not a known field (${[...allowed].join(", ")})`);
  }
  for (const key of required) if (!(key in value)) problems.push(`${where}.${key} is missing`);
  for (const key of ["modelVersion", "imageTag"]) {
    if (key in value && (typeof value[key] !== "string" || value[key] === "")) {
      problems.push(`${where}.${key} must be a non-empty string`);
    }
  }
  if ("weight" in value && typeof value.weight !== "number") problems.push(`${where}.weight must be a number`);
  return problems;
}

/** Everything wrong with a parsed release file, each naming its place; empty when it is a ReleaseTable. */
export function releaseTableProblems(value: unknown): string[] {
  if (!isRecord(value)) return ["the release file must be an object of environments"];
  return Object.entries(value).flatMap(([environment, entry]) => {
    if (!isRecord(entry)) return [`${environment} must be an object with "stable" and optionally "canary"`];
    const unknown = Object.keys(entry)
      .filter((key) => key !== "stable" && key !== "canary")
      .map((key) => `${environment}.${key} is not a known field (stable, canary)`);
    return [
      ...unknown,
      ...fieldProblems(entry.stable, `${environment}.stable`, STABLE_KEYS, ["modelVersion"]),
      ...(entry.canary === undefined ? [] : fieldProblems(entry.canary, `${environment}.canary`, CANARY_KEYS, ["weight"])),
    ];
  });
}

/** The type guard the charts rely on. */
export function isReleaseTable(value: unknown): value is ReleaseTable {
  return releaseTableProblems(value).length === 0;
}

/** Parses a release file's text; throws naming every problem and the file. */
export function parseReleaseTable(text: string, source: string): ReleaseTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source} is not JSON: ${(error as Error).message}`);
  }
  if (!isReleaseTable(value)) throw new Error(`${source} is not a valid release file: ${releaseTableProblems(value).join("; ")}`);
  return value;
}

export function readReleaseTable(path: string = RELEASES_PATH): ReleaseTable {
  return parseReleaseTable(readFileSync(path, "utf8"), path);
}

export function writeReleaseTable(table: ReleaseTable, path: string = RELEASES_PATH): void {
  if (!isReleaseTable(table)) throw new Error(`refusing to write an invalid release file: ${releaseTableProblems(table).join("; ")}`);
  writeFileSync(path, `${JSON.stringify(table, null, 2)}\n`);
}

function entryWithCanary(table: ReleaseTable, environment: string): { entry: EnvironmentRelease; canary: CanaryRelease } {
  const entry = table[environment];
  if (entry === undefined) throw new Error(`no release entry for environment "${environment}" in the release file`);
  if (entry.canary === undefined) throw new Error(`environment "${environment}" has no canary to promote or roll back`);
  return { entry, canary: entry.canary };
}

/** The table after promotion: the stable track runs what the canary ran, and the canary is gone. */
export function promoteCanary(table: ReleaseTable, environment: string): ReleaseTable {
  const { entry, canary } = entryWithCanary(table, environment);
  const imageTag = canary.imageTag ?? entry.stable.imageTag;
  const stable: StableRelease = {
    modelVersion: canary.modelVersion ?? entry.stable.modelVersion,
    ...(imageTag === undefined ? {} : { imageTag }),
  };
  return { ...table, [environment]: { stable } };
}

/** The table after a rollback: the stable track unchanged, the canary gone. */
export function rollBackCanary(table: ReleaseTable, environment: string): ReleaseTable {
  const { entry } = entryWithCanary(table, environment);
  return { ...table, [environment]: { stable: entry.stable } };
}
