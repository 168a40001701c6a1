/**
 * Builds the runtime image's file tree without a Docker engine, by replaying the Dockerfile:
 *
 * - the deps stage is replayed instruction by instruction (its COPYs from the build context, filtered by
 *   .dockerignore, then its RUN lines in a shell), and cached in os.tmpdir() under a hash of everything it reads;
 * - the build stage's COPYs are replayed too, then the package's build script (tsc) compiles the copies with the
 *   repository's node_modules standing in for `npm ci`, so the shared build/ is never touched and the compiled
 *   code is always current;
 * - the runtime stage's COPYs, WORKDIR, ENV, USER, CMD and HEALTHCHECK are read from the Dockerfile and applied.
 *
 * A COPY that Docker could not satisfy (a file missing, or dropped by .dockerignore) fails here the same way.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  copyOf,
  envOf,
  execForm,
  finalStage,
  instructionsOf,
  lastOf,
  parseDockerfile,
  stageNamed,
  workdirOf,
  type Dockerfile,
  type Stage,
} from "./dockerfile";
import { isExcluded, parseDockerignore, type IgnoreRule } from "./dockerignore";

export interface RuntimeImage {
  /** Host folder holding what the image has under its WORKDIR. */
  readonly root: string;
  /** The runtime stage's base image, e.g. node:20.20.2-bookworm-slim. */
  readonly base: string;
  /** The runtime stage's WORKDIR, e.g. /app. */
  readonly workdir: string;
  /** The runtime stage's ENV. */
  readonly env: Readonly<Record<string, string>>;
  readonly uid: number;
  readonly gid: number;
  /** The exec-form CMD. */
  readonly cmd: readonly string[];
  /** The exec-form HEALTHCHECK command. */
  readonly healthcheck: readonly string[];
  /** Where the replayed deps stage lives (cached between runs). */
  readonly depsStageDir: string;
  /** Whether the deps stage came from the cache. */
  readonly depsFromCache: boolean;
}

export interface AssembleOptions {
  readonly repoRoot: string;
  /** A fresh folder this run owns; the runtime tree and the compiled code go here. */
  readonly workDir: string;
  /** Where the deps stage is cached between runs. @default os.tmpdir() */
  readonly cacheDir?: string;
  readonly log?: (message: string) => void;
}

/** The node image's "node" user and group; a numeric USER is used as is. */
const NAMED_IDS: Readonly<Record<string, number>> = { node: 1000, root: 0 };

function idOf(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const id = NAMED_IDS[name];
  if (id === undefined) throw new Error(`USER ${name}: unknown to the node base image`);
  return id;
}

function userOf(stage: Stage): { uid: number; gid: number } {
  const user = lastOf(stage, "USER")?.args.trim() ?? "root";
  const [uidName, gidName] = user.split(":");
  const uid = idOf(uidName);
  return { uid, gid: gidName === undefined ? uid : idOf(gidName) };
}

function segmentRegex(segment: string): RegExp {
  const source = segment.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
  return new RegExp(`^${source}$`);
}

/** Context paths (relative, slash-separated) a COPY source names, after .dockerignore, sorted. */
export function expandContextSource(contextRoot: string, source: string, rules: readonly IgnoreRule[]): string[] {
  const segments = source.split("/").filter((s) => s !== "" && s !== ".");
  let matches = [""];
  for (const segment of segments) {
    const next: string[] = [];
    for (const base of matches) {
      const dir = path.join(contextRoot, base);
      if (!/[*?[]/.test(segment)) {
        if (fs.existsSync(path.join(dir, segment))) next.push(base === "" ? segment : `${base}/${segment}`);
        continue;
      }
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
      const regex = segmentRegex(segment);
      for (const entry of fs.readdirSync(dir).sort()) {
        if (regex.test(entry)) next.push(base === "" ? entry : `${base}/${entry}`);
      }
    }
    matches = next;
  }
  return matches.filter((relative) => relative !== "" && !isExcluded(rules, relative));
}

interface CopySource {
  readonly hostPath: string;
  /** For context sources: filters files inside a copied folder by .dockerignore. */
  readonly contextRelative?: string;
}

/** Applies one COPY's semantics: folders copy their contents, several sources need a folder destination. */
function applyCopy(sources: readonly CopySource[], destination: string, rules: readonly IgnoreRule[]): void {
  const intoFolder = destination.endsWith("/") || sources.length > 1;
  for (const source of sources) {
    const stat = fs.statSync(source.hostPath);
    const target = stat.isDirectory() || !intoFolder ? destination : path.join(destination, path.basename(source.hostPath));
    fs.mkdirSync(stat.isDirectory() ? target : path.dirname(target), { recursive: true });
    fs.cpSync(source.hostPath, target, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (from) => {
        if (source.contextRelative === undefined) return true;
        const inside = path.relative(source.hostPath, from).split(path.sep).join("/");
        const relative = inside === "" ? source.contextRelative : `${source.contextRelative}/${inside}`;
        return !isExcluded(rules, relative);
      },
    });
  }
}

type StageResolver = (stageName: string, absolutePath: string) => string;

interface ReplayContext {
  readonly contextRoot: string;
  readonly rules: readonly IgnoreRule[];
  readonly resolveStage: StageResolver;
  readonly log: (message: string) => void;
}

/** Replays a stage's file-producing instructions into `stageDir`, which stands for the stage's WORKDIR. */
function replayStage(stage: Stage, stageDir: string, context: ReplayContext, allowRun: boolean): void {
  const label = stage.name ?? `#${stage.index}`;
  const workdirs = instructionsOf(stage, "WORKDIR");
  const firstFileWrite = stage.instructions.findIndex((i) => i.keyword === "COPY" || i.keyword === "RUN");
  if (workdirs.length !== 1 || (firstFileWrite !== -1 && stage.instructions.indexOf(workdirs[0]) > firstFileWrite)) {
    throw new Error(`stage ${label}: the replay needs exactly one WORKDIR, before any COPY or RUN`);
  }
  const workdir = workdirOf(stage);
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions) {
    switch (instruction.keyword) {
      case "COPY": {
        const copy = copyOf(instruction);
        const destination = copy.destination.startsWith("/")
          ? mapUnder(workdir, stageDir, copy.destination, `stage ${label} line ${copy.line}`)
          : path.join(stageDir, copy.destination) + (copy.destination.endsWith("/") ? "/" : "");
        const sources: CopySource[] = [];
        for (const source of copy.sources) {
          if (copy.from === undefined) {
            const found = expandContextSource(context.contextRoot, source, context.rules);
            if (found.length === 0) {
              throw new Error(
                `stage ${label} line ${copy.line}: COPY ${source}: not in the build context or excluded by .dockerignore`,
              );
            }
            for (const relative of found) {
              sources.push({ hostPath: path.join(context.contextRoot, relative), contextRelative: relative });
            }
          } else {
            const hostPath = context.resolveStage(copy.from, source);
            if (!fs.existsSync(hostPath)) {
              throw new Error(`stage ${label} line ${copy.line}: COPY --from=${copy.from} ${source}: not found`);
            }
            sources.push({ hostPath });
          }
        }
        applyCopy(sources, destination, context.rules);
        break;
      }
      case "RUN": {
        if (!allowRun) throw new Error(`stage ${label} line ${instruction.line}: RUN is not replayed in this stage`);
        if (execForm(instruction.args)) throw new Error(`stage ${label}: exec-form RUN is not supported by the replay`);
        context.log(`replaying RUN (stage ${label}): ${instruction.args}`);
        const result = spawnSync("sh", ["-c", instruction.args], {
          cwd: stageDir,
          env: { ...buildEnvironment(), ...env, npm_config_prefer_offline: "true" },
          encoding: "utf8",
          timeout: 300_000,
          maxBuffer: 64 * 1024 * 1024,
        });
        if (result.status !== 0) {
          throw new Error(
            `stage ${label} line ${instruction.line}: RUN failed (${result.error?.message ?? `exit ${result.status}`}):\n` +
              `${result.stdout}\n${result.stderr}`,
          );
        }
        break;
      }
      case "ENV":
        Object.assign(env, envOf({ ...stage, instructions: [instruction] }));
        break;
      case "WORKDIR":
      case "ARG":
      case "LABEL":
      case "USER":
      case "EXPOSE":
      case "HEALTHCHECK":
      case "CMD":
      case "ENTRYPOINT":
      case "STOPSIGNAL":
        break; // metadata: read where needed, no files
      default:
        throw new Error(`stage ${label} line ${instruction.line}: ${instruction.keyword} is not supported by the replay`);
    }
  }
}

/**
 * A builder's clean environment: PATH, HOME and proxies only. In particular no npm_config_* leaking from an
 * enclosing `npm test`, which npm would read as configuration.
 */
function buildEnvironment(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: os.homedir() };
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(https?|no)_proxy$/i.test(key) && value !== undefined) env[key] = value;
  }
  return env;
}

function mapUnder(workdir: string, hostDir: string, absolutePath: string, where: string): string {
  const relative = path.posix.relative(workdir, absolutePath);
  if (relative.startsWith("..") || path.posix.isAbsolute(relative)) {
    throw new Error(`${where}: ${absolutePath} is outside the stage's WORKDIR ${workdir}; the replay cannot map it`);
  }
  return path.join(hostDir, relative) + (absolutePath.endsWith("/") ? "/" : "");
}

function hashFiles(hash: ReturnType<typeof createHash>, root: string, relative: string): void {
  const full = path.join(root, relative);
  const stat = fs.statSync(full);
  if (stat.isDirectory()) {
    for (const entry of fs.readdirSync(full).sort()) hashFiles(hash, root, `${relative}/${entry}`);
  } else {
    hash.update(`${relative}\0${stat.mode & 0o777}\0`);
    hash.update(fs.readFileSync(full));
  }
}

/** A key that changes whenever anything the deps stage reads changes. */
function depsCacheKey(dockerfile: Dockerfile, stage: Stage, contextRoot: string, rules: readonly IgnoreRule[]): string {
  const hash = createHash("sha256");
  hash.update(`${process.version}\0${process.platform}\0${process.arch}\0${stage.base}\0`);
  hash.update(JSON.stringify(stage.instructions.map((i) => [i.keyword, i.flags, i.args])));
  hash.update(JSON.stringify(dockerfile.globalArgs));
  for (const copy of instructionsOf(stage, "COPY").map(copyOf)) {
    if (copy.from !== undefined) throw new Error(`deps stage: COPY --from is not cacheable by the replay`);
    for (const source of copy.sources) {
      for (const relative of expandContextSource(contextRoot, source, rules)) hashFiles(hash, contextRoot, relative);
    }
  }
  return hash.digest("hex").slice(0, 20);
}

function replayDepsStage(
  dockerfile: Dockerfile,
  stage: Stage,
  context: ReplayContext,
  cacheDir: string,
): { dir: string; fromCache: boolean } {
  const dir = path.join(cacheDir, `pyramidnet-image-deps-${depsCacheKey(dockerfile, stage, context.contextRoot, context.rules)}`);
  const marker = path.join(dir, ".replayed");
  if (fs.existsSync(marker)) {
    try {
      const now = new Date();
      fs.utimesSync(dir, now, now); // in use, so not stale
    } catch {
      // another user's cache: readable is enough
    }
    return { dir, fromCache: true };
  }
  const partial = `${dir}.partial-${process.pid}`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.mkdirSync(partial, { recursive: true });
  try {
    replayStage(stage, partial, context, true);
    fs.writeFileSync(path.join(partial, ".replayed"), new Date().toISOString());
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  removeStaleCacheEntries(cacheDir, path.basename(dir));
  return { dir, fromCache: false };
}

/** Deletes deps-stage caches of earlier lockfiles (a day unused) and abandoned partial replays (an hour old). */
function removeStaleCacheEntries(cacheDir: string, keep: string): void {
  const now = Date.now();
  for (const entry of fs.readdirSync(cacheDir)) {
    if (!entry.startsWith("pyramidnet-image-deps-") || entry === keep) continue;
    const full = path.join(cacheDir, entry);
    try {
      const age = now - fs.statSync(full).mtimeMs;
      if (age > (entry.includes(".partial-") ? 3600_000 : 86_400_000)) fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // another run removed or owns it
    }
  }
}

/**
 * The build stage with its two RUNs stood in for: its COPYs are replayed from the build context (so a source
 * file the context leaves out breaks the compile here as in docker build), `npm ci` becomes a link to the
 * repository's node_modules, and `npm run build` runs the package's tsc build script in the stage folder.
 */
function emulateBuildStage(stage: Stage, stageDir: string, context: ReplayContext): void {
  const label = stage.name ?? `#${stage.index}`;
  const runs = instructionsOf(stage, "RUN").map((i) => i.args);
  const unknown = runs.filter((run) => !/^npm ci\b/.test(run) && run !== "npm run build");
  if (unknown.length > 0 || !runs.includes("npm run build")) {
    throw new Error(`stage ${label}: the replay knows "npm ci ..." and "npm run build", got: ${runs.join(" | ")}`);
  }
  fs.mkdirSync(stageDir, { recursive: true });
  replayStage({ ...stage, instructions: stage.instructions.filter((i) => i.keyword !== "RUN") }, stageDir, context, false);
  fs.symlinkSync(path.join(context.contextRoot, "node_modules"), path.join(stageDir, "node_modules"), "dir");

  const pkg = JSON.parse(fs.readFileSync(path.join(stageDir, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const script = pkg.scripts?.build ?? "";
  const match = /^tsc((?:\s+\S+)*)$/.exec(script.trim());
  if (!match) throw new Error(`package.json "build" is "${script}"; the replay can only emulate a plain tsc call`);
  const args = match[1].trim().split(/\s+/).filter((a) => a !== "");
  context.log(`emulating stage ${label}: tsc ${args.join(" ")} on the copied sources`);
  const tsc = require.resolve("typescript/bin/tsc", { paths: [context.contextRoot] });
  try {
    execFileSync(process.execPath, [tsc, ...args], { cwd: stageDir, encoding: "utf8", stdio: "pipe", timeout: 180_000 });
  } catch (error) {
    const out = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`stage ${label}: tsc failed, so docker build would fail too:\n${out.stdout ?? ""}${out.stderr ?? out.message}`);
  }
}

/** Assembles the runtime image's WORKDIR tree from the Dockerfile at `repoRoot`. */
export function assembleRuntimeImage(options: AssembleOptions): RuntimeImage {
  const log = options.log ?? (() => undefined);
  const { repoRoot, workDir } = options;
  const dockerfile = parseDockerfile(fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
  const rules = parseDockerignore(fs.readFileSync(path.join(repoRoot, ".dockerignore"), "utf8"));
  const runtime = finalStage(dockerfile);
  const stageDirs = new Map<string, { dir: string; workdir: string }>();
  const resolveStage: StageResolver = (name, absolutePath) => {
    const stage = stageDirs.get(name);
    if (!stage) throw new Error(`COPY --from=${name}: the replay has no such stage`);
    return mapUnder(stage.workdir, stage.dir, absolutePath, `COPY --from=${name}`);
  };
  const context: ReplayContext = { contextRoot: repoRoot, rules, resolveStage, log };

  const referenced = new Set(instructionsOf(runtime, "COPY").map((i) => copyOf(i).from).filter((f): f is string => !!f));
  let depsStageDir = "";
  let depsFromCache = false;
  for (const name of referenced) {
    const stage = stageNamed(dockerfile, name);
    if (instructionsOf(stage, "RUN").some((run) => /\bnpm run build\b/.test(run.args))) {
      const dir = path.join(workDir, "build-stage");
      emulateBuildStage(stage, dir, context);
      stageDirs.set(name, { dir, workdir: workdirOf(stage) });
    } else {
      const deps = replayDepsStage(dockerfile, stage, context, options.cacheDir ?? os.tmpdir());
      log(`stage ${name}: ${deps.fromCache ? "from cache" : "replayed"} at ${deps.dir}`);
      depsStageDir = deps.dir;
      depsFromCache = deps.fromCache;
      stageDirs.set(name, { dir: deps.dir, workdir: workdirOf(stage) });
    }
  }

  const root = path.join(workDir, "image-workdir");
  fs.mkdirSync(root, { recursive: true });
  replayStage(runtime, root, context, false);
  // The sandbox's uid must be able to reach the tree, as it reaches /app in the image.
  for (let dir = root; dir !== path.dirname(dir) && dir.startsWith(workDir); dir = path.dirname(dir)) {
    fs.chmodSync(dir, 0o755);
  }

  const cmd = execForm(lastOf(runtime, "CMD")?.args ?? "");
  const healthArgs = lastOf(runtime, "HEALTHCHECK")?.args ?? "";
  const healthcheck = execForm(healthArgs.replace(/^CMD\s+/, ""));
  if (!cmd) throw new Error("runtime stage: CMD must be in exec form");
  if (!healthcheck) throw new Error("runtime stage: HEALTHCHECK must be CMD in exec form");
  return {
    root,
    base: runtime.base,
    workdir: workdirOf(runtime),
    env: envOf(runtime),
    ...userOf(runtime),
    cmd,
    healthcheck,
    depsStageDir,
    depsFromCache,
  };
}

/** Apparent size in bytes of a folder (files and symlinks, like du --apparent-size -sb). */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(full);
    else total += fs.lstatSync(full).size;
  }
  return total;
}

/** `du -sh` of a folder (disk usage as the image layer would roughly hold it), or "?" without du. */
export function diskUsage(dir: string): string {
  const result = spawnSync("du", ["-sh", dir], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.split(/\s+/)[0] : "?";
}
