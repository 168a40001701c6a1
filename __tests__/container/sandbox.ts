/**
 * Runs a command the way the Deployment runs the container, with bubblewrap instead of a container runtime:
 *
 * - as the image's uid/gid (runAsUser/runAsGroup: 1000), with no capabilities and no_new_privs
 *   (capabilities: drop ALL, allowPrivilegeEscalation: false);
 * - in its own PID namespace with the command as PID 1 (node gets SIGTERM as in a pod, and, as in a pod,
 *   ignores it unless it installed a handler);
 * - on a root filesystem that is read-only (readOnlyRootFilesystem: true) except fresh tmpfs mounts where the
 *   pod has emptyDir volumes: the host's /usr, /etc and /sys read-only, the image tree at its WORKDIR read-only.
 *
 * The network namespace is shared, so the host reaches the service on loopback.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface SandboxSpec {
  /** Host folder mounted read-only at `workdir`. */
  readonly root: string;
  readonly workdir: string;
  readonly uid: number;
  readonly gid: number;
  /** The complete environment (nothing is inherited). */
  readonly env: Readonly<Record<string, string>>;
  /** Fresh writable tmpfs mounts, as the pod's emptyDir volumes. @default ["/tmp"] */
  readonly writablePaths?: readonly string[];
}

/** The node image's default PATH. */
export const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** An executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

/**
 * The node binary the sandbox should use, and the PATH that finds it. The image has node in /usr/local/bin; here
 * the host's node stands in for it (the Dockerfile pins the same version CI uses). When it lives outside /usr
 * (setup-node puts it in /opt/hostedtoolcache), its install prefix is mounted read-only at the same path.
 */
function nodeMount(): { bind?: string; path: string } {
  const bin = path.dirname(fs.realpathSync(process.execPath));
  if (bin.startsWith("/usr/")) return { path: IMAGE_PATH.split(":").includes(bin) ? IMAGE_PATH : `${bin}:${IMAGE_PATH}` };
  return { bind: path.dirname(bin), path: `${bin}:${IMAGE_PATH}` };
}

/** bubblewrap arguments (before the command) for `spec`. */
function bwrapArgs(spec: SandboxSpec, infoFd?: number): string[] {
  const args = [
    "--unshare-user", "--uid", String(spec.uid), "--gid", String(spec.gid),
    "--unshare-pid", "--as-pid-1", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    "--die-with-parent", "--new-session",
    "--ro-bind", "/usr", "/usr",
  ];
  // Merged-/usr systems link /bin, /lib... into /usr; older ones have real folders.
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(top);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push("--symlink", fs.readlinkSync(top), top);
    else if (stat.isDirectory()) args.push("--ro-bind", top, top);
  }
  const node = nodeMount();
  if (node.bind) args.push("--ro-bind", node.bind, node.bind);
  args.push(
    "--ro-bind", "/etc", "/etc",
    "--ro-bind", "/sys", "/sys",
    "--proc", "/proc",
    "--dev", "/dev",
    "--ro-bind", spec.root, spec.workdir,
  );
  for (const writable of spec.writablePaths ?? ["/tmp"]) args.push("--tmpfs", writable);
  args.push(
    "--remount-ro", "/",
    "--chdir", spec.workdir,
    "--clearenv",
  );
  const env = { PATH: node.path, ...spec.env };
  for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value);
  if (infoFd !== undefined) args.push("--info-fd", String(infoFd));
  return args;
}

/**
 * The full command line. As root, setpriv first becomes the target uid on the host too (as a pod without user
 * namespaces), so the kernel, not only the namespace, sees uid 1000; otherwise the user namespace maps it.
 */
export function sandboxCommand(spec: SandboxSpec, argv: readonly string[], infoFd?: number): string[] {
  const bwrap = [findExecutable("bwrap") ?? "bwrap", ...bwrapArgs(spec, infoFd), "--", ...argv];
  if (process.getuid?.() !== 0) return bwrap;
  const setpriv = findExecutable("setpriv");
  if (!setpriv) throw new Error("running as root needs setpriv (util-linux) to drop to the image's uid");
  return [setpriv, `--reuid=${spec.uid}`, `--regid=${spec.gid}`, "--clear-groups", "--", ...bwrap];
}

/** The uid the sandboxed process has as seen from the host. */
export function hostUidOf(spec: SandboxSpec): number {
  return process.getuid?.() === 0 ? spec.uid : (process.getuid?.() ?? spec.uid);
}

const USERNS_HINT =
  "bubblewrap could not create its namespaces. Unprivileged user namespaces must be allowed: " +
  "sysctl kernel.unprivileged_userns_clone=1 (Debian) or kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04); " +
  "scripts/image/ci-sandbox-setup.sh does both.";

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short command in the sandbox to completion. */
export function runInSandbox(spec: SandboxSpec, argv: readonly string[], timeoutMs = 30_000): RunResult {
  const [file, ...args] = sandboxCommand(spec, argv);
  const result = spawnSync(file, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" });
  if (result.error) throw result.error;
  if (/creating new namespace|setting up uid map|No permissions to create/i.test(result.stderr)) {
    throw new Error(`${USERNS_HINT}\n${result.stderr}`);
  }
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** A long-running sandboxed process. */
export interface SandboxedProcess {
  /** The command's pid on the host (PID 1 inside its namespace). */
  readonly pid: number;
  readonly bwrap: ChildProcess;
  /** Output so far (capped), for diagnostics. */
  output(): string;
  /** Resolves with the exit status once bubblewrap has exited (it exits with its command's status). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

const OUTPUT_CAP = 256 * 1024;

/** Starts `argv` in the sandbox; resolves once bubblewrap reports the command's pid. */
export function startInSandbox(spec: SandboxSpec, argv: readonly string[], timeoutMs = 15_000): Promise<SandboxedProcess> {
  const [file, ...args] = sandboxCommand(spec, argv, 3);
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    if (output.length < OUTPUT_CAP) output += chunk.toString("utf8");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  const info = child.stdio[3] as NodeJS.ReadableStream;
  return new Promise((resolve, reject) => {
    let json = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bubblewrap did not report a pid within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const fail = () => {
      clearTimeout(timer);
      reject(new Error(/namespace|uid map/i.test(output) ? `${USERNS_HINT}\n${output}` : `bubblewrap exited early:\n${output}`));
    };
    info.on("data", (chunk: Buffer) => {
      json += chunk.toString("utf8");
      const match = /"child-pid"\s*:\s*(\d+)/.exec(json);
      if (!match) return;
      clearTimeout(timer);
      info.removeAllListeners("data");
      info.resume();
      resolve({
        pid: Number(match[1]),
        bwrap: child,
        output: () => output,
        exited,
        hasExited: () => exitedFlag,
      });
    });
    void exited.then(() => {
      if (!/"child-pid"/.test(json)) fail();
    });
  });
}

/** Reads the Uid/Gid/CapEff/NoNewPrivs lines of /proc/<pid>/status as the host sees them. */
export function processStatus(pid: number): Record<string, string> {
  const status: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) status[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return status;
}
