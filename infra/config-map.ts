/**
 * The ConfigMap data: every CLASSIFIER_* variable, rendered and validated by the service's own schema, and the
 * checksum that rolls the pods when it changes.
 */
import { createHash } from "node:crypto";
import { CONFIG_SCHEMA, renderEnvironment, type ConfigOverrides } from "./service-contract";

/**
 * The config a track needs to serve exactly one model version: that version as the default, and a version policy
 * that loads it (`specific:<version>` unless the config already names a policy). The service's validator checks
 * the pair, so a policy that does not load the version is refused at synth time.
 */
export function modelVersionConfig(modelVersion: string | undefined, overrides: ConfigOverrides): ConfigOverrides {
  if (modelVersion === undefined) return overrides;
  if (overrides.modelVersion !== undefined && overrides.modelVersion !== modelVersion) {
    throw new Error(
      `the model version is set twice: modelVersion ${modelVersion} and ${CONFIG_SCHEMA.modelVersion.name}=${overrides.modelVersion}`,
    );
  }
  return {
    ...overrides,
    modelVersion,
    modelVersionPolicy: overrides.modelVersionPolicy ?? { kind: "specific", versions: [modelVersion] },
  };
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
