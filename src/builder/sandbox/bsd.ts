import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentGoneError, EnvironmentSetupError } from './errors.js';
import { checkEnv, mapInsidePath } from './paths.js';
import { removeUnmountedTree } from './safe-remove.js';
import { RunTracker } from './supervise.js';
import { cleanupStaleWorkers, createWorkerDir } from './workers.js';
import { CHROOT_INSIDE } from './chroot.js';
import type { MountEntry } from './chroot.js';
import type { BuildEnvironment, EnvPaths, EnvironmentBackend, RunResult, RunSpec } from './types.js';

const exec = promisify(execFile);

/** System directories dsynth nullfs-mounts read-only into each worker. */
export const BSD_SYSTEM_DIRS = [
  '/bin',
  '/sbin',
  '/lib',
  '/libexec',
  '/usr/bin',
  '/usr/include',
  '/usr/lib',
  '/usr/libdata',
  '/usr/libexec',
  '/usr/sbin',
  '/usr/share',
];

export interface BsdPlan {
  root: string;
  mounts: MountEntry[];
  /** Commands that make the root and mount everything, in order. */
  setup: string[][];
  /** `umount -f` of every mount, deepest (last mounted) first. */
  teardown: string[][];
  /** The command line that runs argv inside: chroot + a clean environment. */
  run(spec: { argv: string[]; env: Record<string, string>; cwd?: string }): string[];
}

/** The mount plan and command lines of a dsynth-style worker on FreeBSD/DragonFly. */
export function planBsdEnvironment(root: string, paths: EnvPaths): BsdPlan {
  const at = (p: string) => posix.join(root, p);
  const nullfs = (source: string, target: string, ro: boolean): MountEntry => ({
    fstype: 'nullfs',
    source,
    target: at(target),
    options: ro ? 'ro' : 'rw',
  });
  const tmpfs = (target: string): MountEntry => ({ fstype: 'tmpfs', source: 'tmpfs', target: at(target), options: 'rw' });
  const mounts: MountEntry[] = [
    ...BSD_SYSTEM_DIRS.map((d) => nullfs(d, d, true)),
    tmpfs('/usr/local'),
    nullfs(paths.portsTree, CHROOT_INSIDE.portsTree, true),
    nullfs(paths.distfiles, CHROOT_INSIDE.distfiles, false),
    nullfs(paths.packages, CHROOT_INSIDE.packages, true),
    tmpfs(CHROOT_INSIDE.output),
    tmpfs(CHROOT_INSIDE.construction),
    tmpfs(CHROOT_INSIDE.tmp),
    { fstype: 'devfs', source: 'devfs', target: at('/dev'), options: 'rw' },
    { fstype: 'procfs', source: 'procfs', target: at('/proc'), options: 'rw' },
  ];
  const setup: string[][] = [
    ['mkdir', '-p', ...mounts.map((m) => m.target), at('/etc'), at('/var/run'), at('/root')],
    ['cp', '-p', '/etc/passwd', '/etc/group', '/etc/master.passwd', '/etc/pwd.db', '/etc/spwd.db', '/etc/resolv.conf', at('/etc/')],
    ...mounts.map((m) => ['mount', '-t', m.fstype, '-o', m.options, m.source, m.target]),
  ];
  const teardown = [...mounts].reverse().map((m) => ['umount', '-f', m.target]);
  return {
    root,
    mounts,
    setup,
    teardown,
    run: ({ argv, env, cwd }) => [
      'chroot',
      root,
      '/bin/sh',
      '-c',
      'cd "$1" && shift && exec /usr/bin/env -i "$@"',
      'sh',
      cwd ?? CHROOT_INSIDE.construction,
      ...checkEnv(env),
      ...argv,
    ],
  };
}

class BsdEnvironment implements BuildEnvironment {
  readonly inside = CHROOT_INSIDE;
  private destroyed = false;
  private readonly runs = new RunTracker();

  constructor(
    readonly id: string,
    readonly slot: number,
    private readonly dir: string,
    private readonly paths: EnvPaths,
    private readonly plan: BsdPlan,
  ) {}

  get root(): string {
    return this.plan.root;
  }

  async run(spec: RunSpec): Promise<RunResult> {
    if (this.destroyed) throw new EnvironmentGoneError(this.id, 'it was destroyed');
    const command = ['/bin/sh', '-c', 'exec "$@" 2>&1', 'sh', ...this.plan.run(spec)];
    return this.runs.run(command, spec, { wrapperEnv: { PATH: '/sbin:/bin:/usr/sbin:/usr/bin' } });
  }

  hostPath(insidePath: string): string {
    return (
      mapInsidePath(insidePath, [
        [this.inside.portsTree, this.paths.portsTree],
        [this.inside.distfiles, this.paths.distfiles],
        [this.inside.packages, this.paths.packages],
      ]) ?? posix.join(this.root, posix.normalize(insidePath))
    );
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.runs.killAll();
    for (const cmd of this.plan.teardown) await exec(cmd[0]!, cmd.slice(1)).catch(() => undefined);
    await removeUnmountedTree(this.dir);
  }
}

/**
 * FreeBSD/DragonFly workers as dsynth makes them. Not exercised on Linux: here the plan is
 * unit-tested; creating one needs root on a BSD host. Nothing of a run outlives it there
 * only as far as its process group goes (BSD has no PID namespaces).
 */
export const bsdBackend: EnvironmentBackend = {
  name: 'bsd',
  async create(slot: number, paths: EnvPaths): Promise<BuildEnvironment> {
    if (!['freebsd', 'dragonfly' as NodeJS.Platform].includes(process.platform)) {
      throw new EnvironmentSetupError(slot, 'preflight', `the bsd backend runs on FreeBSD or DragonFly, not ${process.platform}`);
    }
    await mkdir(paths.distfiles, { recursive: true });
    await mkdir(paths.packages, { recursive: true });
    const { id, dir } = await createWorkerDir(paths.buildBase, slot, 'bsd');
    const plan = planBsdEnvironment(join(dir, 'root'), paths);
    for (const cmd of plan.setup) {
      try {
        await exec(cmd[0]!, cmd.slice(1));
      } catch (err) {
        for (const t of plan.teardown) await exec(t[0]!, t.slice(1)).catch(() => undefined);
        throw new EnvironmentSetupError(slot, cmd.join(' '), (err as Error).message, { cause: err });
      }
    }
    return new BsdEnvironment(id, slot, dir, paths, plan);
  },
  cleanupStale: cleanupStaleWorkers,
};
