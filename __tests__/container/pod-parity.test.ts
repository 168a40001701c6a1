/**
 * Pod parity without a container engine: the runtime image's file tree, assembled by replaying the Dockerfile,
 * runs under bubblewrap the way the synthesized production Deployment (dist/production.k8s.yaml) runs it: its
 * runAsUser/runAsGroup, no capabilities, no privilege escalation, a read-only root filesystem with its emptyDir
 * mounts writable, and its ConfigMap as the environment. The service must become ready, classify an image as
 * PyTorch did, pass the image's own HEALTHCHECK, and exit 0 on SIGTERM as PID 1 within the grace period.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CONFIG_SCHEMA } from "../../service/config/schema";
import { HTTP_CONTRACT } from "../../service/contract/http";
import { GrpcInferenceClient } from "../../service/protocols/grpc/client";
import { readPodRuntime, type PodRuntime } from "./pod-spec";
import { assembleRuntimeImage, diskUsage, treeBytes, type RuntimeImage } from "./runtime-image";
import {
  findExecutable,
  hostUidOf,
  processStatus,
  runInSandbox,
  startInSandbox,
  type SandboxSpec,
  type SandboxedProcess,
} from "./sandbox";

const REPO = path.resolve(__dirname, "../..");
const MANIFEST = path.join(REPO, "dist/production.k8s.yaml");
const BWRAP = findExecutable("bwrap");
const READY_TIMEOUT_MS = 90_000;
const MiB = 1024 * 1024;

if (!BWRAP) {
  // Loud on purpose: a skipped parity test must not look like a passing one.
  console.warn(
    [
      "",
      "*".repeat(100),
      "*  SKIPPED: pod-parity test needs bubblewrap (bwrap), which is not installed.",
      "*  Install it: sudo apt-get install -y bubblewrap   (or run scripts/image/ci-sandbox-setup.sh)",
      "*".repeat(100),
      "",
    ].join("\n"),
  );
}

const describeWithBwrap = BWRAP ? describe : describe.skip;

// CI sets POD_PARITY_REQUIRED=1 after installing bubblewrap, so a broken install fails instead of skipping.
if (!BWRAP && process.env.POD_PARITY_REQUIRED === "1") {
  it("has bubblewrap, which POD_PARITY_REQUIRED=1 demands", () => {
    expect(findExecutable("bwrap")).toBeDefined();
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or "timeout" after `ms`; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitForStatus(url: string, status: number, service: SandboxedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (service.hasExited()) throw new Error(`the service exited before ${url} answered ${status}:\n${service.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `HTTP ${response.status}`;
      await response.arrayBuffer();
      if (response.status === status) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last}):\n${service.output()}`);
}

/** Runs in the sandbox: tries to write in a few places and reports what happened, as JSON. */
const WRITE_PROBE = `
const fs = require("node:fs");
const result = { uid: process.getuid(), gid: process.getgid(), pid: process.pid, writes: {} };
for (const target of process.argv.slice(1)) {
  try { fs.writeFileSync(target, "x"); result.writes[target] = "ok"; }
  catch (error) { result.writes[target] = error.code; }
}
console.log(JSON.stringify(result));
`;

describeWithBwrap("pod parity: the runtime image as the production Deployment runs it", () => {
  let workDir = "";
  let image: RuntimeImage;
  let pod: PodRuntime;
  let spec: SandboxSpec;
  let service: SandboxedProcess | undefined;
  let baseUrl = "";
  let grpcAddress = "";
  let card: { name: string; version: string; labels: string[] };

  beforeAll(async () => {
    pod = readPodRuntime(MANIFEST);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "pyramidnet-pod-parity-"));
    const started = Date.now();
    image = assembleRuntimeImage({ repoRoot: REPO, workDir, log: (m) => console.log(`[pod-parity] ${m}`) });
    console.log(
      `[pod-parity] runtime tree assembled in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        `${diskUsage(image.root)} on disk (du -sh), node_modules ${diskUsage(path.join(image.root, "node_modules"))}, ` +
        `${(treeBytes(image.root) / MiB).toFixed(1)} MiB apparent`,
    );
    card = JSON.parse(fs.readFileSync(path.join(image.root, CONFIG_SCHEMA.modelCardPath.default), "utf8")) as typeof card;

    const port = await freeLoopbackPort();
    baseUrl = `http://127.0.0.1:${port}`;
    grpcAddress = `127.0.0.1:${await freeLoopbackPort()}`;
    spec = {
      root: image.root,
      workdir: image.workdir,
      uid: pod.runAsUser,
      gid: pod.runAsGroup,
      writablePaths: pod.emptyDirMounts,
      env: {
        // What the kubelet gives the container: the image's ENV, HOME of the image's user, then envFrom.
        // Only the port and address differ: a free port, on loopback only.
        ...image.env,
        HOME: "/home/node",
        ...pod.env,
        [CONFIG_SCHEMA.port.name]: String(port),
        [CONFIG_SCHEMA.grpcPort.name]: grpcAddress.split(":")[1],
        [CONFIG_SCHEMA.host.name]: "127.0.0.1",
      },
    };
    service = await startInSandbox(spec, image.cmd);
    await waitForStatus(`${baseUrl}${HTTP_CONTRACT.probes.ready}`, 200, service, READY_TIMEOUT_MS);
  }, 300_000);

  afterAll(async () => {
    if (service && !service.hasExited()) {
      try {
        process.kill(service.pid, "SIGKILL");
      } catch {
        // already gone
      }
      service.bwrap.kill("SIGKILL");
      await within(service.exited, 5000);
    }
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }, 20_000);

  it("emulates what the Deployment declares: the image's user, read-only root, only emptyDirs writable", () => {
    expect(pod).toMatchObject({
      runAsUser: image.uid,
      runAsGroup: image.gid,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      droppedCapabilities: ["ALL"],
      overridesCommand: false,
    });
    expect(pod.emptyDirMounts).toEqual(["/tmp"]);
    expect(pod.env[CONFIG_SCHEMA.environment.name]).toBe("production");
  });

  it("stands in for the image's node with the same major version", () => {
    const pinned = /node:(\d+)\.(\d+)\.(\d+)/.exec(image.base)?.slice(1) ?? [];
    expect(process.versions.node.split(".")[0]).toBe(pinned[0]);
    if (process.versions.node !== pinned.join(".")) {
      console.warn(`[pod-parity] host node ${process.versions.node} stands in for the image's ${pinned.join(".")}`);
    }
  });

  it("holds only the runtime's files, with one platform's native binaries", () => {
    expect(fs.readdirSync(image.root).sort()).toEqual(["build", "models", "node_modules", "package.json", "proto"]);
    expect(fs.readdirSync(path.join(image.root, "proto")).sort()).toEqual(["grpc_predict_v2.proto", "health.proto"]);
    expect(fs.readdirSync(path.join(image.root, "models")).sort()).toEqual(
      [CONFIG_SCHEMA.modelCardPath.default, CONFIG_SCHEMA.modelPath.default].map((p) => path.basename(p)).sort(),
    );
    expect(fs.readdirSync(path.join(image.root, "build")).sort()).toEqual(["scripts", "service"]);
    const ortBin = path.join(image.root, "node_modules/onnxruntime-node/bin");
    const platforms = fs.readdirSync(ortBin).flatMap((napi) =>
      fs.readdirSync(path.join(ortBin, napi)).flatMap((osName) =>
        fs.readdirSync(path.join(ortBin, napi, osName)).map((arch) => `${osName}/${arch}`),
      ),
    );
    expect(platforms).toEqual([`linux/${process.arch}`]);
    const sharpPackages = fs.readdirSync(path.join(image.root, "node_modules/@img")).filter((p) => p.startsWith("sharp-"));
    expect(sharpPackages.sort()).toEqual([`sharp-libvips-linux-${process.arch}`, `sharp-linux-${process.arch}`]);
    // No dev dependency made it in.
    for (const dev of ["typescript", "jest", "cdk8s", "ts-node"]) {
      expect(fs.existsSync(path.join(image.root, "node_modules", dev))).toBe(false);
    }
    expect(treeBytes(path.join(image.root, "node_modules"))).toBeLessThan(150 * MiB);
  });

  it("runs as uid/gid 1000 with no capabilities and no_new_privs, as PID 1 of its namespace", () => {
    const status = processStatus(service!.pid);
    const hostUid = String(hostUidOf(spec));
    expect(status.Uid.split(/\s+/)).toEqual([hostUid, hostUid, hostUid, hostUid]);
    expect(status.Gid.split(/\s+/)).toEqual(Array(4).fill(String(process.getuid?.() === 0 ? spec.gid : process.getgid?.())));
    expect(status.CapEff).toMatch(/^0+$/);
    expect(status.CapPrm).toMatch(/^0+$/);
    expect(status.NoNewPrivs).toBe("1");
    // Inside its user namespace it is uid 1000, whatever uid runs the test.
    const uidMap = fs.readFileSync(`/proc/${service!.pid}/uid_map`, "utf8").trim().split(/\s+/);
    expect(uidMap).toEqual([String(spec.uid), hostUid, "1"]);
    expect(status.NSpid.split(/\s+/).pop()).toBe("1");
  });

  it("is ready, and classifies a fixture image as PyTorch did", async () => {
    const ready = await fetch(`${baseUrl}${HTTP_CONTRACT.probes.ready}`);
    expect(ready.status).toBe(200);

    const golden = clearestGoldenImage();
    const jpeg = fs.readFileSync(path.join(REPO, "__tests__/fixtures", golden.file));
    const form = new FormData();
    form.append("file", new Blob([jpeg], { type: "image/jpeg" }), path.basename(golden.file));
    const response = await fetch(`${baseUrl}/predict`, { method: "POST", body: form, signal: AbortSignal.timeout(20_000) });
    const text = await response.text();
    expect({ status: response.status, body: text }).toEqual({ status: 200, body: expect.any(String) });
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = JSON.parse(text) as PredictResponse;

    expect(body.model.name).toBe(card.name);
    expect(body.model.version).toBe(card.version);
    expect(body.top_k).toHaveLength(5);
    expect(body.top_k.map((c) => c.label)).toEqual(body.top_k.map((c) => card.labels[c.index]));
    const probabilities = body.top_k.map((c) => c.probability);
    expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
    // Same answer as PyTorch on the training side, through the whole image: decode, ONNX Runtime, softmax.
    expect(body.prediction).toEqual({
      label: card.labels[golden.top1],
      index: golden.top1,
      confidence: body.top_k[0].probability,
    });
    expect(body.prediction.confidence).toBeCloseTo(golden.confidence, 2);
  }, 30_000);

  it("serves the gRPC API from the image's own proto files: health SERVING and ModelReady", async () => {
    const client = new GrpcInferenceClient(grpcAddress);
    try {
      expect((await client.check("", { deadlineMs: 10_000 })).response).toEqual({ status: "SERVING" });
      expect((await client.call("ModelReady", { name: card.name }, { deadlineMs: 10_000 })).response).toEqual({ ready: true });
    } finally {
      client.close();
    }
  }, 30_000);

  it("cannot write outside /tmp: the root filesystem and the image tree are read-only", () => {
    const readOnly = [`${image.workdir}/x`, `${image.workdir}/models/x`, `${image.workdir}/node_modules/x`, "/x", "/etc/x", "/usr/x"];
    const writable = pod.emptyDirMounts.map((mount) => `${mount}/x`);
    const targets = [...readOnly, ...writable];
    const result = runInSandbox(spec, ["node", "-e", WRITE_PROBE, ...targets]);
    expect(result).toMatchObject({ code: 0 });
    const report = JSON.parse(result.stdout) as { uid: number; gid: number; pid: number; writes: Record<string, string> };
    expect(report).toMatchObject({ uid: pod.runAsUser, gid: pod.runAsGroup, pid: 1 });
    expect(report.writes).toEqual({
      ...Object.fromEntries(readOnly.map((target) => [target, "EROFS"])),
      ...Object.fromEntries(writable.map((target) => [target, "ok"])),
    });
  });

  it("passes the image's own HEALTHCHECK command", () => {
    const result = runInSandbox(spec, image.healthcheck);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("exits 0 on SIGTERM as PID 1 within the pod's grace period, after which the HEALTHCHECK fails", async () => {
    process.kill(service!.pid, "SIGTERM");
    const outcome = await within(service!.exited, pod.terminationGracePeriodSeconds * 1000);
    expect({ outcome, output: outcome === "timeout" || outcome.code !== 0 ? service!.output() : "" }).toEqual({
      outcome: { code: 0, signal: null },
      output: "",
    });
    const result = runInSandbox(spec, image.healthcheck);
    expect(result.code).toBe(1);
  }, 60_000);
});

interface PredictResponse {
  readonly prediction: { readonly label: string; readonly index: number; readonly confidence: number };
  readonly top_k: readonly { readonly label: string; readonly index: number; readonly probability: number }[];
  readonly model: { readonly name: string; readonly version: string };
}

interface GoldenManifest {
  readonly logits: { readonly file: string; readonly shape: readonly [number, number] };
  readonly images: readonly { readonly file: string }[];
}

/**
 * The fixture image PyTorch was surest about (largest gap between its two best logits), with PyTorch's top-1
 * class and softmax confidence: a class the service must reproduce, whatever the model's accuracy.
 */
function clearestGoldenImage(): { file: string; top1: number; confidence: number } {
  const dir = path.join(REPO, "__tests__/fixtures/golden");
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as GoldenManifest;
  const bytes = fs.readFileSync(path.join(dir, manifest.logits.file));
  const logits = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const [count, classes] = manifest.logits.shape;
  let best = { file: "", top1: -1, confidence: 0, margin: -Infinity };
  for (let i = 0; i < count; i++) {
    const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
    const order = row.map((_, k) => k).sort((a, b) => row[b] - row[a]);
    const margin = row[order[0]] - row[order[1]];
    if (margin > best.margin) {
      const max = row[order[0]];
      const sum = row.reduce((acc, v) => acc + Math.exp(v - max), 0);
      best = { file: manifest.images[i].file, top1: order[0], confidence: 1 / sum, margin };
    }
  }
  return best;
}
