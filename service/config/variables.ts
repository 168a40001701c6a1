/**
 * The builders of CLASSIFIER_* variable specs (integer, one-of, boolean, text, list, version policy): how one raw
 * environment value is parsed, checked and rendered back. service/config/schema.ts lists the variables with them.
 *
 * This module must stay free of runtime dependencies (no express, sharp, onnxruntime): infra/ imports it.
 */
import {
  VERSION_POLICY_SYNTAX,
  parseVersionPolicy,
  renderVersionPolicy,
  type VersionPolicy,
} from "./version-policy";

/** How one environment variable is read. */
export interface VariableSpec<T> {
  /** The environment variable's name. */
  readonly name: string;
  /** Used when the variable is unset or empty. */
  readonly default: T;
  /** What it controls, shown in README and in the ConfigMap generator's comments. */
  readonly description: string;
  /** The allowed values, in words, for error messages. */
  readonly allowed: string;
  /** Parses a raw value; returns undefined when the value is not allowed. */
  readonly parse: (raw: string) => T | undefined;
  /** Renders a value back to the string the service would parse. */
  readonly render: (value: T) => string;
}

export function integer(
  name: string,
  defaultValue: number,
  min: number,
  max: number,
  description: string,
): VariableSpec<number> {
  return {
    name,
    default: defaultValue,
    description,
    allowed: `an integer from ${min} to ${max}`,
    parse: (raw) => {
      if (!/^-?\d+$/.test(raw.trim())) return undefined;
      const value = Number(raw.trim());
      return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
    },
    render: String,
  };
}

export function oneOf<const T extends string>(
  name: string,
  defaultValue: T,
  values: readonly T[],
  description: string,
): VariableSpec<T> {
  return {
    name,
    default: defaultValue,
    description,
    allowed: `one of ${values.join(", ")}`,
    parse: (raw) => values.find((v) => v === raw.trim().toLowerCase()),
    render: String,
  };
}

export function boolean(name: string, defaultValue: boolean, description: string): VariableSpec<boolean> {
  return {
    name,
    default: defaultValue,
    description,
    allowed: "true or false",
    parse: (raw) => {
      const v = raw.trim().toLowerCase();
      if (v === "true" || v === "1") return true;
      if (v === "false" || v === "0") return false;
      return undefined;
    },
    render: String,
  };
}

export function text(
  name: string,
  defaultValue: string,
  description: string,
  pattern: RegExp = /^.+$/,
  allowed = "a non-empty string",
): VariableSpec<string> {
  return {
    name,
    default: defaultValue,
    description,
    allowed,
    parse: (raw) => (pattern.test(raw.trim()) ? raw.trim() : undefined),
    render: String,
  };
}

export function list(name: string, description: string): VariableSpec<readonly string[]> {
  return {
    name,
    default: [],
    description,
    allowed: "a comma-separated list of origins (https://example.com), or *",
    parse: (raw) => {
      const items = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const ok = items.every((s) => s === "*" || /^https?:\/\/[^\s/,]+$/.test(s));
      return ok ? items : undefined;
    },
    render: (value) => value.join(","),
  };
}

export function versionPolicy(name: string, defaultValue: VersionPolicy, description: string): VariableSpec<VersionPolicy> {
  return {
    name,
    default: defaultValue,
    description,
    allowed: VERSION_POLICY_SYNTAX,
    parse: parseVersionPolicy,
    render: renderVersionPolicy,
  };
}
