import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import type { RunResult, RunSpec } from './types.js';

export interface SuperviseOptions {
  /** Environment of the wrapper process itself (not of the command). */
  wrapperEnv: Record<string, string>;
  cwd?: string;
  /** The wrapper reports the command's real status on fd 3 as "exit N" or "signal N". */
  statusFd?: boolean;
}

/** Kills a process group; a group already gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) signalNames.set(num, name as NodeJS.Signals);

export interface Supervised {
  pid: number;
  done: Promise<RunResult>;
}

/**
 * Runs `command` as the leader of a new process group, streams its output to the log and
 * `onOutput`, and enforces the phase timeout, the no-output watchdog and the abort signal by
 * SIGKILLing the whole group.
 */
export function supervise(command: string[], spec: RunSpec, opts: SuperviseOptions): Supervised {
  const started = performance.now();
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe'];
  if (opts.statusFd) stdio.push('pipe');
  const child = spawn(command[0]!, command.slice(1), {
    detached: true,
    stdio,
    env: opts.wrapperEnv,
    cwd: opts.cwd,
  });
  const pid = child.pid ?? -1;
  let timedOut: RunResult['timedOut'];
  let aborted = false;
  let status = '';

  const kill = () => {
    if (pid > 0) killGroup(pid);
  };
  const onChunk = (chunk: Buffer) => {
    if (spec.log !== undefined) {
      if (typeof spec.log === 'number') writeSync(spec.log, chunk);
      else spec.log.write(chunk);
    }
    spec.onOutput?.(chunk);
    if (watchdog) watchdog.refresh();
  };
  child.stdout!.on('data', onChunk);
  child.stderr!.on('data', onChunk);
  if (opts.statusFd) (child.stdio[3] as Readable).on('data', (d: Buffer) => (status += d.toString()));

  const phaseTimer =
    spec.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut ??= 'phase';
          kill();
        }, spec.timeoutMs)
      : undefined;
  const watchdog =
    spec.noOutputTimeoutMs !== undefined
      ? setTimeout(() => {
          timedOut ??= 'no-output';
          kill();
        }, spec.noOutputTimeoutMs)
      : undefined;
  const onAbort = () => {
    aborted = true;
    kill();
  };
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  if (spec.signal?.aborted) onAbort();

  const done = new Promise<RunResult>((resolve, reject) => {
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(phaseTimer);
      clearTimeout(watchdog);
      clearTimeout(graceTimer);
      spec.signal?.removeEventListener('abort', onAbort);
      const e = exited ?? { code: null, signal: null };
      let result: RunResult = { exitCode: e.code, signal: e.signal, durationMs: performance.now() - started };
      const m = /^(exit|signal) (\d+)$/m.exec(status);
      if (m && e.signal === null) {
        const n = Number(m[2]);
        result = m[1] === 'exit' ? { ...result, exitCode: n } : { ...result, exitCode: null, signal: signalNames.get(n) ?? null };
      }
      if (timedOut) result.timedOut = timedOut;
      if (aborted) result.aborted = true;
      resolve(result);
    };
    let graceTimer: NodeJS.Timeout | undefined;
    child.once('error', (err) => {
      clearTimeout(phaseTimer);
      clearTimeout(watchdog);
      spec.signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      // Whatever the command left behind in its group goes with it; a straggler that
      // escaped the group and holds the pipes open must not hang the run.
      kill();
      graceTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, 2000);
    });
    child.once('close', () => {
      if (exited) finish();
    });
  });
  return { pid, done };
}

/** The runs of one environment: each supervised and remembered until it ends, so destroy() can kill and await them all. */
export class RunTracker {
  private readonly active = new Map<number, Promise<RunResult>>();

  async run(command: string[], spec: RunSpec, opts: SuperviseOptions): Promise<RunResult> {
    const { pid, done } = supervise(command, spec, opts);
    this.active.set(pid, done);
    try {
      return await done;
    } finally {
      this.active.delete(pid);
    }
  }

  async killAll(): Promise<void> {
    for (const pgid of this.active.keys()) killGroup(pgid);
    await Promise.allSettled([...this.active.values()]);
  }
}
