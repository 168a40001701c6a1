/**
 * The real image, built and run by a real engine. `npm run image:build` (scripts/image/build.sh) builds the
 * Dockerfile; the image then runs exactly as the synthesized production Deployment (dist/production.k8s.yaml)
 * runs it: its uid/gid, a read-only root with a size-limited tmpfs where the pod has its emptyDir, all
 * capabilities dropped, no-new-privileges, Docker's default seccomp profile (RuntimeDefault), its memory and CPU
 * limits, and its ConfigMap as the environment. Requests go to the published port on 127.0.0.1 only.
 *
 * Without a usable engine the suite is skipped with a loud message; CONTAINER_ENGINE_REQUIRED=1 (set by .ci/run)
 * turns that into a failure. Everything the run creates carries its label and is removed afterwards.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { CONFIG_SCHEMA } from "../../service/config/schema";
import { HTTP_CONTRACT } from "../../service/contract/http";
import { METRIC_NAMES } from "../../service/contract/metrics";
import { loadModelCard, type ModelCard } from "../../service/model/card";
import { committedVersionFiles } from "../../service/model/repository";
import { loadGolden, loadRealModel } from "../service/helpers";
import { LOOPBACK, multipart, send, sleep, startHalfSentUpload, upload, type Reply } from "../reliability/support/http";
import { fixtureJpegs, type Fixture } from "../reliability/support/images";
import { freePort, startInProcess, type InProcessService } from "../reliability/support/service";
import { CaseTable } from "../reliability/support/table";
import { finalStage, parseDockerfile } from "./dockerfile";
import { composeCommand, DockerEngine, REPO, runCompose, TEST_RUN_LABEL } from "./engine";
import { readPodRuntime, type PodRuntime } from "./pod-spec";

const MANIFEST = path.join(REPO, "dist/production.k8s.yaml");
/** The issue's budget for what the runtime stage adds to the base image (decimal MB, as docker prints). */
const RUNTIME_LAYERS_BUDGET_BYTES = 120e6;
const HEALTHY_TIMEOUT_MS = 120_000;
const MB = 1e6;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const connected = DockerEngine.connect();
const engine = connected instanceof DockerEngine ? connected : undefined;
if (!engine) {
  const problem = (connected as { problem: string }).problem;
  // Loud on purpose: a skipped engine test must not look like a passing one.
  console.warn(
    [
      "",
      "*".repeat(100),
      "*  SKIPPED: the container engine tests need a Docker engine, and none can start here:",
      ...problem.split("\n").map((line) => `*    ${line}`),
      "*  Install one (Debian: apt-get install docker.io debootstrap docker-compose) and run as root, or run",
      "*  `bash .ci/run`, which installs them, starts dockerd and makes the base image.",
      "*".repeat(100),
      "",
    ].join("\n"),
  );
  if (process.env.CONTAINER_ENGINE_REQUIRED === "1") {
    it("has a Docker engine, which CONTAINER_ENGINE_REQUIRED=1 demands", () => {
      expect(problem).toBe("");
    });
  }
}
const describeWithEngine = engine ? describe : describe.skip;

interface ContainerState {
  readonly Status: string;
  readonly Running: boolean;
  readonly OOMKilled: boolean;
  readonly ExitCode: number;
  readonly Pid: number;
  readonly StartedAt: string;
  readonly Health?: { readonly Status: string; readonly Log: readonly { readonly ExitCode: number; readonly Output: string }[] };
}
interface ContainerInfo {
  readonly State: ContainerState;
  readonly RestartCount: number;
  readonly Config: { readonly Labels: Record<string, string> };
  readonly HostConfig: {
    readonly ReadonlyRootfs: boolean;
    readonly CapDrop: readonly string[] | null;
    readonly SecurityOpt: readonly string[] | null;
    readonly Memory: number;
    readonly MemorySwap: number;
    readonly NanoCpus: number;
    readonly Tmpfs: Record<string, string> | null;
    readonly Privileged: boolean;
  };
  readonly NetworkSettings: { readonly Ports: Record<string, { HostIp: string; HostPort: string }[] | null> };
}
interface ImageInfo {
  readonly Id: string;
  readonly Size: number;
  readonly Config: { readonly Labels: Record<string, string> | null; readonly User: string; readonly Env: readonly string[] };
}

interface PredictBody {
  readonly prediction: { readonly label: string; readonly index: number; readonly confidence: number };
  readonly top_k: readonly { readonly label: string; readonly index: number; readonly probability: number }[];
  readonly model: { readonly name: string; readonly version: string };
}

const table = new CaseTable("the real image under the production pod's settings");
if (engine) table.printAfterAll();

/** A prediction with probabilities rounded, so that two runtimes' answers compare as values. */
function comparable(body: PredictBody): unknown {
  const round = (p: number) => Number(p.toFixed(6));
  return {
    prediction: { ...body.prediction, confidence: round(body.prediction.confidence) },
    top_k: body.top_k.map((c) => ({ ...c, probability: round(c.probability) })),
    model: body.model,
  };
}

const predict = (port: number, image: Fixture | Buffer, timeoutMs = 30_000): Promise<Reply> =>
  upload(
    port,
    "/predict",
    [{ name: "file", data: Buffer.isBuffer(image) ? image : image.bytes, filename: "image.jpg", contentType: "image/jpeg" }],
    { timeoutMs },
  );

/** A status, or the error's code when the exchange failed without an answer (a reset, a timeout). */
async function statusOf(reply: Promise<Reply>): Promise<string> {
  try {
    return String((await reply).status);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

const LARGE = { width: 4000, height: 3000 } as const;

/** A 4000 x 3000 photo-like JPEG: a smooth gradient over noise, a few MB, 36 MB of pixels once decoded. */
async function photoLikeJpeg(): Promise<Buffer> {
  const { width, height } = LARGE;
  const gradient =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#203040"/>` +
    `<stop offset="1" stop-color="#e0c080"/></linearGradient></defs>` +
    `<rect width="100%" height="100%" fill="url(#g)" opacity="0.85"/></svg>`;
  return sharp({ create: { ...LARGE, channels: 3, background: "#5a8cc8", noise: { type: "gaussian", mean: 128, sigma: 40 } } })
    .composite([{ input: Buffer.from(gradient) }])
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** A 4000 x 3000 JPEG of strong noise at high quality: about 12 MB, over CLASSIFIER_MAX_REQUEST_SIZE (10 MiB). */
function oversizedJpeg(): Promise<Buffer> {
  return sharp({ create: { ...LARGE, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 60 } } })
    .jpeg({ quality: 97 })
    .toBuffer();
}

/** The container's peak memory use in bytes as its cgroup counts it (v1 or v2), or undefined. */
function peakMemoryBytes(docker: DockerEngine, container: string): number | undefined {
  for (const file of ["/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "/sys/fs/cgroup/memory.peak"]) {
    const result = docker.try(["exec", container, "cat", file]);
    if (result.code === 0 && /^\d+\s*$/.test(result.stdout)) return Number(result.stdout.trim());
  }
  return undefined;
}

/** Runs in the container: tries to write in a few places and reports what happened, as JSON. */
const WRITE_PROBE = `
const fs = require("node:fs");
const result = { uid: process.getuid(), gid: process.getgid(), writes: {} };
for (const target of process.argv.slice(1)) {
  try { fs.writeFileSync(target, "x"); result.writes[target] = "ok"; }
  catch (error) { result.writes[target] = error.code; }
}
console.log(JSON.stringify(result));
`;

describeWithEngine("the image, built and run by a real engine as the production Deployment runs it", () => {
  // Jest collects a skipped suite's body too: nothing outside the hooks and tests may use the engine or leave a
  // file behind, or a machine without an engine fails here instead of skipping.
  const docker = engine as DockerEngine;
  const pod: PodRuntime = readPodRuntime(MANIFEST, CONFIG_SCHEMA.modelVersion.default);
  const baseRef = finalStage(parseDockerfile(fs.readFileSync(path.join(REPO, "Dockerfile"), "utf8"))).base;
  const runId = engine?.runId ?? "no-engine";
  const image = `pyramidnet-engine-test:${runId}`;
  const container = `pyramidnet-engine-test-${runId}`;
  let outputDir = "";
  let buildSeconds = 0;
  let buildLog = "";
  let port = 0;
  let card: ModelCard;

  beforeAll(async () => {
    outputDir = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-engine-test-"));
    card = await loadModelCard(path.join(REPO, committedVersionFiles().cardPath));
    const base = await docker.script("scripts/image/local-base-image.sh", [], { timeoutMs: 600_000 });
    if (base.code !== 0) throw new Error(`no base image ${baseRef}:\n${base.stdout}${base.stderr}`);
    console.log(`[engine] ${base.stdout.trim()}`);

    const started = Date.now();
    const build = await docker.script("scripts/image/build.sh", docker.labelArgs, {
      env: { IMAGE_REPOSITORY: "pyramidnet-engine-test", IMAGE_TAG: docker.runId, IMAGE_OUTPUT_DIR: outputDir },
      timeoutMs: 600_000,
    });
    buildSeconds = (Date.now() - started) / 1000;
    buildLog = `${build.stdout}${build.stderr}`;
    if (build.code !== 0) throw new Error(`npm run image:build failed:\n${buildLog.slice(-8000)}`);

    const env = Object.entries(pod.env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
    const tmpfs = pod.emptyDirMounts.flatMap((mount) => {
      const limit = pod.emptyDirSizeLimits[mount];
      return ["--tmpfs", `${mount}:mode=1777${limit === undefined ? "" : `,size=${limit}`}`];
    });
    docker.ok([
      "run", "--detach", "--name", container, ...docker.labelArgs,
      "--user", `${pod.runAsUser}:${pod.runAsGroup}`,
      "--read-only", ...tmpfs,
      "--cap-drop", "ALL",
      "--security-opt", "no-new-privileges:true",
      // No seccomp option: Docker's default profile is what RuntimeDefault means for a Docker runtime.
      "--memory", String(pod.memoryLimitBytes), "--memory-swap", String(pod.memoryLimitBytes),
      "--cpus", String(pod.cpuLimit),
      "--stop-timeout", String(pod.terminationGracePeriodSeconds),
      "--publish", `${LOOPBACK}::${CONFIG_SCHEMA.port.default}`,
      ...env,
      image,
    ]);
    const info = docker.inspect<ContainerInfo>(container);
    port = Number(info.NetworkSettings.Ports[`${CONFIG_SCHEMA.port.default}/tcp`]?.[0]?.HostPort);

    const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
    let state = docker.inspect<ContainerInfo>(container).State;
    while (state.Health?.Status !== "healthy" && state.Running && Date.now() < deadline) {
      await sleep(1000);
      state = docker.inspect<ContainerInfo>(container).State;
    }
    if (state.Health?.Status !== "healthy") {
      const logs = docker.try(["logs", container]);
      throw new Error(`the container is ${state.Status}/${state.Health?.Status ?? "no health"}:\n${logs.stdout}${logs.stderr}`);
    }
  }, 1_200_000);

  afterAll(() => {
    const removed = docker.removeLabelled();
    console.log(`[engine] removed what this run created: ${removed.join(", ") || "nothing"}`);
    const left = docker.ok(["ps", "--all", "--quiet", "--filter", `label=${TEST_RUN_LABEL}=${docker.runId}`]).trim();
    if (outputDir) fs.rmSync(outputDir, { recursive: true, force: true });
    docker.release();
    expect(left).toBe("");
  }, 120_000);

  it(`builds the Dockerfile, with the runtime layers under ${RUNTIME_LAYERS_BUDGET_BYTES / MB} MB over the base`, () => {
    const built = docker.inspect<ImageInfo>(image);
    const base = docker.inspect<ImageInfo>(baseRef);
    const over = built.Size - base.Size;
    console.log(
      `[engine] image ${(built.Size / MB).toFixed(1)} MB, base ${baseRef} ${(base.Size / MB).toFixed(1)} MB, ` +
        `runtime layers ${(over / MB).toFixed(1)} MB; npm run image:build took ${buildSeconds.toFixed(0)} s`,
    );
    table.note("image size (docker image inspect)", "-", `${(built.Size / MB).toFixed(1)} MB`);
    table.note("build time (npm run image:build)", "-", `${buildSeconds.toFixed(0)} s`);
    table.note("runtime layers over the base", `< ${RUNTIME_LAYERS_BUDGET_BYTES / MB} MB`, `${(over / MB).toFixed(1)} MB`);
    expect(over).toBeLessThan(RUNTIME_LAYERS_BUDGET_BYTES);
    expect(over).toBeGreaterThan(0);
    expect(buildLog).not.toMatch(/npm (warn|WARN) Unknown project config/);
  });

  it("carries the OCI labels: the package version, the commit, its time, the licence and the base", () => {
    const labels = docker.inspect<ImageInfo>(image).Config.Labels ?? {};
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string; license: string };
    const git = (args: string[]) => execFileSync("git", args, { cwd: REPO, encoding: "utf8" }).trim();
    const oci = (key: string) => labels[`org.opencontainers.image.${key}`];
    table.check("label version", pkg.version, oci("version"));
    table.check("label revision", git(["rev-parse", "HEAD"]), oci("revision"));
    expect(oci("created")).toBe(git(["log", "-1", "--format=%cI", "HEAD"]));
    expect(oci("title")).toBe("pyramidnet-classifier");
    expect(oci("licenses")).toBe(pkg.license);
    expect(oci("base.name")).toBe(`docker.io/library/${baseRef}`);
    expect(oci("description")).toMatch(/PyramidNet/);
  });

  it("writes a CycloneDX SBOM of exactly the runtime dependencies beside the image", () => {
    const file = path.join(outputDir, `${docker.runId}.cdx.json`);
    const sbom = JSON.parse(fs.readFileSync(file, "utf8")) as {
      bomFormat: string;
      metadata: { component: { name: string; version: string } };
      components: { name: string; version: string }[];
    };
    const names = new Set(sbom.components.map((c) => c.name));
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version: string }>;
    };
    expect(sbom.bomFormat).toBe("CycloneDX");
    expect(sbom.metadata.component).toMatchObject({ name: "pyramidnet-k8s", version: expect.any(String) });
    for (const runtime of ["express", "onnxruntime-node", "sharp", "pino", "prom-client", "multer"]) {
      const locked = lock.packages[`node_modules/${runtime}`].version;
      expect(sbom.components.find((c) => c.name === runtime)?.version).toBe(locked);
    }
    for (const dev of ["jest", "typescript", "cdk8s", "ts-node"]) expect(names.has(dev)).toBe(false);
    // Only the one platform the image holds, not the lockfile's every optional platform package.
    expect([...names].filter((n) => n.startsWith("@img/sharp-")).sort()).toEqual([
      `@img/sharp-libvips-linux-${process.arch}`,
      `@img/sharp-linux-${process.arch}`,
    ]);
    table.note("SBOM components (npm sbom, CycloneDX)", "runtime only", `${sbom.components.length} components`);
  });

  it("holds only the runtime's files, with one platform's native binaries, and the pinned Node", () => {
    const sh = (script: string) => docker.ok(["exec", container, "sh", "-c", script]).trim();
    expect(sh("ls /app").split("\n").sort()).toEqual(["build", "models", "node_modules", "package.json", "proto"]);
    expect(sh("ls /app/proto").split("\n").sort()).toEqual(["grpc_predict_v2.proto", "health.proto"]);
    // Every committed version's card and ONNX file, and nothing else (no .pt weights, no training recipe).
    const committedVersions = fs.readdirSync(path.join(REPO, CONFIG_SCHEMA.modelRepository.default, CONFIG_SCHEMA.modelName.default));
    expect(sh("cd /app && find models -type f").split("\n").sort()).toEqual(
      committedVersions.flatMap((version) => Object.values(committedVersionFiles(version))).sort(),
    );
    expect(sh("ls /app/build").split("\n").sort()).toEqual(["scripts", "service"]);
    // onnxruntime-node/bin/napi-v<N>/<os>/<arch>: one os/arch left after the prune.
    const ortPlatforms = sh("cd /app/node_modules/onnxruntime-node/bin && ls -d napi-v*/*/*").split("\n");
    expect(ortPlatforms.map((p) => p.split("/").slice(1).join("/"))).toEqual([`linux/${process.arch}`]);
    expect(sh("ls /app/node_modules/@img | grep '^sharp-'").split("\n").sort()).toEqual([
      `sharp-libvips-linux-${process.arch}`,
      `sharp-linux-${process.arch}`,
    ]);
    for (const dev of ["typescript", "jest", "cdk8s", "ts-node"]) {
      expect({ dev, present: sh(`test -e /app/node_modules/${dev} && echo yes || echo no`) }).toEqual({ dev, present: "no" });
    }
    expect(Number(sh("du -sb /app/node_modules | cut -f1"))).toBeLessThan(150 * 2 ** 20);
    const pinned = /node:(\d+\.\d+\.\d+)/.exec(baseRef)?.[1];
    table.check("node in the image", `v${pinned}`, sh("node --version"));
  });

  it("runs with the Deployment's settings: uid/gid, read-only root, tmpfs, no capabilities, limits", () => {
    expect(pod).toMatchObject({
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      droppedCapabilities: ["ALL"],
      seccompProfile: "RuntimeDefault",
      overridesCommand: false,
    });
    const host = docker.inspect<ContainerInfo>(container).HostConfig;
    expect(host).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      Privileged: false,
      Memory: pod.memoryLimitBytes,
      MemorySwap: pod.memoryLimitBytes,
      NanoCpus: (pod.cpuLimit ?? 0) * 1e9,
    });
    expect(host.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(Object.keys(host.Tmpfs ?? {})).toEqual(pod.emptyDirMounts);
    // The engine applies its default seccomp profile to every container that names none ("builtin" since 23.0).
    const info = JSON.parse(docker.ok(["info", "--format", "{{json .SecurityOptions}}"])) as string[];
    expect(info).toContainEqual(expect.stringMatching(/^name=seccomp,profile=(default|builtin)$/));
    table.check("memory limit (--memory)", String(pod.memoryLimitBytes), String(host.Memory));
    table.check("CPU limit (--cpus)", String(pod.cpuLimit), String(host.NanoCpus / 1e9));
  });

  it("runs node as PID 1, uid/gid 1000, with no capabilities, no_new_privs and a seccomp filter", () => {
    const status = Object.fromEntries(
      docker
        .ok(["exec", container, "cat", "/proc/1/status"])
        .split("\n")
        .map((line) => line.split(":\t").map((part) => part.trim()))
        .filter((pair) => pair.length === 2),
    ) as Record<string, string>;
    const cmdline = docker.ok(["exec", container, "cat", "/proc/1/cmdline"]).split("\0").filter((a) => a !== "");
    expect(cmdline).toEqual(["node", "build/service/main.js"]);
    expect(status.Uid.split(/\s+/)).toEqual(Array(4).fill(String(pod.runAsUser)));
    expect(status.Gid.split(/\s+/)).toEqual(Array(4).fill(String(pod.runAsGroup)));
    expect(status.CapEff).toMatch(/^0+$/);
    expect(status.CapPrm).toMatch(/^0+$/);
    expect(status.CapBnd).toMatch(/^0+$/);
    table.check("PID 1 no_new_privs", "1", status.NoNewPrivs);
    // 2: SECCOMP_MODE_FILTER, Docker's default profile.
    table.check("PID 1 seccomp mode", "2", status.Seccomp);
  });

  it("cannot write outside /tmp, and /tmp is a tmpfs of the emptyDir's size limit", () => {
    const readOnly = ["/app/x", "/app/models/x", "/app/node_modules/x", "/x", "/etc/x", "/usr/x", "/home/node/x"];
    const writable = pod.emptyDirMounts.map((mount) => `${mount}/x`);
    const report = JSON.parse(docker.ok(["exec", container, "node", "-e", WRITE_PROBE, ...readOnly, ...writable])) as {
      uid: number;
      gid: number;
      writes: Record<string, string>;
    };
    expect(report).toMatchObject({ uid: pod.runAsUser, gid: pod.runAsGroup });
    expect(report.writes).toEqual({
      ...Object.fromEntries(readOnly.map((target) => [target, "EROFS"])),
      ...Object.fromEntries(writable.map((target) => [target, "ok"])),
    });
    const [mount] = pod.emptyDirMounts;
    const [, dfLine] = docker.ok(["exec", container, "df", "-B1", "--output=fstype,size", mount]).trim().split("\n");
    const df = dfLine.trim().split(/\s+/);
    table.check(`${mount} filesystem and size`, `tmpfs ${pod.emptyDirSizeLimits[mount]}`, df.join(" "));
  });

  it("became healthy by the image's own HEALTHCHECK, and logged no ONNX Runtime telemetry warning", () => {
    const state = docker.inspect<ContainerInfo>(container).State;
    table.check("Docker health status", "healthy", state.Health?.Status ?? "none");
    expect(state.Health?.Log.at(-1)?.ExitCode).toBe(0);
    const logs = docker.try(["logs", container]);
    expect(`${logs.stdout}${logs.stderr}`).toMatch(/"msg":"ready"/);
    const telemetryLines = `${logs.stdout}${logs.stderr}`.split("\n").filter((line) => /telemetry/i.test(line));
    table.check("telemetry lines in the container log", "0", String(telemetryLines.length));
  });

  it("answers its probes and /metrics through the published loopback port", async () => {
    for (const probe of Object.values(HTTP_CONTRACT.probes)) {
      table.check(`GET ${probe}`, "200", String((await send(port, { path: probe })).status));
    }
    const metrics = await send(port, { path: HTTP_CONTRACT.metricsPath });
    expect(metrics.status).toBe(200);
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    expect(metrics.text).toContain(`${METRIC_NAMES.modelInfo}{name="${card.name}",version="${card.version}",sha256="${card.sha256}"} 1`);
    expect(metrics.text).toMatch(new RegExp(`^# TYPE ${METRIC_NAMES.httpRequestsTotal} counter$`, "m"));
  });

  describe("classification, against the same service in process", () => {
    let model: Awaited<ReturnType<typeof loadRealModel>>;
    let inProcess: InProcessService;
    beforeAll(async () => {
      model = await loadRealModel(card);
      inProcess = await startInProcess(card, model);
    }, 60_000);
    afterAll(async () => {
      await inProcess?.close();
      await model?.close();
    });

    it("gives every fixture image the same answer in the container as in process", async () => {
      const fixtures = fixtureJpegs();
      let same = 0;
      for (const fixture of fixtures) {
        const [fromContainer, fromProcess] = await Promise.all([predict(port, fixture), predict(inProcess.port, fixture)]);
        expect({ file: fixture.file, status: fromContainer.status }).toEqual({ file: fixture.file, status: 200 });
        expect(fromProcess.status).toBe(200);
        expect({ file: fixture.file, answer: comparable(fromContainer.json as PredictBody) }).toEqual({
          file: fixture.file,
          answer: comparable(fromProcess.json as PredictBody),
        });
        same++;
      }
      table.check("fixture answers equal to in-process", `${fixtures.length}/${fixtures.length}`, `${same}/${fixtures.length}`);
      // And as PyTorch on the training side, for the image it was surest about (decoders differ in the last bits).
      const golden = clearestGoldenImage();
      const body = (await predict(port, golden.image)).json as PredictBody;
      table.check(`${golden.image.file}: top-1 as PyTorch`, card.labels[golden.top1], body.prediction.label);
      expect(body.prediction.confidence).toBeCloseTo(golden.confidence, 2);
      const metrics = await send(port, { path: HTTP_CONTRACT.metricsPath });
      const successes = `${METRIC_NAMES.predictionsTotal}\\{model_name="${card.name}",model_version="${card.version}",status="success"\\}`;
      const counted = new RegExp(`^${successes} (\\d+)$`, "m").exec(metrics.text);
      expect(Number(counted?.[1])).toBeGreaterThanOrEqual(fixtures.length);
    }, 120_000);
  });

  it("answers a burst of 32 large uploads with 200/503/413 only, and is never OOM-killed", async () => {
    const [fitting, oversized] = await Promise.all([photoLikeJpeg(), oversizedJpeg()]);
    expect(fitting.length).toBeLessThan(CONFIG_SCHEMA.maxRequestSize.default);
    expect(oversized.length).toBeGreaterThan(CONFIG_SCHEMA.maxRequestSize.default);
    const before = docker.inspect<ContainerInfo>(container).State;
    const burst = [...Array.from({ length: 24 }, () => fitting), ...Array.from({ length: 8 }, () => oversized)];
    const started = Date.now();
    const statuses = await Promise.all(burst.map((jpeg) => statusOf(predict(port, jpeg, 60_000))));
    const seconds = (Date.now() - started) / 1000;
    const tally = (list: string[]) => {
      const counts = new Map<string, number>();
      for (const status of list) counts.set(status, (counts.get(status) ?? 0) + 1);
      return [...counts].map(([status, count]) => `${count}x ${status}`).join(", ");
    };
    const after = docker.inspect<ContainerInfo>(container);
    const peak = peakMemoryBytes(docker, container);
    console.log(
      `[engine] burst of ${burst.length} (${(fitting.length / MB).toFixed(1)} MB and ${(oversized.length / MB).toFixed(1)} MB JPEGs, ` +
        `4000x3000) in ${seconds.toFixed(1)} s: ${tally(statuses)}; ` +
        `peak memory ${peak === undefined ? "n/a" : mib(peak)} of ${mib(pod.memoryLimitBytes ?? 0)}`,
    );
    const unexpected = statuses.filter((status) => !["200", "503", "413"].includes(status));
    table.check("burst answers outside 200/503/413", "none", unexpected.join(", ") || "none");
    table.note("burst answers (24 fitting, 8 over the size limit)", "200/503 and 413", tally(statuses));
    expect(statuses.slice(24)).toEqual(Array(8).fill("413"));
    expect(statuses.slice(0, 24)).toContain("200");
    table.check("OOMKilled after the burst", "false", String(after.State.OOMKilled));
    table.check("restarts after the burst", "0", String(after.RestartCount));
    expect(after.State).toMatchObject({ Running: true, Pid: before.Pid, StartedAt: before.StartedAt });
    if (peak !== undefined) {
      table.note("peak memory in the burst (cgroup)", `< ${mib(pod.memoryLimitBytes ?? 0)}`, mib(peak));
      expect(peak).toBeLessThan(pod.memoryLimitBytes ?? Infinity);
    }
  }, 180_000);

  it("docker stop during load: in-flight requests complete, then exit code 0 within the grace period", async () => {
    const jpeg = await photoLikeJpeg();
    const cat = fixtureJpegs().find((f) => f.label === "cat") as Fixture;
    // Uploads held halfway are in flight for certain when SIGTERM arrives; their second halves go after it.
    const catUpload = () => multipart([{ name: "file", data: cat.bytes, filename: "cat.jpg", contentType: "image/jpeg" }]);
    const held = Array.from({ length: 4 }, () => startHalfSentUpload(port, "/predict", catUpload()));
    const load = Array.from({ length: 8 }, () => statusOf(predict(port, jpeg, 60_000)));
    await sleep(200);
    const stopAt = Date.now();
    const stopping = docker.later(["stop", "--time", String(pod.terminationGracePeriodSeconds), container], {
      timeoutMs: (pod.terminationGracePeriodSeconds + 30) * 1000,
    });
    // The service logs this once SIGTERM has closed its listener.
    let draining = false;
    for (let i = 0; i < 100 && !draining; i++) {
      const logs = await docker.later(["logs", container]);
      draining = /shutting down/.test(`${logs.stdout}${logs.stderr}`);
      if (!draining) await sleep(100);
    }
    expect(draining).toBe(true);
    for (const upload of held) upload.finish();
    const heldAnswers = await Promise.all(held.map((upload) => upload.answer));
    const stop = await stopping;
    const stopSeconds = (Date.now() - stopAt) / 1000;
    const loadStatuses = await Promise.all(load);
    const state = docker.inspect<ContainerInfo>(container).State;
    console.log(`[engine] docker stop took ${stopSeconds.toFixed(1)} s with ${held.length} uploads held open across SIGTERM`);
    expect(stop.code).toBe(0);
    table.check("uploads finished after SIGTERM", `${held.length}x 200`, `${heldAnswers.filter((a) => a.status === 200).length}x 200`);
    // While draining, each answer closes its connection.
    expect(heldAnswers.map((a) => a.connection)).toEqual(Array(held.length).fill("close"));
    table.check("load requests around docker stop", `${load.length}x 200`, `${loadStatuses.filter((s) => s === "200").length}x 200`);
    table.check("exit code after SIGTERM", "0", String(state.ExitCode));
    table.note("docker stop (SIGTERM to exit)", `< ${pod.terminationGracePeriodSeconds} s`, `${stopSeconds.toFixed(1)} s`);
    expect(stopSeconds).toBeLessThan(pod.terminationGracePeriodSeconds);
    expect(state).toMatchObject({ Running: false, OOMKilled: false });
    const logs = docker.try(["logs", container]);
    expect(`${logs.stdout}${logs.stderr}`).toMatch(/"exit_code":0,/);
  }, 120_000);

  it("comes up with docker-compose.yml, answering on loopback", async () => {
    const compose = composeCommand(docker);
    expect(compose).toBeDefined();
    if (!compose) return;
    const project = `pyramidnet-engine-test-${docker.runId}`.toLowerCase().replace(/[^a-z0-9_-]/g, "");
    const composePort = await freePort();
    const env = {
      COMPOSE_PROJECT_NAME: project,
      IMAGE_REPOSITORY: "pyramidnet-engine-test",
      IMAGE_TAG: docker.runId,
      PYRAMIDNET_PUBLISHED_PORT: String(composePort),
      PYRAMIDNET_PUBLISHED_GRPC_PORT: String(await freePort()),
    };
    const file = ["--file", path.join(REPO, "docker-compose.yml"), "--project-directory", REPO];
    try {
      const config = await runCompose(compose, [...file, "config", "--quiet"], { env });
      expect({ compose: compose.version, code: config.code, stderr: config.stderr }).toEqual({
        compose: compose.version,
        code: 0,
        stderr: "",
      });
      const up = await runCompose(compose, [...file, "up", "--detach", "--no-build"], { env, timeoutMs: 120_000 });
      expect({ code: up.code, output: up.code === 0 ? "" : up.stderr }).toEqual({ code: 0, output: "" });
      const deadline = Date.now() + 60_000;
      let ready = "";
      while (Date.now() < deadline) {
        ready = await statusOf(send(composePort, { path: HTTP_CONTRACT.probes.ready, timeoutMs: 2000 }));
        if (ready === "200") break;
        await sleep(500);
      }
      const cat = fixtureJpegs().find((f) => f.label === "cat") as Fixture;
      const answer = await predict(composePort, cat);
      table.check(`${compose.version}: /predict`, "200", String(answer.status));
      expect((answer.json as PredictBody).model).toEqual({ name: card.name, version: card.version });
      const ids = docker.ok(["ps", "--quiet", "--filter", `label=com.docker.compose.project=${project}`]).trim().split("\n");
      expect(ids).toHaveLength(1);
      const info = docker.inspect<ContainerInfo>(ids[0]);
      expect(info.HostConfig).toMatchObject({ ReadonlyRootfs: true, CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges:true"] });
      expect(info.NetworkSettings.Ports[`${CONFIG_SCHEMA.port.default}/tcp`]).toEqual([{ HostIp: LOOPBACK, HostPort: String(composePort) }]);
    } finally {
      await runCompose(compose, [...file, "down", "--volumes", "--timeout", "25"], { env, timeoutMs: 120_000 });
      // Whatever down left (it should leave nothing): the project's containers and networks, by compose's label.
      const left = docker.removeLabelled(`com.docker.compose.project=${project}`);
      expect(left).toEqual([]);
    }
  }, 240_000);
});

/**
 * The fixture image PyTorch was surest about (largest gap between its two best logits), with PyTorch's top-1
 * class and softmax confidence: a class the image must reproduce, whatever the model's accuracy.
 */
function clearestGoldenImage(): { image: Fixture; top1: number; confidence: number } {
  const golden = loadGolden();
  const classes = golden.logits.length / golden.images.length;
  let best = { index: -1, top1: -1, confidence: 0, margin: -Infinity };
  golden.images.forEach((_, i) => {
    const row = Array.from(golden.logits.subarray(i * classes, (i + 1) * classes));
    const order = row.map((_, k) => k).sort((a, b) => row[b] - row[a]);
    const margin = row[order[0]] - row[order[1]];
    if (margin <= best.margin) return;
    const sum = row.reduce((acc, v) => acc + Math.exp(v - row[order[0]]), 0);
    best = { index: i, top1: order[0], confidence: 1 / sum, margin };
  });
  const { file, bytes } = golden.images[best.index];
  return { image: { label: file.split("/")[1], file, bytes }, top1: best.top1, confidence: best.confidence };
}
