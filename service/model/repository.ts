/**
 * The model repository, laid out like Triton's: `<repository>/<model>/<version>/` holds one version's model
 * card (`<model>.json`) and the ONNX file the card names. This module finds the versions on disk, applies the
 * configured version policy, and loads each selected version (card, sha256 check, session, warm-up).
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/schema";
import { CONFIG_SCHEMA } from "../config/schema";
import {
  compareVersions,
  isVersion,
  missingVersions,
  renderVersionPolicy,
  selectVersions,
} from "../config/version-policy";
import { loadModelCard, type ModelCard } from "./card";
import { OnnxModel, type OnnxModelOptions } from "./onnx-model";

/** The repository is missing, empty, or cannot satisfy the configuration; the message says which and why. */
export class ModelRepositoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelRepositoryError";
  }
}

/** Where one version's files are. */
export interface ModelVersionFiles {
  readonly version: string;
  readonly cardPath: string;
  readonly directory: string;
}

/** What the repository holds for the configured model, and which of it this process serves. */
export interface RepositoryPlan {
  readonly name: string;
  /** Every version directory in the repository, oldest first. */
  readonly available: readonly string[];
  /** The versions the policy selects, oldest first; the default version is one of them. */
  readonly selected: readonly ModelVersionFiles[];
  readonly defaultVersion: string;
  /** The policy, as written in the configuration, for messages. */
  readonly policy: string;
}

export type RepositoryConfig = Pick<Config, "modelRepository" | "modelName" | "modelVersion" | "modelVersionPolicy">;

/** The card's path of `version` of `name` in `repository`. */
export function modelCardPath(repository: string, name: string, version: string): string {
  return path.join(repository, name, version, `${name}.json`);
}

/**
 * A committed version's card and ONNX file (the export names it `<model>.onnx`), relative to the repository
 * root: for scripts and the benchmark, which read the files without starting the service.
 * @default the configuration's default repository, model and version
 */
export function committedVersionFiles(version: string = CONFIG_SCHEMA.modelVersion.default): { cardPath: string; modelPath: string } {
  const name = CONFIG_SCHEMA.modelName.default;
  const cardPath = modelCardPath(CONFIG_SCHEMA.modelRepository.default, name, version);
  return { cardPath, modelPath: path.join(path.dirname(cardPath), `${name}.onnx`) };
}

/** The version directories of `name` in `repository`, oldest first; other entries are ignored, as Triton does. */
export async function listVersions(repository: string, name: string): Promise<string[]> {
  const directory = path.join(repository, name);
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ModelRepositoryError(
      `Model repository ${repository}: cannot read ${directory} (${code}); set ${CONFIG_SCHEMA.modelRepository.name} ` +
        `and ${CONFIG_SCHEMA.modelName.name} so that <repository>/<model>/<version>/ holds each version.`,
    );
  }
  return entries
    .filter((entry) => entry.isDirectory() && isVersion(entry.name))
    .map((entry) => entry.name)
    .sort(compareVersions);
}

/** Applies the configured policy to the repository's contents; refuses a policy or default it cannot honour. */
export async function planRepository(config: RepositoryConfig): Promise<RepositoryPlan> {
  const { modelRepository: repository, modelName: name, modelVersion: defaultVersion, modelVersionPolicy } = config;
  const policy = renderVersionPolicy(modelVersionPolicy);
  const available = await listVersions(repository, name);
  const holds = available.length === 0 ? "no version directories" : `versions ${available.join(", ")}`;
  if (available.length === 0) {
    throw new ModelRepositoryError(`Model repository ${repository}: ${path.join(repository, name)} holds ${holds} (MAJOR.MINOR.PATCH).`);
  }
  const missing = missingVersions(modelVersionPolicy, available);
  if (missing.length > 0) {
    throw new ModelRepositoryError(
      `${CONFIG_SCHEMA.modelVersionPolicy.name}=${policy} names ${missing.join(", ")}, but ${path.join(repository, name)} holds ${holds}.`,
    );
  }
  const selected = selectVersions(modelVersionPolicy, available);
  if (!selected.includes(defaultVersion)) {
    const where = available.includes(defaultVersion) ? "it is in the repository, but" : `the repository holds ${holds}, and`;
    throw new ModelRepositoryError(
      `${CONFIG_SCHEMA.modelVersion.name}=${defaultVersion} is not loaded: ${where} ` +
        `${CONFIG_SCHEMA.modelVersionPolicy.name}=${policy} selects ${selected.join(", ")}.`,
    );
  }
  return {
    name,
    available,
    selected: selected.map((version) => ({
      version,
      cardPath: modelCardPath(repository, name, version),
      directory: path.join(repository, name, version),
    })),
    defaultVersion,
    policy,
  };
}

/** One version, loaded and verified: its card, and its model (sha256 checked, warmed up). */
export interface LoadedModelVersion {
  readonly card: ModelCard;
  readonly model: OnnxModel;
}

export type VersionLoadOptions = Omit<OnnxModelOptions, "modelPath" | "card">;

/**
 * Loads every selected version, one after another (their warm-ups would only compete for the same cores).
 * Each card must name the configured model and its own directory's version. If one fails, those already
 * loaded are closed and the error is thrown.
 */
export async function loadVersions(plan: RepositoryPlan, options: VersionLoadOptions): Promise<LoadedModelVersion[]> {
  const loaded: LoadedModelVersion[] = [];
  try {
    for (const files of plan.selected) {
      const card = await loadModelCard(files.cardPath);
      if (card.name !== plan.name || card.version !== files.version) {
        throw new ModelRepositoryError(
          `Model card ${files.cardPath} describes ${card.name} ${card.version}, but its directory is ${plan.name}/${files.version}.`,
        );
      }
      const model = await OnnxModel.load({ ...options, card, modelPath: path.join(files.directory, card.file) });
      loaded.push({ card, model });
    }
  } catch (error) {
    await Promise.all(loaded.map(({ model }) => model.close()));
    throw error;
  }
  return loaded;
}
