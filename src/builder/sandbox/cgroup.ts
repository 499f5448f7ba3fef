/**
 * A control group per build environment: bounds what one port's build may take (memory,
 * processes, CPU bandwidth) and measures what it took (peak memory, CPU time). cgroup v2 where
 * the kernel has a unified hierarchy with the controllers delegated to portsync, else cgroup v1
 * (memory, pids, cpuacct, and cpu when mounted). Every group is made below portsync's own, under
 * `portsync/`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
/** v1 hierarchies a group is made in (those mounted); memory and pids are required, cpu is optional. */
const V1_CONTROLLERS = ['memory', 'pids', 'cpuacct', 'cpu'];
/** The CFS period (µs) a CPU limit is expressed in: the kernel's default. */
export const CPU_PERIOD_US = 100_000;

export interface CgroupLimits {
  /** Bytes of memory (RAM + page cache + tmpfs pages it wrote); undefined: no limit. */
  memoryBytes?: number;
  /** Processes and threads at once. */
  pids?: number;
  /** CPUs (fractions allowed); undefined: no limit. */
  cpus?: number;
}

export interface CgroupUsage {
  peakMemoryBytes: number | null;
  cpuMs: number | null;
  /** Processes the kernel killed for going over the memory limit. */
  oomKills: number | null;
}

/** Which hierarchy this kernel offers portsync, or why there is none. */
export type CgroupSupport =
  { version: 1 | 2; /** Why CPU bandwidth cannot be limited here; absent when it can. */ noCpu?: string } | { version: 0; why: string };

/** This process's own cgroup path for a v1 controller (or the v2 path for ''), from /proc/self/cgroup. */
function ownPath(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    if (controller === '' ? controllers === '' : controllers.split(',').includes(controller)) return path;
  }
  return '/';
}

const readNumber = (file: string): number | null => {
  try {
    const n = Number(readFileSync(file, 'utf8').trim().split('\n')[0]);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
};

/** The words of a cgroup list file (cgroup.controllers, cgroup.subtree_control); null when it does not exist. */
function words(file: string): Set<string> | null {
  try {
    return new Set(readFileSync(file, 'utf8').split(/\s+/).filter(Boolean));
  } catch {
    return null;
  }
}

/** `cpus` as CFS bandwidth: this much CPU time (µs) per period. The kernel's smallest quota is 1 ms. */
export function cpuQuota(cpus: number): { quotaUs: number; periodUs: number } {
  return { quotaUs: Math.max(1000, Math.round(cpus * CPU_PERIOD_US)), periodUs: CPU_PERIOD_US };
}

let probed: CgroupSupport | undefined;

/** Which hierarchy this kernel offers (probed once per process: it makes `portsync/` on cgroup v2). */
export function cgroupSupport(): CgroupSupport {
  return (probed ??= probe());
}

function probe(): CgroupSupport {
  if (process.platform !== 'linux') return { version: 0, why: `cgroups are Linux's (this is ${process.platform})` };
  const v2 = probeV2();
  if (v2.usable) return { version: 2, ...(v2.noCpu ? { noCpu: v2.noCpu } : {}) };
  if (existsSync(join(ROOT, 'memory', 'memory.limit_in_bytes')) && existsSync(join(ROOT, 'pids'))) {
    const quota = join(ROOT, 'cpu', ownPath('cpu'), 'cpu.cfs_quota_us');
    if (existsSync(quota)) return { version: 1 };
    const noCpu = existsSync(join(ROOT, 'cpu'))
      ? `the kernel has no CPU bandwidth control (no ${quota}: CONFIG_CFS_BANDWIDTH is off)`
      : `no cgroup v1 cpu hierarchy is mounted at ${join(ROOT, 'cpu')}`;
    return { version: 1, noCpu };
  }
  const v1 = 'no cgroup v1 memory and pids hierarchies under /sys/fs/cgroup';
  return { version: 0, why: v2.why ? `${v2.why}; and ${v1}` : `no cgroup v2 hierarchy with memory and pids controllers, and ${v1}` };
}

/**
 * cgroup v2: a group has a controller only when its parent hands it down (cgroup.subtree_control),
 * and a cgroup other than the root cannot while it holds processes (the "no internal processes"
 * rule). portsync's groups live in `<own>/portsync/`: portsync's own cgroup must hand memory and
 * pids (and cpu, for limits.cpus) down already, unless it is the root, where portsync enables
 * them; `portsync/` is portsync's, and hands down what it got.
 */
function probeV2(): { usable: true; noCpu?: string } | { usable: false; why?: string } {
  const own = join(ROOT, ownPath(''));
  const available = words(join(own, 'cgroup.controllers'));
  if (available === null) return { usable: false }; // no unified hierarchy here
  const wanted = ['memory', 'pids', 'cpu'].filter((c) => available.has(c));
  let delegated = words(join(own, 'cgroup.subtree_control')) ?? new Set<string>();
  const absent = wanted.filter((c) => !delegated.has(c));
  if (ownPath('') === '/' && absent.length) {
    try {
      writeFileSync(join(own, 'cgroup.subtree_control'), absent.map((c) => `+${c}`).join(' '));
    } catch {
      // a cgroup namespace's root is not the root: it holds processes, and the kernel says EBUSY
    }
    delegated = words(join(own, 'cgroup.subtree_control')) ?? delegated;
  }
  const notHanded = (what: string) =>
    `cgroup v2: portsync's cgroup ${own} does not hand ${what} down to child groups, and a cgroup other than the root cannot while it holds processes (portsync's among them); start portsync in the root cgroup (as root: echo $$ > ${join(ROOT, 'cgroup.procs')}, then start it from that shell), or on a machine with cgroup v1`;
  const missing = ['memory', 'pids'].filter((c) => !delegated.has(c));
  if (missing.length) return { usable: false, why: notHanded(missing.join(' and ')) };
  const parent = join(own, 'portsync');
  try {
    mkdirSync(parent, { recursive: true });
    const enabled = words(join(parent, 'cgroup.subtree_control')) ?? new Set<string>();
    const toEnable = wanted.filter((c) => delegated.has(c) && !enabled.has(c));
    if (toEnable.length) writeFileSync(join(parent, 'cgroup.subtree_control'), toEnable.map((c) => `+${c}`).join(' '));
  } catch (e) {
    return { usable: false, why: `cgroup v2: cannot set up ${parent}: ${(e as Error).message}` };
  }
  if (delegated.has('cpu')) return { usable: true };
  return {
    usable: true,
    noCpu: available.has('cpu')
      ? notHanded('the cpu controller')
      : `cgroup v2: the cpu controller is not available to portsync's cgroup ${own}`,
  };
}

/**
 * The line a pass prints once, before its builds, when this machine cannot apply limits that are
 * set (undefined when it can). `wanted`: which of them builds.yaml sets, globally or for a port.
 */
export function unenforcedLimits(support: CgroupSupport, wanted: { memory: boolean; pids: boolean; cpus: boolean }): string | undefined {
  if (support.version === 0) {
    const names = (['memory', 'pids', 'cpus'] as const).filter((k) => wanted[k]).map((k) => `limits.${k}`);
    if (names.length === 0) return undefined;
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
    return `warning: ${list} ${names.length === 1 ? 'is' : 'are'} not enforced in this pass: ${support.why} (tmpfs sizes and time limits still are)`;
  }
  if (wanted.cpus && support.noCpu)
    return `warning: limits.cpus is not enforced in this pass: ${support.noCpu} (the memory and pids limits still are)`;
  return undefined;
}

export class BuildCgroup {
  private constructor(
    readonly version: 1 | 2,
    /** Directories of the group, by controller (one, `unified`, for v2); co-mounted v1 controllers share one. */
    readonly dirs: Record<string, string>,
  ) {}

  /**
   * Makes the group and sets its limits; null when the kernel offers no usable cgroups. A CPU limit
   * is skipped where there is no cpu controller (the pass said so). Throws when making it fails.
   */
  static create(name: string, limits: CgroupLimits): BuildCgroup | null {
    const support = cgroupSupport();
    if (support.version === 0) return null;
    const cpu = limits.cpus !== undefined && !support.noCpu ? cpuQuota(limits.cpus) : undefined;
    const dirs = groupDirs(name, support.version);
    for (const d of new Set(Object.values(dirs))) mkdirSync(d, { recursive: true });
    if (support.version === 2) {
      const dir = dirs.unified!;
      if (limits.memoryBytes) writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
      if (limits.pids) writeFileSync(join(dir, 'pids.max'), String(limits.pids));
      if (cpu) writeFileSync(join(dir, 'cpu.max'), `${cpu.quotaUs} ${cpu.periodUs}`);
      return new BuildCgroup(2, { unified: dir });
    }
    if (limits.memoryBytes && dirs.memory) writeFileSync(join(dirs.memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    if (limits.pids && dirs.pids) writeFileSync(join(dirs.pids, 'pids.max'), String(limits.pids));
    if (cpu && dirs.cpu) writeV1Quota(dirs.cpu, cpu, limits.cpus!);
    return new BuildCgroup(1, dirs);
  }

  /** The `cgroup.procs` files a process writes its pid to, to join the group. */
  get procsFiles(): string[] {
    return [...new Set(Object.values(this.dirs))].map((d) => join(d, 'cgroup.procs'));
  }

  usage(): CgroupUsage {
    if (this.version === 2) {
      const dir = this.dirs.unified!;
      const usec = /usage_usec (\d+)/.exec(safeRead(join(dir, 'cpu.stat')))?.[1];
      return {
        peakMemoryBytes: readNumber(join(dir, 'memory.peak')),
        cpuMs: usec ? Math.round(Number(usec) / 1000) : null,
        oomKills: oomKills(join(dir, 'memory.events')),
      };
    }
    const ns = this.dirs.cpuacct ? readNumber(join(this.dirs.cpuacct, 'cpuacct.usage')) : null;
    return {
      peakMemoryBytes: this.dirs.memory ? readNumber(join(this.dirs.memory, 'memory.max_usage_in_bytes')) : null,
      cpuMs: ns === null ? null : Math.round(ns / 1e6),
      oomKills: this.dirs.memory ? oomKills(join(this.dirs.memory, 'memory.oom_control')) : null,
    };
  }

  /** Removes the group (its processes must be gone). */
  remove(): void {
    for (const d of new Set(Object.values(this.dirs))) removeGroup(d);
  }
}

/**
 * The directories of the group called `name` (a worker environment's id), by controller: one,
 * `unified`, on v2; on v1 one per mounted hierarchy, where co-mounted controllers (cpu,cpuacct)
 * share one.
 */
export function groupDirs(name: string, version: 1 | 2): Record<string, string> {
  if (version === 2) return { unified: join(ROOT, ownPath(''), 'portsync', name) };
  const dirs: Record<string, string> = {};
  for (const c of V1_CONTROLLERS) {
    if (existsSync(join(ROOT, c))) dirs[c] = join(realpathSync(join(ROOT, c)), ownPath(c), 'portsync', name);
  }
  return dirs;
}

/**
 * v1: the period first, then the quota. A quota above what a cgroup higher up allows is refused
 * (EINVAL) on v1; v2 takes it and applies the smaller.
 */
function writeV1Quota(dir: string, cpu: { quotaUs: number; periodUs: number }, cpus: number): void {
  writeFileSync(join(dir, 'cpu.cfs_period_us'), String(cpu.periodUs));
  try {
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(cpu.quotaUs));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
    throw new Error(
      `limits.cpus ${cpus}: the kernel refused a quota of ${cpu.quotaUs} µs per ${cpu.periodUs} µs in ${dir}: a cgroup above portsync's allows fewer CPUs; lower limits.cpus`,
      { cause: e },
    );
  }
}

/** The `oom_kill N` line of memory.events (v2) or memory.oom_control (v1, kernel 4.13+). */
function oomKills(file: string): number | null {
  const n = /^oom_kill (\d+)$/m.exec(safeRead(file))?.[1];
  return n === undefined ? null : Number(n);
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** rmdir of a group: only empty ones can go; a group that still has processes is left (the next cleanup retries). */
function removeGroup(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeGroup(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // busy or gone
  }
}

/**
 * Removes the group of a worker environment that is gone (portsync was killed before it could),
 * killing what is left in it first. Only groups of worker directories found stale are touched:
 * other portsync processes' groups are theirs.
 */
export function removeCgroupOf(name: string): void {
  const support = cgroupSupport();
  if (support.version === 0) return;
  for (const d of new Set(Object.values(groupDirs(name, support.version)))) {
    for (const pid of safeRead(join(d, 'cgroup.procs')).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    removeGroup(d);
  }
}
