/**
 * A Docker engine for the container tests. The client is the one the repository's scripts pick
 * (scripts/image/docker-cli.sh); an engine is started (scripts/image/docker-engine.sh) only when none answers, and
 * stopped again only if this run started it. Every container and image a run creates carries the run's label,
 * so the run removes exactly those and nothing else on the machine.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";

export const REPO = path.resolve(__dirname, "../..");
/** The label on everything a test run creates; its value is the run's id. */
export const TEST_RUN_LABEL = "io.pyramidnet.test-run";

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  /** @default 60000 */
  readonly timeoutMs?: number;
}

const OUTPUT_CAP = 64 * 1024 * 1024;

function runSync(file: string, args: readonly string[], options: CommandOptions = {}): CommandResult {
  const result = spawnSync(file, args, {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, ...options.env },
    input: options.input,
    timeout: options.timeoutMs ?? 60_000,
    killSignal: "SIGKILL",
    maxBuffer: OUTPUT_CAP,
  });
  if (result.error) return { code: null, stdout: result.stdout ?? "", stderr: `${result.stderr ?? ""}${result.error.message}` };
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Like runSync, without blocking the event loop (for commands that run while the test sends requests). */
function runAsync(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout.length < OUTPUT_CAP ? (stdout += chunk.toString("utf8")) : undefined));
    child.stderr.on("data", (chunk: Buffer) => (stderr.length < OUTPUT_CAP ? (stderr += chunk.toString("utf8")) : undefined));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Why no engine is usable, or undefined when one is. */
export type EngineProblem = string | undefined;

export class DockerEngine {
  /** The id in TEST_RUN_LABEL on everything this run creates. */
  readonly runId = `${process.pid}-${randomBytes(3).toString("hex")}`;

  private constructor(
    /** The docker client binary. */
    readonly cli: string,
    /** Set when this run started the engine: where docker-engine.sh keeps its pid file. */
    private readonly startedState: string | undefined,
  ) {}

  /** An engine to talk to, started if none answers and this machine can run one; otherwise why not. */
  static connect(): DockerEngine | { problem: string } {
    const cli = runSync("bash", ["scripts/image/docker-cli.sh"]).stdout.trim();
    if (cli === "") return { problem: "scripts/image/docker-cli.sh found no docker client" };
    if (runSync(cli, ["version"], { timeoutMs: 15_000 }).code === 0) return new DockerEngine(cli, undefined);
    if (process.getuid?.() !== 0) return { problem: `${cli} reaches no engine, and only root may start dockerd` };
    const state = path.join(os.tmpdir(), `pyramidnet-engine-test-${process.pid}`);
    const started = runSync("bash", ["scripts/image/docker-engine.sh", "start"], {
      env: { DOCKER_ENGINE_STATE: state },
      timeoutMs: 90_000,
    });
    if (started.code !== 0) return { problem: `no engine answers and none could start:\n${started.stdout}${started.stderr}` };
    return new DockerEngine(cli, state);
  }

  /** Runs `docker <args>`; the result whatever the exit status. */
  try(args: readonly string[], options?: CommandOptions): CommandResult {
    return runSync(this.cli, args, options);
  }

  /** Runs `docker <args>` and returns its stdout; throws with stderr when it fails. */
  ok(args: readonly string[], options?: CommandOptions): string {
    const result = this.try(args, options);
    if (result.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${result.code}:\n${result.stderr}`);
    return result.stdout;
  }

  /** `docker <args>` in the background, so the event loop keeps serving the test's own requests. */
  async later(args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
    return runAsync(this.cli, args, options);
  }

  /** A repository script, run with this engine's client. */
  script(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return runAsync("bash", [file, ...args], { ...options, env: { DOCKER_CLI: this.cli, ...options.env } });
  }

  inspect<T>(ref: string): T {
    return (JSON.parse(this.ok(["inspect", ref])) as T[])[0];
  }

  /** The `--label` arguments that mark an object as this run's. */
  get labelArgs(): string[] {
    return ["--label", `${TEST_RUN_LABEL}=${this.runId}`];
  }

  /** Removes the containers, networks and images labelled with this run's id (or `label`); returns what went. */
  removeLabelled(label = `${TEST_RUN_LABEL}=${this.runId}`): string[] {
    const removed: string[] = [];
    const listed = (args: string[]) => this.ok(args).split("\n").filter((line) => line !== "");
    const containers = listed(["ps", "--all", "--quiet", "--filter", `label=${label}`]);
    if (containers.length > 0) this.ok(["rm", "--force", "--volumes", ...containers]);
    removed.push(...containers.map((id) => `container ${id}`));
    const networks = listed(["network", "ls", "--quiet", "--filter", `label=${label}`]);
    if (networks.length > 0) this.ok(["network", "rm", ...networks]);
    removed.push(...networks.map((id) => `network ${id}`));
    const images = [...new Set(listed(["images", "--quiet", "--filter", `label=${label}`]))];
    if (images.length > 0) this.ok(["rmi", "--force", ...images]);
    removed.push(...images.map((id) => `image ${id}`));
    return removed;
  }

  /** Stops the engine if this run started it. */
  release(): void {
    if (this.startedState === undefined) return;
    runSync("bash", ["scripts/image/docker-engine.sh", "stop"], { env: { DOCKER_ENGINE_STATE: this.startedState }, timeoutMs: 60_000 });
  }
}

/** A compose implementation: Docker's plugin (`docker compose`) where the client has it, else Debian's v1. */
export function composeCommand(engine: DockerEngine): { file: string; args: string[]; version: string } | undefined {
  const plugin = engine.try(["compose", "version", "--short"]);
  if (plugin.code === 0) return { file: engine.cli, args: ["compose"], version: `docker compose ${plugin.stdout.trim()}` };
  const standalone = runSync("docker-compose", ["version", "--short"]);
  if (standalone.code === 0) return { file: "docker-compose", args: [], version: `docker-compose ${standalone.stdout.trim()}` };
  return undefined;
}

/** Runs a compose command (see composeCommand) in the background. */
export function runCompose(
  compose: NonNullable<ReturnType<typeof composeCommand>>,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return runAsync(compose.file, [...compose.args, ...args], options);
}
