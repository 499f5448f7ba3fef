/**
 * BENCHMARK ONLY: an agent started with PORTSYNC_AGENT_SIMULATE=instant builds nothing. Each
 * job still goes through everything around the build — the queue, the tree check, the dependency
 * downloads, the phase events, the upload, the coordinator's checks and records — but the build
 * itself is replaced by a tiny package written at once (one +MANIFEST naming the port). That is
 * how bench/distributed.ts measures what the coordinator, Redis and the package exchange bear
 * with many agents on one machine. Never set it on a real build host: its packages are empty.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { create as createTar } from 'tar';
import type { ExecutorTask } from '../builder/executor.js';
import type { BuildTaskResult, TaskEvent } from '../builder/task.js';
import { packageIdentity } from '../fingerprint/packageIdentity.js';

export const SIMULATE_ENV = 'PORTSYNC_AGENT_SIMULATE';

/** Is this agent a benchmark's simulated one? Any value but `instant` (or none) is a real agent. */
export function simulatedBuilds(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[SIMULATE_ENV] === 'instant';
}

/**
 * The instant "build": every phase reported (0 ms), the package written where a real build
 * leaves it (<packages>/All/<pkgfile>), success. The package depends only on the port's name and
 * version, so a second pass sees the same package (early cutoff behaves as for real builds).
 */
export function simulateBuild(task: ExecutorTask, onEvent: (e: TaskEvent) => void): BuildTaskResult {
  const t0 = performance.now();
  for (const phase of task.phases) {
    const at = new Date().toISOString();
    onEvent({ type: 'phase-start', phase, at });
    onEvent({ type: 'phase-end', phase, startedAt: at, durationMs: 0, exitCode: 0 });
  }
  mkdirSync(dirname(task.logPath), { recursive: true });
  writeFileSync(task.logPath, `simulated build of ${task.origin} (${SIMULATE_ENV}=instant): nothing was built\n`);
  if (!task.phases.includes('package')) return { status: 'success', lastPhase: task.phases.at(-1) ?? 'fetch', durationMs: 0 };
  const file = join(task.paths.packages, 'All', task.pkgfile);
  const content = join(task.paths.packages, '.simulated', task.buildId);
  mkdirSync(content, { recursive: true });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(join(content, '+MANIFEST'), `name: ${task.pkgname}\nversion: ${task.version}\norigin: ${task.origin}\n`);
  createTar({ sync: true, file, cwd: content, portable: true, gzip: true }, ['+MANIFEST']);
  rmSync(content, { recursive: true, force: true });
  return { status: 'success', lastPhase: 'package', durationMs: Math.round(performance.now() - t0), package: packageIdentity(file) };
}
