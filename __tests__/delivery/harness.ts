/**
 * Runs the delivery scripts (scripts/image/*.sh) as CI does, against a fake kubectl (fake-bin/kubectl) that records
 * its calls and keeps a small cluster state in a temporary folder.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { version as packageVersion } from "../../package.json";

export const REPO = path.resolve(__dirname, "../..");
const FAKE_BIN = path.join(__dirname, "fake-bin");

/** The development environment's committed manifest runs `pyramidnet:<package version>`. */
export const ENVIRONMENT = "development";
export const NAMESPACE = "pyramidnet-dev";
export const REPOSITORY = "pyramidnet";
export const RELEASED_TAG = packageVersion;
export const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

export interface ScriptResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Variables a developer's or CI's shell may hold that would change what the scripts do. */
const INHERITED_SETTINGS =
  /^(KUBECONFIG|KUBECONFIG_DATA|IMAGE_.*|DEPLOY_.*|MANIFEST_DIR|DRY_RUN|REQUIRE_IMAGE_DIGEST|ROLLOUT_TIMEOUT|GITHUB_OUTPUT|SMOKE_.*|FAKE_.*)$/;

/** Runs `bash scripts/image/<script>` with only the given settings (asynchronously, so a test can serve HTTP). */
export function runScript(script: string, env: Readonly<Record<string, string>>): Promise<ScriptResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED_SETTINGS.test(key)));
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [path.join(REPO, "scripts/image", script)], {
      cwd: REPO,
      env: { ...base, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** One fake cluster and one manifest folder, in a temporary directory of their own. */
export class FakeCluster {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-delivery-"));
  readonly manifestDir = path.join(this.root, "manifests");
  readonly manifest = path.join(this.manifestDir, `${ENVIRONMENT}.k8s.yaml`);
  readonly revisionsFile = path.join(this.manifestDir, `${ENVIRONMENT}.revisions`);

  constructor() {
    fs.mkdirSync(this.manifestDir);
  }

  /** Writes the development manifest, running `image` instead of the committed one. */
  writeManifest(image: string): void {
    const committed = fs.readFileSync(path.join(REPO, "dist", `${ENVIRONMENT}.k8s.yaml`), "utf8");
    const line = `image: ${REPOSITORY}:${RELEASED_TAG}\n`;
    if (!committed.includes(line)) throw new Error(`dist/${ENVIRONMENT}.k8s.yaml no longer runs ${REPOSITORY}:${RELEASED_TAG}`);
    fs.writeFileSync(this.manifest, committed.split(line).join(`image: ${image}\n`));
  }

  /** The settings the scripts run with: this cluster's kubectl and manifests, the development environment. */
  env(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return {
      PATH: `${FAKE_BIN}${path.delimiter}${process.env.PATH ?? ""}`,
      FAKE_KUBE_STATE: this.root,
      MANIFEST_DIR: this.manifestDir,
      DEPLOY_ENVIRONMENT: ENVIRONMENT,
      IMAGE_TAG: RELEASED_TAG,
      ...extra,
    };
  }

  /** The records the fake appended to one of its JSON-lines logs, oldest first. */
  private jsonLines<T>(name: string): T[] {
    const file = path.join(this.root, name);
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as T);
  }

  /** Every kubectl call so far, as its argument list. */
  calls(): string[][] {
    return this.jsonLines<string[]>("calls.jsonl");
  }

  /** The calls with a given verb (apply, rollout, get, ...), flags included. */
  callsOf(verb: string): string[][] {
    return this.calls().filter((call) => call[0] === verb);
  }

  /** Each apply: whether it was a dry run, and the objects in the file, as Kind/name. */
  applies(): Array<{ dryRun: boolean; objects: string[] }> {
    return this.jsonLines<{ dryRun: boolean; objects: string[] }>("applied.jsonl");
  }

  /** Starts the fake cluster with these namespaces already there. */
  withNamespaces(...names: string[]): this {
    const state = this.state();
    fs.writeFileSync(path.join(this.root, "state.json"), JSON.stringify({ ...state, namespaces: [...state.namespaces, ...names] }));
    return this;
  }

  /** The fake API server's state. */
  state(): { namespaces: string[]; deployments: Record<string, { revision: number; templates: Record<string, string> }> } {
    const file = path.join(this.root, "state.json");
    return fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, "utf8")) as ReturnType<FakeCluster["state"]>)
      : { namespaces: ["default", "kube-system"], deployments: {} };
  }

  /** The image the Deployment's current revision runs, or undefined when it does not exist. */
  runningImage(): string | undefined {
    const deployment = this.state().deployments[`${NAMESPACE}/pyramidnet`];
    if (deployment === undefined) return undefined;
    const template = JSON.parse(deployment.templates[deployment.revision]) as { spec: { containers: Array<{ image: string }> } };
    return template.spec.containers[0].image;
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
