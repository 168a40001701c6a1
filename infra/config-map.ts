/**
 * The ConfigMap data: every CLASSIFIER_* variable, rendered and validated by the service's own schema, and the
 * checksum that rolls the pods when it changes.
 */
import { createHash } from "node:crypto";
import { CONFIG_SCHEMA, renderEnvironment, type ConfigOverrides } from "./service-contract";

/**
 * The variable that selects the model version a pod serves.
 * MERGE(issue 21): the service side adds it to its schema; then this becomes `CONFIG_SCHEMA.modelVersion.name`
 * (one line), and loadConfig validates it like every other variable.
 */
export const MODEL_VERSION_VARIABLE = "CLASSIFIER_MODEL_VERSION";

/** The ConfigMap data with the model version a track serves added (unchanged when it is undefined). */
export function withModelVersion(data: Readonly<Record<string, string>>, modelVersion: string | undefined): Record<string, string> {
  return modelVersion === undefined ? { ...data } : { ...data, [MODEL_VERSION_VARIABLE]: modelVersion };
}

/**
 * The data, with CLASSIFIER_ORT_INTRA_OP_THREADS set to `intraOpThreads` (derived from the CPU limit); an override
 * of it that differs, or any value the service's validator refuses, fails with an error that names the variable.
 */
export function renderConfigData(overrides: ConfigOverrides, intraOpThreads: number): Record<string, string> {
  if (overrides.intraOpThreads !== undefined && overrides.intraOpThreads !== intraOpThreads) {
    throw new Error(
      `${CONFIG_SCHEMA.intraOpThreads.name}=${overrides.intraOpThreads} does not match the cpu limit ` +
        `(${intraOpThreads} ${intraOpThreads === 1 ? "core" : "cores"}): leave it unset, it is derived from the limit`,
    );
  }
  try {
    return renderEnvironment({ ...overrides, intraOpThreads });
  } catch (error) {
    throw new Error(`config overrides rejected by the service's validator: ${(error as Error).message}`);
  }
}

/** sha256 of the data in key order, for the pod template's checksum/config annotation. */
export function configChecksum(data: Readonly<Record<string, string>>): string {
  const canonical = JSON.stringify(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)));
  return createHash("sha256").update(canonical).digest("hex");
}
