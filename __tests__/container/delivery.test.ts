/**
 * The delivery pipeline on paper: the GitHub Actions workflow, the scripts it calls and docker-compose.yml.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { CONFIG_SCHEMA, renderEnvironment } from "../../service/config/schema";
import { execForm, finalStage, lastOf, parseDockerfile } from "./dockerfile";

const REPO = path.resolve(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(REPO, file), "utf8");
const packageScripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;

interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly if?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, string>;
}
interface Job {
  readonly needs?: string | string[];
  readonly if?: string;
  readonly environment?: string | { name: string };
  readonly permissions?: Record<string, string>;
  readonly env?: Record<string, string>;
  readonly concurrency?: { group: string; "cancel-in-progress": boolean };
  readonly outputs?: Record<string, string>;
  readonly steps: readonly Step[];
}
interface Workflow {
  readonly on: Record<string, unknown>;
  readonly env?: Record<string, string>;
  readonly permissions?: Record<string, string>;
  readonly jobs: Record<string, Job>;
}

function parseStrict(file: string): unknown {
  const doc = YAML.parseDocument(read(file), { uniqueKeys: true, strict: true });
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJS();
}

const workflow = parseStrict(".github/workflows/ci.yml") as Workflow;
const allSteps = Object.values(workflow.jobs).flatMap((job) => job.steps);

/** The npm script or repository file a run step invokes, or undefined. */
function invokedScript(run: string): { kind: "npm"; name: string } | { kind: "file"; path: string } | undefined {
  const npm = /^npm (?:run )?(?:--silent )?([\w:-]+)/.exec(run.trim());
  if (npm) return { kind: "npm", name: npm[1] };
  const file = /^(?:bash |sh )?(scripts\/\S+)/.exec(run.trim());
  return file ? { kind: "file", path: file[1] } : undefined;
}

/** The steps of a job whose run invokes the npm script `name`. */
const stepsRunning = (job: Job, name: string) =>
  job.steps.filter((s) => s.run !== undefined && new RegExp(`^npm (run )?(--silent )?${name}(\\s|$)`).test(s.run.trim()));

/** The jobs that run an npm script, in workflow order. */
const jobsRunning = (name: string): Array<[string, Job]> =>
  Object.entries(workflow.jobs).filter(([, job]) => stepsRunning(job, name).length > 0);

/** The one job that runs an npm script. */
function jobRunning(name: string): [string, Job] {
  const found = jobsRunning(name);
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0];
}

/** The index in its job of the first step that runs an npm script. */
const stepIndex = (job: Job, name: string) => job.steps.indexOf(stepsRunning(job, name)[0]);

const needsOf = (job: Job) => (job.needs === undefined ? [] : ([] as string[]).concat(job.needs));

describe("GitHub Actions workflow", () => {
  it("runs on pushes to main and on pull requests, with read-only default permissions", () => {
    expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "push"]);
    expect(workflow.on.push).toEqual({ branches: ["main"] });
    expect(workflow.permissions).toEqual({ contents: "read" });
  });

  it("lints and tests, then builds and pushes, then synthesizes and applies, each stage after the previous", () => {
    const [testJob] = jobRunning("test");
    expect(jobRunning("typecheck")[0]).toBe(testJob);
    expect(jobRunning("lint")[0]).toBe(testJob);
    const [buildJob, build] = jobRunning("image:build");
    expect(jobRunning("image:push")[0]).toBe(buildJob);
    expect(needsOf(build)).toContain(testJob);
    // Within a job: build before push; synth, apply, smoke test, roll back.
    expect(stepIndex(build, "image:build")).toBeLessThan(stepIndex(build, "image:push"));
    const deployJobs = jobsRunning("deploy:synth");
    expect(deployJobs.map(([id]) => id)).toEqual(["deploy-staging", "deploy-production"]);
    for (const name of ["deploy:apply", "deploy:smoke", "deploy:rollback"]) {
      expect(jobsRunning(name).map(([id]) => id)).toEqual(["deploy-staging", "deploy-production"]);
    }
    for (const [, deploy] of deployJobs) {
      expect(needsOf(deploy)).toContain(buildJob);
      expect(stepIndex(deploy, "deploy:synth")).toBeLessThan(stepIndex(deploy, "deploy:apply"));
      expect(stepIndex(deploy, "deploy:apply")).toBeLessThan(stepIndex(deploy, "deploy:smoke"));
      expect(stepIndex(deploy, "deploy:smoke")).toBeLessThan(stepIndex(deploy, "deploy:rollback"));
    }
    // Only main ships; pull requests stop after the tests.
    expect(build.if).toMatch(/github\.ref == 'refs\/heads\/main'/);
    expect(build.if).toMatch(/github\.event_name == 'push'/);
    expect(workflow.jobs["deploy-staging"].environment).toBe("staging");
    expect(workflow.jobs["deploy-production"].environment).toBe("production");
  });

  it("runs test -> image -> deploy-staging -> deploy-production, and production only after staging", () => {
    const needs = Object.fromEntries(Object.entries(workflow.jobs).map(([id, job]) => [id, needsOf(job).sort()]));
    expect(needs).toEqual({
      test: [],
      image: ["test"],
      "deploy-staging": ["image"],
      // image too, for its outputs (needs.image.outputs is only visible to jobs that name it).
      "deploy-production": ["deploy-staging", "image"],
    });
    // Each deployment is serialized per environment and never cancelled half-way.
    for (const environment of ["staging", "production"]) {
      expect(workflow.jobs[`deploy-${environment}`].concurrency).toEqual({
        group: `deploy-${environment}`,
        "cancel-in-progress": false,
      });
    }
  });

  it("deploys by digest: the digest the push printed reaches synth, which must find it in the manifest", () => {
    const image = workflow.jobs.image;
    const push = image.steps.find((s) => s.run !== undefined && /image:push/.test(s.run));
    expect(push?.id).toBe("push");
    expect(image.outputs?.digest).toBe("${{ steps.push.outputs.digest }}");
    expect(image.outputs?.image_repository).toBe("${{ steps.ref.outputs.image_repository }}");
    for (const environment of ["staging", "production"]) {
      expect(workflow.jobs[`deploy-${environment}`].env).toEqual({
        DEPLOY_ENVIRONMENT: environment,
        IMAGE_REPOSITORY: "${{ needs.image.outputs.image_repository }}",
        IMAGE_DIGEST: "${{ needs.image.outputs.digest }}",
        REQUIRE_IMAGE_DIGEST: "1",
      });
    }
    expect(read("scripts/image/push.sh")).toMatch(/echo "digest=\$digest" >>"\$GITHUB_OUTPUT"/);
  });

  it("rolls back when the rollout or the smoke test fails (or is cancelled), and not otherwise", () => {
    for (const environment of ["staging", "production"]) {
      const job = workflow.jobs[`deploy-${environment}`];
      const apply = stepsRunning(job, "deploy:apply")[0];
      const smoke = stepsRunning(job, "deploy:smoke")[0];
      const rollback = stepsRunning(job, "deploy:rollback")[0];
      expect([apply.id, smoke.id]).toEqual(["apply", "smoke"]);
      expect(apply.if).toBeUndefined();
      expect(smoke.if).toBeUndefined();
      expect(rollback.if).toBe(
        "${{ always() && (steps.apply.outcome == 'failure' || steps.apply.outcome == 'cancelled' || " +
          "steps.smoke.outcome == 'failure' || steps.smoke.outcome == 'cancelled') }}",
      );
      // The rollback talks to the same cluster as the apply, with the environment's own secret.
      expect(rollback.env?.KUBECONFIG_DATA).toBe("${{ secrets.KUBECONFIG }}");
      expect(rollback.env?.MANIFEST_DIR).toBe(apply.env?.MANIFEST_DIR);
      expect(smoke.env?.MANIFEST_DIR).toBe(apply.env?.MANIFEST_DIR);
      // The smoke test needs no credentials: it goes through the public Ingress.
      expect(smoke.env?.KUBECONFIG_DATA).toBeUndefined();
    }
  });

  it("keeps the SBOM the build writes, and the manifests each deployment applied, as artifacts", () => {
    const image = workflow.jobs.image;
    const upload = image.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
    expect(upload?.with).toEqual({
      name: "sbom-${{ github.sha }}",
      path: "build/image/*.cdx.json",
      "if-no-files-found": "error",
    });
    expect(image.steps.indexOf(upload as Step)).toBeGreaterThan(stepIndex(image, "image:build"));
    for (const environment of ["staging", "production"]) {
      const job = workflow.jobs[`deploy-${environment}`];
      const kept = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
      expect(kept?.with).toEqual({ name: `manifests-${environment}-\${{ github.sha }}`, path: "${{ runner.temp }}/manifests" });
    }
  });

  it("tags the image with the commit SHA, and synthesizes with that same tag", () => {
    expect(workflow.env?.IMAGE_TAG).toBe("${{ github.sha }}");
    for (const step of allSteps) {
      // No step may override the tag with anything else.
      expect(step.env?.IMAGE_TAG ?? "${{ github.sha }}").toBe("${{ github.sha }}");
    }
    // The scripts read IMAGE_TAG (see scripts/image/image-ref.sh) and the chart reads it at synth time.
    expect(read("scripts/image/image-ref.sh")).toMatch(/IMAGE_TAG="\$\{IMAGE_TAG:-/);
    expect(read("charts/main.ts")).toMatch(/IMAGE_TAG/);
  });

  it("takes every credential from secrets and writes none into the workflow", () => {
    const credentialInputs = allSteps.flatMap((s) =>
      Object.entries({ ...(s.with ?? {}), ...(s.env ?? {}) }).filter(([key]) => /password|token|username|kubeconfig|secret/i.test(key)),
    );
    expect(credentialInputs.length).toBeGreaterThanOrEqual(3);
    for (const [key, value] of credentialInputs) {
      expect({ key, value }).toEqual({ key, value: expect.stringMatching(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/) });
    }
    const login = allSteps.find((s) => s.uses?.startsWith("docker/login-action@"));
    expect(login?.with).toMatchObject({ password: expect.stringMatching(/secrets\./) });
    const applies = allSteps.filter((s) => s.run !== undefined && /deploy:apply/.test(s.run));
    expect(applies).toHaveLength(2);
    for (const apply of applies) expect(apply?.env?.KUBECONFIG_DATA).toMatch(/^\$\{\{ secrets\.KUBECONFIG \}\}$/);
    expect(read(".github/workflows/ci.yml")).not.toMatch(/ghp_|AKIA[0-9A-Z]{16}|BEGIN [A-Z ]*PRIVATE KEY|client-key-data/);
  });

  it("tests with the exact Node version the image pins", () => {
    const base = finalStage(parseDockerfile(read("Dockerfile"))).base;
    const imageNode = /^(?:docker\.io\/library\/)?node:(\d+\.\d+\.\d+)-/.exec(base)?.[1];
    const setupNodes = allSteps.filter((s) => s.uses?.startsWith("actions/setup-node@"));
    expect(setupNodes.length).toBeGreaterThan(0);
    for (const step of setupNodes) expect(String(step.with?.["node-version"])).toBe(imageNode);
  });

  it("pins third-party actions to full commit SHAs", () => {
    const uses = allSteps.map((s) => s.uses).filter((u): u is string => u !== undefined);
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) expect(use).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
  });

  it("does its work by calling the repository's own scripts, each of which exists", () => {
    const runs = allSteps.map((s) => s.run).filter((r): r is string => r !== undefined);
    expect(runs.length).toBeGreaterThanOrEqual(8);
    for (const run of runs) {
      expect(run.trim().split("\n")).toHaveLength(1);
      const script = invokedScript(run);
      expect({ run, script }).toEqual({ run, script: expect.anything() });
      if (script?.kind === "npm" && script.name !== "ci") {
        expect({ run, defined: script.name in packageScripts }).toEqual({ run, defined: true });
      }
      if (script?.kind === "file") expect(fs.existsSync(path.join(REPO, script.path))).toBe(true);
    }
    // The npm scripts point at files that exist.
    for (const name of ["image:build", "image:push", "deploy:synth", "deploy:apply", "deploy:smoke", "deploy:rollback"]) {
      for (const file of packageScripts[name].match(/scripts\/\S+\.sh/g) ?? []) {
        expect(fs.existsSync(path.join(REPO, file))).toBe(true);
      }
    }
  });

  it("has delivery scripts that parse as bash", () => {
    for (const file of fs.readdirSync(path.join(REPO, "scripts/image")).filter((f) => f.endsWith(".sh"))) {
      const result = spawnSync("bash", ["-n", path.join(REPO, "scripts/image", file)], { encoding: "utf8" });
      expect({ file, status: result.status, stderr: result.stderr }).toEqual({ file, status: 0, stderr: "" });
    }
  });
});

describe("docker-compose.yml", () => {
  interface ComposeService {
    build: { context: string; dockerfile: string };
    ports: string[];
    environment: Record<string, string>;
    user: string;
    read_only: boolean;
    tmpfs: string[];
    cap_drop: string[];
    security_opt: string[];
    healthcheck: { test: string[] };
    stop_grace_period: string;
  }
  const compose = parseStrict("docker-compose.yml") as { services: Record<string, ComposeService> };
  const services = Object.values(compose.services);
  const service = services[0];

  it("builds the one service from the Dockerfile", () => {
    expect(services).toHaveLength(1);
    expect(service.build).toEqual({ context: ".", dockerfile: "Dockerfile" });
  });

  it("sets every CLASSIFIER_* variable to the schema's default, as the ConfigMap does", () => {
    const expected = renderEnvironment();
    expect(service.environment).toEqual(expected);
  });

  it(`publishes the container ports ${CONFIG_SCHEMA.port.default} (HTTP) and ${CONFIG_SCHEMA.grpcPort.default} (gRPC) on loopback`, () => {
    // As compose reads it with nothing set: the host port may be moved by a variable, never the address.
    const withDefaults = service.ports.map((port) => port.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1"));
    expect(withDefaults).toEqual([
      `127.0.0.1:${CONFIG_SCHEMA.port.default}:${CONFIG_SCHEMA.port.default}`,
      `127.0.0.1:${CONFIG_SCHEMA.grpcPort.default}:${CONFIG_SCHEMA.grpcPort.default}`,
    ]);
    for (const port of service.ports) expect(port).toMatch(/^127\.0\.0\.1:/);
  });

  it("has no top-level name, which Debian's docker-compose 1.29 rejects", () => {
    expect(Object.keys(compose)).toEqual(["services"]);
  });

  it("runs with the pod's security context: uid 1000, read-only root, tmpfs /tmp, no capabilities", () => {
    expect(service.user).toBe("1000:1000");
    expect(service.read_only).toBe(true);
    expect(service.tmpfs.map((t) => t.split(":")[0])).toEqual(["/tmp"]);
    expect(service.cap_drop).toEqual(["ALL"]);
    expect(service.security_opt).toContain("no-new-privileges:true");
  });

  it("health-checks with the image's own HEALTHCHECK command", () => {
    const runtime = finalStage(parseDockerfile(read("Dockerfile")));
    const imageCheck = execForm((lastOf(runtime, "HEALTHCHECK")?.args ?? "").replace(/^CMD\s+/, ""));
    expect(service.healthcheck.test).toEqual(["CMD", ...(imageCheck ?? [])]);
  });

  it("gives the service longer to stop than its shutdown grace", () => {
    const seconds = Number(/^(\d+)s$/.exec(service.stop_grace_period)?.[1]);
    expect(seconds * 1000).toBeGreaterThan(CONFIG_SCHEMA.shutdownGraceMs.default);
  });
});
