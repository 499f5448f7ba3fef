/**
 * dsynth's hooks: a program from builds.yaml's `hooks:` runs at each pass and port event, with
 * dsynth's environment, so existing dsynth and synth hook scripts work unchanged:
 *
 * - every hook: PROFILE (the builds.yaml file), DIR_PACKAGES, DIR_REPOSITORY (<packages>/All),
 *   DIR_PORTS (the tree the pass read), DIR_DISTFILES, DIR_LOGS, DIR_BUILDBASE; and portsync's
 *   PORTSYNC_HOOK, PORTSYNC_RUN_ID, PORTSYNC_TRIGGER, PORTSYNC_GIT_COMMIT, PORTSYNC_CONFIG
 * - hook_run_start: PORTS_QUEUED (ports to build or to decide after their dependencies)
 * - hook_run_end: PORTS_BUILT, PORTS_FAILED, PORTS_IGNORED, PORTS_SKIPPED (blocked: dsynth's
 *   "skipped"), and PORTSYNC_STATUS, PORTSYNC_PORTS_UP_TO_DATE, PORTSYNC_PORTS_INTERRUPTED,
 *   PORTSYNC_DURATION_MS
 * - hook_pkg_*: RESULT (success, failure, ignored, skipped), ORIGIN (without @flavor), FLAVOR
 *   (the flavor, or like dsynth the ORIGIN when there is none), PKGNAME; and PORTSYNC_ORIGIN,
 *   PORTSYNC_VERSION, PORTSYNC_PKGFILE, PORTSYNC_LOG (its build log), PORTSYNC_BUILD_ID,
 *   PORTSYNC_PHASE, PORTSYNC_REASON, PORTSYNC_ERROR
 *
 * Like dsynth, a hook gets a small environment (PATH, HOME, LANG, TZ and the above), no
 * arguments and no input. hook_run_start runs before the pass's port hooks, hook_run_end after
 * all of them; at most four hooks run at once. A hook that cannot start, exits non-zero or runs
 * longer than hooks.timeout (then its whole process group is killed) is logged; the pass never
 * waits for hooks and never fails because of one.
 *
 * In a daemon, a port that stays ignored or blocked pass after pass runs its hook once, when it
 * becomes so (a pass decides it again each time); builds run their hooks every time.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { PortOutcome } from '../builder/outcomes.js';
import type { DesiredState, HookName } from '../config/types.js';
import type { PassResult } from '../reconcile/passResult.js';
import type { PassObserver, RunInfo } from '../reconcile/observers.js';
import { inBackground, Limiter } from './background.js';
import { HookFailedError } from './errors.js';

/** Hook processes running at once, over every pass of this process. */
const limiter = new Limiter(4);
/** What the last pass of each builds.yaml said of each port, for the ignored/skipped hooks of a daemon. */
const lastStatus = new Map<string, Map<string, PortOutcome['status']>>();
/** Output kept from a hook, for the log line of a failure. */
const TAIL = 1000;

const PORT_HOOKS: Partial<Record<PortOutcome['status'], { hook: HookName; result: string }>> = {
  success: { hook: 'hook_pkg_success', result: 'success' },
  failed: { hook: 'hook_pkg_failure', result: 'failure' },
  ignored: { hook: 'hook_pkg_ignored', result: 'ignored' },
  blocked: { hook: 'hook_pkg_skipped', result: 'skipped' },
};

/** One hook run to its end; resolves when it is over, whatever happened (failures are logged). */
export function runHook(
  hook: HookName,
  program: string,
  env: Record<string, string>,
  opts: { subject: string; cwd: string; timeoutMs: number; log: (line: string) => void; signal: AbortSignal },
): Promise<void> {
  const fail = (reason: string, hint: string) =>
    opts.log(`warning: ${new HookFailedError(hook, program, opts.subject, reason, hint).message}`);
  return new Promise<void>((resolve) => {
    // Its own process group (detached): a timeout kills everything it started.
    const child = spawn(program, [], { cwd: opts.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let killedBy: 'timeout' | 'stop' | undefined;
    const kill = (why: 'timeout' | 'stop') => {
      killedBy ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    };
    const timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
    const onStop = () => kill('stop');
    opts.signal.addEventListener('abort', onStop, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onStop);
      resolve();
    };
    let startFailed = false;
    child.on('error', (err: NodeJS.ErrnoException) => {
      startFailed = true;
      const hint =
        err.code === 'ENOENT'
          ? 'the file does not exist: fix its path in builds.yaml (relative to its directory)'
          : err.code === 'EACCES'
            ? 'it is not executable: chmod +x it'
            : 'check the program';
      fail(`cannot run: ${err.message}`, hint);
      done();
    });
    child.on('close', (code, signal) => {
      if (startFailed) return; // said by 'error'
      const last = tail.trim().split('\n').slice(-3).join(' | ');
      if (killedBy === 'timeout')
        fail(
          `still running after ${opts.timeoutMs / 1000}s: killed with its process group`,
          'make it faster or raise hooks.timeout (what it leaves running must not keep its output open: cmd >/dev/null 2>&1 &)',
        );
      else if (killedBy === 'stop') fail('killed: portsync is stopping', 'hooks get a few seconds when the daemon stops');
      else if (code !== 0) fail(`${code === null ? `killed by ${signal}` : `exited ${code}`}${last ? `: ${last}` : ''}`, 'fix the hook');
      done();
    });
  });
}

/** The environment every hook of a pass gets. */
function baseEnv(run: RunInfo, hook: HookName): Record<string, string> {
  const { state } = run;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? '/',
    LANG: process.env.LANG ?? 'C',
    PROFILE: state.file,
    DIR_PACKAGES: state.paths.packages,
    DIR_REPOSITORY: join(state.paths.packages, 'All'),
    DIR_PORTS: run.tree,
    DIR_DISTFILES: state.paths.distfiles,
    DIR_LOGS: state.paths.logs,
    DIR_BUILDBASE: state.paths.buildBase,
    PORTSYNC_HOOK: hook,
    PORTSYNC_RUN_ID: run.runId,
    PORTSYNC_TRIGGER: run.trigger,
    PORTSYNC_GIT_COMMIT: run.gitCommit ?? '',
    PORTSYNC_CONFIG: state.file,
  };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

/** dsynth's per-port variables: ORIGIN without the flavor, FLAVOR the flavor or (no flavor) the ORIGIN. */
export function portEnv(port: PortOutcome, result: string, pkgfile: string | undefined): Record<string, string> {
  const at = port.origin.indexOf('@');
  const origin = at < 0 ? port.origin : port.origin.slice(0, at);
  return {
    RESULT: result,
    ORIGIN: origin,
    FLAVOR: at < 0 ? port.origin : port.origin.slice(at + 1),
    PKGNAME: port.pkgname,
    PORTSYNC_ORIGIN: port.origin,
    PORTSYNC_VERSION: port.version,
    PORTSYNC_PKGFILE: pkgfile ?? '',
    PORTSYNC_LOG: port.logPath ?? '',
    PORTSYNC_BUILD_ID: port.buildId ?? '',
    PORTSYNC_PHASE: port.lastPhase ?? '',
    PORTSYNC_REASON: port.reason,
    PORTSYNC_ERROR: port.error ?? '',
  };
}

/** The hooks of builds.yaml as an observer of one pass. */
export class HookObserver implements PassObserver {
  private started: Promise<void> = Promise.resolve();
  private readonly portHooks: Promise<void>[] = [];
  private readonly seen: Map<string, PortOutcome['status']>;
  private pkgfiles: Map<string, string | undefined> | undefined;

  constructor(
    private readonly state: DesiredState,
    private readonly log: (line: string) => void,
  ) {
    const key = state.file;
    this.seen = lastStatus.get(key) ?? new Map();
    lastStatus.set(key, this.seen);
  }

  /** Starts `hook` after `after`, in the background; the promise ends when it ran (or was not configured). */
  private launch(hook: HookName, after: Promise<unknown>, env: () => Record<string, string>, subject: string): Promise<void> {
    const program = this.state.hooks.commands[hook];
    if (!program) return Promise.resolve();
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    inBackground(async (signal) => {
      try {
        await after;
        await limiter.run(() =>
          runHook(hook, program, env(), { subject, cwd: this.state.dir, timeoutMs: this.state.hooks.timeoutMs, log: this.log, signal }),
        );
      } finally {
        finished();
      }
    });
    return done;
  }

  runStarted(run: RunInfo): void {
    const s = run.plan.summary;
    this.started = this.launch(
      'hook_run_start',
      Promise.resolve(),
      () => ({ ...baseEnv(run, 'hook_run_start'), PORTS_QUEUED: String(s.build + s.pending) }),
      `run ${run.runId}`,
    );
  }

  portFinished(run: RunInfo, port: PortOutcome): void {
    const before = this.seen.get(port.origin);
    this.seen.set(port.origin, port.status);
    const which = PORT_HOOKS[port.status];
    if (!which || !this.state.hooks.commands[which.hook]) return;
    // A port still ignored or blocked as in the previous pass of this process: nothing new to say.
    if ((port.status === 'ignored' || port.status === 'blocked') && before === port.status) return;
    this.pkgfiles ??= new Map(run.plan.ports.map((p) => [p.origin, p.pkgfile]));
    const pkgfile = this.pkgfiles.get(port.origin);
    this.portHooks.push(
      this.launch(which.hook, this.started, () => ({ ...baseEnv(run, which.hook), ...portEnv(port, which.result, pkgfile) }), port.origin),
    );
  }

  runFinished(run: RunInfo, result: PassResult): void {
    const s = result.stats;
    const env = () => ({
      ...baseEnv(run, 'hook_run_end'),
      PORTS_BUILT: String(s.success),
      PORTS_FAILED: String(s.failed),
      PORTS_IGNORED: String(s.ignored),
      PORTS_SKIPPED: String(s.blocked),
      PORTSYNC_STATUS: result.status,
      PORTSYNC_PORTS_UP_TO_DATE: String(s.skipped),
      PORTSYNC_PORTS_INTERRUPTED: String(s.interrupted),
      PORTSYNC_DURATION_MS: String(s.durationMs),
    });
    this.launch('hook_run_end', Promise.all([this.started, ...this.portHooks]), env, `run ${run.runId}`);
  }
}
