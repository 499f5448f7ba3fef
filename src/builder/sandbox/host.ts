import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EnvironmentGoneError } from './errors.js';
import { checkEnv } from './paths.js';
import { removeUnmountedTree } from './safe-remove.js';
import { RunTracker } from './supervise.js';
import { cleanupStaleWorkers, createWorkerDir } from './workers.js';
import type { BuildEnvironment, EnvPaths, EnvironmentBackend, InsidePaths, RunResult, RunSpec } from './types.js';

let contained: string[] | undefined;
/**
 * The wrapper that ties a run's processes to portsync: `setpriv --pdeathsig KILL` (dies with
 * portsync) + `unshare --pid --fork --kill-child` (pid 1 of its own namespace: when it dies, every
 * process of the run dies). Without root a user namespace makes the PID namespace possible; where
 * neither works, only the parent-death signal and the process group are left.
 */
function containment(): string[] {
  if (contained) return contained;
  const pid = ['unshare', ...(process.getuid?.() === 0 ? [] : ['--user', '--map-root-user']), '--pid', '--fork', '--kill-child', '--'];
  const works = spawnSync(pid[0]!, [...pid.slice(1), 'true'], { stdio: 'ignore' }).status === 0;
  contained = ['setpriv', '--pdeathsig', 'KILL', ...(works ? pid : [])];
  return contained;
}

/**
 * No isolation, for development without root: the command runs on the host with a clean
 * environment, and `inside` names host directories (per-worker output, construction, localbase,
 * tmp). Nothing is enforced: no read-only repository, no network isolation, no dropped privileges.
 */
class HostEnvironment implements BuildEnvironment {
  private destroyed = false;
  private readonly runs = new RunTracker();

  constructor(
    readonly id: string,
    readonly slot: number,
    readonly root: string,
    readonly inside: Readonly<InsidePaths>,
  ) {}

  async run(spec: RunSpec): Promise<RunResult> {
    if (this.destroyed) throw new EnvironmentGoneError(this.id, 'it was destroyed');
    const env = Object.fromEntries(checkEnv(spec.env).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    // sh merges stderr into stdout at the source so the log keeps the order the command wrote in.
    // In its own PID namespace (when the system allows one) that dies with portsync, nothing of a
    // build outlives it: not its children, not a daemon it detached with setsid.
    const command = [...containment(), '/bin/sh', '-c', 'exec "$@" 2>&1', 'sh', ...spec.argv];
    return this.runs.run(command, spec, { wrapperEnv: env, cwd: spec.cwd ?? this.inside.construction });
  }

  hostPath(insidePath: string): string {
    return insidePath;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.runs.killAll();
    await removeUnmountedTree(this.root);
  }
}

export const hostBackend: EnvironmentBackend = {
  name: 'host',
  async create(slot: number, paths: EnvPaths): Promise<BuildEnvironment> {
    await mkdir(paths.distfiles, { recursive: true });
    await mkdir(paths.packages, { recursive: true });
    const { id, dir } = await createWorkerDir(paths.buildBase, slot, 'host');
    const inside: InsidePaths = {
      portsTree: resolve(paths.portsTree),
      distfiles: resolve(paths.distfiles),
      packages: resolve(paths.packages),
      output: join(dir, 'output'),
      construction: join(dir, 'construction'),
      localbase: join(dir, 'localbase'),
      tmp: join(dir, 'tmp'),
    };
    for (const d of [inside.output, inside.construction, inside.localbase, inside.tmp]) await mkdir(d);
    return new HostEnvironment(id, slot, dir, Object.freeze(inside));
  },
  cleanupStale: cleanupStaleWorkers,
};
