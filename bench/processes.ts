/**
 * Child processes of the benchmark: spawned in their own process group, measured from /proc, and always killed
 * (on success, on error and on Ctrl-C), so a benchmark run never leaves a server behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";

const live = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
let handlersInstalled = false;

/** Runs `cleanup` (synchronously) when the benchmark is interrupted by a signal. */
export function onInterrupt(cleanup: () => void): void {
  installExitHandlers();
  cleanups.push(cleanup);
}

/** Spawns a command in its own process group, registered for {@link killAll}. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  installExitHandlers();
  const child = spawn(command, args, { ...options, detached: true });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Spawns with stdout and stderr appended to a log file (a busy server must never block on a full pipe). */
export function spawnLogged(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  logPath: string,
): ChildProcess {
  const fd = openSync(logPath, "a");
  try {
    return spawnTracked(command, args, { cwd, env, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM to the child's process group, SIGKILL after graceMs; resolves once the child has exited. */
export async function killTree(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  // Workers of a pre-fork server may outlive their parent for a moment; the group is ours to clean up.
  signalGroup(child, "SIGKILL");
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/** Kills every process this module started, synchronously, so it also works from an exit handler. */
export function killAll(): void {
  for (const child of live) signalGroup(child, "SIGKILL");
  live.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping every process it started`);
      killAll();
      for (const cleanup of cleanups) {
        try {
          cleanup();
        } catch {
          // best effort: the process is exiting anyway
        }
      }
      process.exit(130);
    });
  }
}

/** The pid and every descendant's pid, read from /proc (Linux only). */
export function processTree(rootPid: number): number[] {
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i++) {
    const pid = pids[i];
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
        if (children) pids.push(...children.split(/\s+/).map(Number));
      } catch {
        // the task ended while we looked
      }
    }
  }
  return pids;
}

/** Resident set of a process tree right now (sum of VmRSS), in MiB. */
export function currentRssMiB(rootPid: number): number {
  return processTree(rootPid).reduce((sum, pid) => sum + statusKiB(pid, "VmRSS"), 0) / 1024;
}

function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKiB(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const match = /^Pss:\s+(\d+) kB/m.exec(rollup);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export interface MemoryPeak {
  /** Sum over the process tree of each process's own peak resident set (VmHWM): what `top` would have shown. */
  readonly peakRssMiB: number;
  /** Highest sampled sum of proportional set sizes: shared library pages counted once across the tree. */
  readonly peakPssMiB: number;
  /** How many processes the tree had at its largest. */
  readonly processes: number;
}

/**
 * Samples a process tree's memory until stopped. VmHWM is the kernel's own per-process peak, so short spikes
 * between samples are not missed; it is read for every pid ever seen, and a pid's last reading is kept after
 * it exits.
 */
export class MemorySampler {
  private readonly hwmKiB = new Map<number, number>();
  private peakPss = 0;
  private maxProcesses = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly rootPid: number,
    intervalMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const pids = processTree(this.rootPid);
    let pss = 0;
    for (const pid of pids) {
      const hwm = statusKiB(pid, "VmHWM");
      if (hwm > 0) this.hwmKiB.set(pid, Math.max(hwm, this.hwmKiB.get(pid) ?? 0));
      pss += pssKiB(pid);
    }
    this.peakPss = Math.max(this.peakPss, pss);
    this.maxProcesses = Math.max(this.maxProcesses, pids.length);
  }

  stop(): MemoryPeak {
    this.sample();
    clearInterval(this.timer);
    let rss = 0;
    for (const kib of this.hwmKiB.values()) rss += kib;
    return { peakRssMiB: rss / 1024, peakPssMiB: this.peakPss / 1024, processes: this.maxProcesses };
  }
}

/** CPU time (user + system, seconds) of one process, all its threads, from /proc/<pid>/stat; 0 once gone. */
export function processCpuSeconds(pid: number): number {
  const ticksPerSecond = 100; // USER_HZ, 100 on every mainstream Linux build
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
}


/** CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq, steal), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) / 100;
  } catch {
    return 0;
  }
}
