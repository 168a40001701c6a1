/**
 * The Dockerfile's and .dockerignore's invariants, checked without a Docker engine.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { CONFIG_SCHEMA } from "../../service/config/schema";
import { HTTP_CONTRACT } from "../../service/contract/http";
import {
  copyOf,
  envOf,
  execForm,
  finalStage,
  instructionsOf,
  keyValues,
  lastOf,
  parseDockerfile,
  shellWords,
  stageNamed,
  substitute,
  workdirOf,
  type Stage,
} from "./dockerfile";
import { isExcluded, parseDockerignore } from "./dockerignore";
import { expandContextSource } from "./build-context";

const REPO = path.resolve(__dirname, "../..");
const read = (file: string) => fs.readFileSync(path.join(REPO, file), "utf8");

const dockerfile = parseDockerfile(read("Dockerfile"));
const runtime = finalStage(dockerfile);
const ignoreRules = parseDockerignore(read(".dockerignore"));

/** The stage a runtime COPY --from names, resolved through the stage list. */
const stageOf = (name: string): Stage => stageNamed(dockerfile, name);
const runsOf = (stage: Stage) => instructionsOf(stage, "RUN").map((i) => i.args);

describe("Dockerfile reader", () => {
  it("joins continuations, drops comment lines inside them, and separates flags from arguments", () => {
    const parsed = parseDockerfile(
      [
        "ARG BASE=node:20.1.0-slim",
        "FROM ${BASE} AS one",
        "# a comment",
        "RUN --mount=type=cache,target=/root/.npm \\",
        "    # dropped, as Docker drops it",
        "    npm ci \\",
        "    && echo done",
        'COPY --from=one ["a b", "c/"]',
        "FROM scratch",
      ].join("\n"),
    );
    expect(parsed.globalArgs).toEqual({ BASE: "node:20.1.0-slim" });
    expect(parsed.stages.map((s) => [s.name, s.base])).toEqual([
      ["one", "node:20.1.0-slim"],
      [undefined, "scratch"],
    ]);
    const [run, copy] = parsed.stages[0].instructions;
    expect(run).toMatchObject({ keyword: "RUN", flags: { mount: "type=cache,target=/root/.npm" }, args: "npm ci && echo done", line: 4 });
    expect(copyOf(copy)).toEqual({ from: "one", sources: ["a b"], destination: "c/", line: 8 });
  });

  it("reads quoted key=value lists, shell words and ARG substitution", () => {
    expect(shellWords(`a="b c" 'd e' f\\ g`)).toEqual(["a=b c", "d e", "f g"]);
    expect(substitute("x-${A}-$B-${C:-dflt}", { A: "1", B: "2" })).toBe("x-1-2-dflt");
    const [env] = parseDockerfile('FROM x\nENV A=1 B="two words"').stages[0].instructions;
    expect(keyValues(env)).toEqual({ A: "1", B: "two words" });
    expect(execForm('["node", "main.js"]')).toEqual(["node", "main.js"]);
    expect(execForm("node main.js")).toBeUndefined();
  });
});

describe("Dockerfile", () => {
  it("is multi-stage: a build stage compiles, a deps stage installs, the runtime stage only copies", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(3);
    const sources = new Set(instructionsOf(runtime, "COPY").map((i) => copyOf(i).from).filter(Boolean));
    const stagesWithRuns = [...sources].map((name) => runsOf(stageOf(name as string)).join(" && "));
    expect(stagesWithRuns.some((runs) => /\bnpm ci\b(?!.*--omit=dev)/.test(runs) && /\bnpm run build\b/.test(runs))).toBe(true);
    expect(stagesWithRuns.some((runs) => /\bnpm ci\b.*--omit=dev/.test(runs))).toBe(true);
    // Deleting in a later layer would not shrink the image: the runtime stage adds files only by COPY.
    expect(instructionsOf(runtime, "RUN")).toEqual([]);
  });

  it("bases every stage on one slim Node 20 image pinned by an exact tag", () => {
    const bases = new Set(dockerfile.stages.map((s) => s.base));
    expect(bases.size).toBe(1);
    const [base] = bases;
    const match = /^(?:docker\.io\/library\/)?node:(\d+)\.(\d+)\.(\d+)-([a-z]+)-slim(@sha256:[a-f0-9]{64})?$/.exec(base);
    expect(match).not.toBeNull();
    expect(match?.[1]).toBe("20");
    expect(base).not.toMatch(/:latest\b|:lts\b|:current\b/);
  });

  it("installs production dependencies with ONNX Runtime's download skipped and prunes other platforms in the same layer", () => {
    const depsStage = dockerfile.stages.find((s) => runsOf(s).some((r) => /\bnpm ci\b.*--omit=dev/.test(r)));
    expect(depsStage).toBeDefined();
    const run = runsOf(depsStage as Stage).find((r) => /--omit=dev/.test(r)) as string;
    expect(run).toMatch(/\bnpm ci\b/);
    expect(run).toMatch(/prune-runtime-deps\.sh node_modules/);
    const copied = instructionsOf(depsStage as Stage, "COPY").flatMap((i) => copyOf(i).sources);
    // Either onnxruntime-node's own switch or npm's ignore-scripts, on the command line or in an active .npmrc line.
    const skipFlag = /onnxruntime-node-install=skip|--ignore-scripts\b/;
    const npmrcSettings = read(".npmrc").split("\n").filter((line) => !/^\s*[#;]/.test(line));
    const npmrcSkips = npmrcSettings.some((line) => /^\s*(onnxruntime-node-install\s*=\s*skip|ignore-scripts\s*=\s*true)\s*$/.test(line));
    expect(skipFlag.test(run) || (copied.includes(".npmrc") && npmrcSkips)).toBe(true);
    expect(copied).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "scripts/image/prune-runtime-deps.sh"]));
  });

  it("has an .npmrc that npm reads without warnings, with install scripts off", () => {
    // npm 11 warns about keys it does not know (onnxruntime-node-install was one) and will reject them in npm 12.
    const result = spawnSync("npm", ["config", "get", "ignore-scripts"], { cwd: REPO, encoding: "utf8", timeout: 30_000 });
    expect({ status: result.status, stdout: result.stdout.trim(), stderr: result.stderr }).toEqual({
      status: 0,
      stdout: "true",
      stderr: "",
    });
  });

  it("runs as the non-root uid 1000, numerically so runAsNonRoot can verify it", () => {
    expect(lastOf(runtime, "USER")?.args).toMatch(/^1000(:1000)?$/);
  });

  it("copies the compiled service, the model and its card, and package.json into the runtime stage", () => {
    const workdir = workdirOf(runtime);
    const copies = instructionsOf(runtime, "COPY").map(copyOf);
    // Where each source lands: into the destination folder when it ends with "/", else as the destination.
    const targets = copies.flatMap((c) =>
      c.sources.map((s) =>
        c.destination.endsWith("/") ? path.posix.resolve(workdir, c.destination, path.posix.basename(s)) : path.posix.resolve(workdir, c.destination),
      ),
    );
    expect(targets).toEqual(
      expect.arrayContaining([`${workdir}/node_modules`, `${workdir}/build/service`, `${workdir}/package.json`]),
    );
    const modelCopies = copies.filter((c) => c.sources.some((s) => s.startsWith("models/")));
    expect(modelCopies.every((c) => c.from === undefined && path.posix.resolve(workdir, c.destination) === `${workdir}/models`)).toBe(true);
    const modelFiles = modelCopies.flatMap((c) =>
      c.sources.flatMap((s) => expandContextSource(REPO, s, ignoreRules)).flatMap((p) => contextFilesUnder(p)),
    );
    // The service's default repository is relative to WORKDIR, so the image holds the default version's files,
    // and only ONNX files and cards, each in its models/<model>/<version>/ folder.
    const { modelRepository, modelName, modelVersion } = CONFIG_SCHEMA;
    const defaultVersionDir = path.posix.join(modelRepository.default, modelName.default, modelVersion.default);
    expect(modelFiles).toEqual(
      expect.arrayContaining([`${defaultVersionDir}/${modelName.default}.onnx`, `${defaultVersionDir}/${modelName.default}.json`]),
    );
    expect(modelFiles.every((f) => /^models\/[^/]+\/\d+\.\d+\.\d+\/[^/]+\.(onnx|json)$/.test(f))).toBe(true);
  });

  it(`exposes the service's port (${CONFIG_SCHEMA.port.default}) and sets NODE_ENV=production`, () => {
    expect(instructionsOf(runtime, "EXPOSE").map((i) => i.args)).toEqual([String(CONFIG_SCHEMA.port.default)]);
    expect(envOf(runtime)).toMatchObject({ NODE_ENV: "production" });
  });

  it("starts node directly with an exec-form CMD, so node is PID 1 and receives SIGTERM", () => {
    expect(instructionsOf(runtime, "ENTRYPOINT")).toEqual([]);
    expect(execForm(lastOf(runtime, "CMD")?.args ?? "")).toEqual(["node", "build/service/main.js"]);
    expect(lastOf(runtime, "STOPSIGNAL")?.args ?? "SIGTERM").toBe("SIGTERM");
  });

  it(`health-checks ${HTTP_CONTRACT.probes.live} with node (no curl in the image), from a file the image contains`, () => {
    const healthcheck = lastOf(runtime, "HEALTHCHECK");
    expect(healthcheck).toBeDefined();
    const command = execForm((healthcheck?.args ?? "").replace(/^CMD\s+/, ""));
    expect(command?.[0]).toBe("node");
    expect(command?.join(" ")).not.toMatch(/curl|wget/);
    const script = command?.[1] as string;
    // The script is compiled from scripts/image/healthcheck.ts, which probes HTTP_CONTRACT.probes.live.
    const source = path.join(REPO, script.replace(/^build\//, "").replace(/\.js$/, ".ts"));
    expect(fs.existsSync(source)).toBe(true);
    expect(fs.readFileSync(source, "utf8")).toMatch(/HTTP_CONTRACT\.probes\.live/);
    const workdir = workdirOf(runtime);
    const copied = instructionsOf(runtime, "COPY")
      .map(copyOf)
      .filter((c) => c.from !== undefined)
      .flatMap((c) => c.sources.map((s) => [s, path.posix.resolve(workdir, c.destination)]));
    expect(copied.some(([from, to]) => from.endsWith(`/${script}`) && `${workdir}/${script}`.startsWith(to))).toBe(true);
    expect(healthcheck?.flags).toMatchObject({ interval: expect.any(String), timeout: expect.any(String), "start-period": expect.any(String) });
  });

  it("carries the OCI image labels, with version, revision and creation time set at build time", () => {
    const labels = Object.assign({}, ...instructionsOf(runtime, "LABEL").map(keyValues)) as Record<string, string>;
    for (const key of ["title", "description", "licenses", "source", "version", "revision", "created"]) {
      expect(Object.keys(labels)).toContain(`org.opencontainers.image.${key}`);
    }
    const buildArgs = Object.assign({}, ...instructionsOf(runtime, "ARG").map(keyValues)) as Record<string, string>;
    expect(labels["org.opencontainers.image.revision"]).toMatch(/^\$\{?REVISION\}?$/);
    expect(Object.keys(buildArgs)).toEqual(expect.arrayContaining(["VERSION", "REVISION", "CREATED"]));
    expect(labels["org.opencontainers.image.licenses"]).toBe(JSON.parse(read("package.json")).license);
  });
});

describe(".dockerignore", () => {
  it.each([
    "node_modules/express/package.json",
    "service/node_modules/x.js",
    ".git/HEAD",
    "build/service/main.js",
    "dist/production.k8s.yaml",
    "coverage/lcov.info",
    "__tests__/fixtures/cifar10/cat/0000.jpg",
    "models/train/work/checkpoint.pt",
    "models/train/work/cache/cifar-10-python.tar.gz",
    "models/train/train.py",
    "models/pyramidnet/1.1.0/pyramidnet.pt",
    "models/pyramidnet/1.0.0/pyramidnet.pt",
    ".env",
    "kubeconfig",
    "bench/results/raw/run.json",
  ])("keeps %s out of the build context", (file) => {
    expect(isExcluded(ignoreRules, file)).toBe(true);
  });

  it.each([
    "package.json",
    "package-lock.json",
    ".npmrc",
    "tsconfig.build.json",
    "service/main.ts",
    "service/config/schema.ts",
    "scripts/image/prune-runtime-deps.sh",
    "models/pyramidnet/1.1.0/pyramidnet.onnx",
    "models/pyramidnet/1.1.0/pyramidnet.json",
    "models/pyramidnet/1.0.0/pyramidnet.onnx",
    "models/pyramidnet/1.0.0/pyramidnet.json",
  ])("sends %s to the builder", (file) => {
    expect(isExcluded(ignoreRules, file)).toBe(false);
  });

  it("lets through every file any stage copies from the build context", () => {
    for (const stage of dockerfile.stages) {
      for (const copy of instructionsOf(stage, "COPY").map(copyOf)) {
        if (copy.from !== undefined) continue;
        for (const source of copy.sources) {
          expect({ stage: stage.name, source, found: expandContextSource(REPO, source, ignoreRules).length > 0 }).toEqual({
            stage: stage.name,
            source,
            found: true,
          });
        }
      }
    }
  });
});

/** The files under a build-context path (the path itself when it is a file) that .dockerignore lets through. */
function contextFilesUnder(relative: string): string[] {
  const absolute = path.join(REPO, relative);
  if (!fs.statSync(absolute).isDirectory()) return isExcluded(ignoreRules, relative) ? [] : [relative];
  return fs
    .readdirSync(absolute)
    .sort()
    .flatMap((entry) => contextFilesUnder(`${relative}/${entry}`));
}
