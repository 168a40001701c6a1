/**
 * Model versions and the version policy that picks which of a model repository's versions a process serves,
 * after Triton's `version_policy`: the newest N (`latest:N`), every one (`all`), or a list (`specific:a,b`).
 *
 * Pure functions of strings: the config schema (which infra/ imports) parses and renders policies with them,
 * and service/model/repository.ts applies them to the versions it finds on disk.
 */

/** A model version: a directory name under models/<model>/, semantic-version core (MAJOR.MINOR.PATCH). */
export const VERSION_PATTERN = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

export type VersionPolicy =
  | { readonly kind: "latest"; readonly count: number }
  | { readonly kind: "all" }
  | { readonly kind: "specific"; readonly versions: readonly string[] };

/** How a policy is written, for error messages and the README. */
export const VERSION_POLICY_SYNTAX = "latest:N (N from 1 to 100), all, or specific:V1,V2,... (versions as MAJOR.MINOR.PATCH)";

export function isVersion(text: string): boolean {
  return VERSION_PATTERN.test(text);
}

/** Orders versions numerically (1.10.0 after 1.9.0); both must satisfy {@link isVersion}. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/** Parses `latest:N`, `all` or `specific:V,...`; undefined when the text is none of them. */
export function parseVersionPolicy(raw: string): VersionPolicy | undefined {
  const text = raw.trim().toLowerCase();
  if (text === "all") return { kind: "all" };
  const latest = /^latest:(\d{1,3})$/.exec(text);
  if (latest !== null) {
    const count = Number(latest[1]);
    return count >= 1 && count <= 100 ? { kind: "latest", count } : undefined;
  }
  const specific = /^specific:(.+)$/.exec(text);
  if (specific === null) return undefined;
  const versions = specific[1].split(",").map((v) => v.trim());
  if (!versions.every(isVersion) || new Set(versions).size !== versions.length) return undefined;
  return { kind: "specific", versions: [...versions].sort(compareVersions) };
}

export function renderVersionPolicy(policy: VersionPolicy): string {
  switch (policy.kind) {
    case "all":
      return "all";
    case "latest":
      return `latest:${policy.count}`;
    case "specific":
      return `specific:${policy.versions.join(",")}`;
  }
}

/**
 * The versions a policy selects from those available, oldest first. A `specific` version that is not available
 * is the caller's error to report (see {@link missingVersions}); it is simply not selected here.
 */
export function selectVersions(policy: VersionPolicy, available: readonly string[]): string[] {
  const sorted = [...available].sort(compareVersions);
  switch (policy.kind) {
    case "all":
      return sorted;
    case "latest":
      return sorted.slice(-policy.count);
    case "specific":
      return sorted.filter((v) => policy.versions.includes(v));
  }
}

/** The versions a `specific` policy names that are not available; empty for the other kinds. */
export function missingVersions(policy: VersionPolicy, available: readonly string[]): string[] {
  return policy.kind === "specific" ? policy.versions.filter((v) => !available.includes(v)) : [];
}
