/**
 * A control group per build environment: bounds what one port's build may take (memory,
 * processes) and measures what it took (peak memory, CPU time). cgroup v2 where the kernel has
 * a unified hierarchy with the controllers enabled, else cgroup v1 (memory, pids, cpuacct).
 * Every group is made below portsync's own, under `portsync/`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

export interface CgroupLimits {
  /** Bytes of memory (RAM + page cache + tmpfs pages it wrote); undefined: no limit. */
  memoryBytes?: number;
  /** Processes and threads at once. */
  pids?: number;
}

export interface CgroupUsage {
  peakMemoryBytes: number | null;
  cpuMs: number | null;
}

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

/** Which hierarchy this kernel offers, or why there is none. */
export function cgroupSupport(): { version: 1 | 2 } | { version: 0; why: string } {
  if (process.platform !== 'linux') return { version: 0, why: `cgroups are Linux's (this is ${process.platform})` };
  const v2 = join(ROOT, ownPath(''), 'cgroup.controllers');
  if (existsSync(v2) && /\bmemory\b/.test(readFileSync(v2, 'utf8')) && /\bpids\b/.test(readFileSync(v2, 'utf8'))) return { version: 2 };
  if (existsSync(join(ROOT, 'memory', 'memory.limit_in_bytes')) && existsSync(join(ROOT, 'pids'))) return { version: 1 };
  return { version: 0, why: 'no cgroup v2 hierarchy with memory and pids controllers, and no cgroup v1 memory and pids hierarchies under /sys/fs/cgroup' };
}

export class BuildCgroup {
  private constructor(
    readonly version: 1 | 2,
    /** Directories of the group, one per hierarchy (one for v2). */
    readonly dirs: Record<string, string>,
  ) {}

  /** Makes the group and sets its limits; null when the kernel offers no usable cgroups. Throws when making it fails. */
  static create(name: string, limits: CgroupLimits): BuildCgroup | null {
    const support = cgroupSupport();
    if (support.version === 0) return null;
    if (support.version === 2) {
      const dir = join(ROOT, ownPath(''), 'portsync', name);
      mkdirSync(dir, { recursive: true });
      if (limits.memoryBytes) writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
      if (limits.pids) writeFileSync(join(dir, 'pids.max'), String(limits.pids));
      return new BuildCgroup(2, { unified: dir });
    }
    const dirs: Record<string, string> = {};
    for (const c of ['memory', 'pids', 'cpuacct']) {
      if (!existsSync(join(ROOT, c))) continue;
      dirs[c] = join(ROOT, c, ownPath(c), 'portsync', name);
      mkdirSync(dirs[c]!, { recursive: true });
    }
    if (limits.memoryBytes && dirs.memory) writeFileSync(join(dirs.memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    if (limits.pids && dirs.pids) writeFileSync(join(dirs.pids, 'pids.max'), String(limits.pids));
    return new BuildCgroup(1, dirs);
  }

  /** The `cgroup.procs` files a process writes its pid to, to join the group. */
  get procsFiles(): string[] {
    return Object.values(this.dirs).map((d) => join(d, 'cgroup.procs'));
  }

  usage(): CgroupUsage {
    if (this.version === 2) {
      const dir = this.dirs.unified!;
      const usec = /usage_usec (\d+)/.exec(safeRead(join(dir, 'cpu.stat')))?.[1];
      return { peakMemoryBytes: readNumber(join(dir, 'memory.peak')), cpuMs: usec ? Math.round(Number(usec) / 1000) : null };
    }
    const ns = this.dirs.cpuacct ? readNumber(join(this.dirs.cpuacct, 'cpuacct.usage')) : null;
    return {
      peakMemoryBytes: this.dirs.memory ? readNumber(join(this.dirs.memory, 'memory.max_usage_in_bytes')) : null,
      cpuMs: ns === null ? null : Math.round(ns / 1e6),
    };
  }

  /** Removes the group (its processes must be gone). */
  remove(): void {
    for (const d of Object.values(this.dirs)) removeGroup(d);
  }
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
  const dirs = support.version === 2 ? [join(ROOT, ownPath(''), 'portsync', name)] : ['memory', 'pids', 'cpuacct'].map((c) => join(ROOT, c, ownPath(c), 'portsync', name));
  for (const d of dirs) {
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
