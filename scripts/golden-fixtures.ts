/**
 * Where the committed golden fixtures live (written by models/train/export.py, whose paths.py names the same
 * folders): 10 CIFAR-10 test JPEGs per class, shared by every version, and per version the recipe's preprocessing
 * of them and that version's PyTorch logits. Read by the tests and the benchmark, never by the service.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { CONFIG_SCHEMA } from "../service/config/schema";

/** Relative to the repository root. */
export const FIXTURES_DIR = path.join("__tests__", "fixtures");

/**
 * One version's golden folder: manifest.json, inputs.f32 ([100, 3, 32, 32]) and logits.f32 ([100, 10]).
 * @default the configuration's default version
 */
export function goldenDir(version: string = CONFIG_SCHEMA.modelVersion.default): string {
  return path.join(FIXTURES_DIR, "golden", version);
}

/**
 * The preprocessed fixture images for driving `version` with tensors: its own when it has a golden folder, else
 * the default version's (a version exported before golden folders were per version has none). Only the benchmark
 * uses the fallback, where any realistic input will do; the tests compare logits and read the version's own.
 */
export function goldenInputsFor(repo: string, version: string): { path: string; version: string } {
  const own = path.join(repo, goldenDir(version), "inputs.f32");
  if (existsSync(own)) return { path: own, version };
  return { path: path.join(repo, goldenDir(), "inputs.f32"), version: CONFIG_SCHEMA.modelVersion.default };
}
