/**
 * `portsync reconcile [--json] [--force ORIGIN]... [--dry-run] [-q|-v] [ORIGIN...]`: one pass.
 * Exit 0 all good, 1 a port failed or was blocked, 2 error; 130/143 when stopped by SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { loadDesiredState } from '../config/load.js';
import { resolvePassSource, sourceFor } from '../reconcile/source.js';
import { LineProgress, progressFor, type Progress } from '../builder/progress.js';
import { reconcilePass } from '../reconcile/pass.js';
import { acquirePassLock, type PassLock } from '../reconcile/passLock.js';
import { reconcileJson, type ReconcileJson } from '../reconcile/result-json.js';
import { PortsyncError } from '../errors.js';
import { daemonRequest } from '../client/request.js';
import type { ProgressCall } from '../server/dashboard/feed.js';
import { daemonStream } from '../client/stream.js';
import { DaemonRequestError } from '../client/errors.js';
import { defineCommand, type CommandContext } from './command.js';
import { printJson, type Io } from './io.js';
import { logTail } from '../report/logTail.js';
import { planHere, PlanRequestError, printPlanResult, showPlan } from './plan.js';

/** How much a pass prints: --quiet, the default, --verbose. */
type Level = 'quiet' | 'normal' | 'verbose';

/** `reconcile ORIGIN…` while the daemon runs: its passes cover the whole desired state. */
export class DaemonPassScopeError extends PortsyncError {
  constructor(
    readonly socket: string,
    readonly origins: readonly string[],
  ) {
    super(
      `the daemon on ${socket} reconciles every port of builds.yaml in each pass and cannot limit one to ${origins.join(' ')}: ` +
        `run portsync reconcile without ORIGIN (add --force ORIGIN to rebuild one), or stop the daemon to reconcile only these ports`,
    );
  }
}

export const reconcile = defineCommand({
  name: 'reconcile',
  summary: 'one pass: plan, build, record',
  args: [
    {
      name: 'ORIGIN',
      kind: 'origin',
      optional: true,
      repeat: true,
      description:
        "reconcile only these ports and what they need (default: every port of builds.yaml); each must be in the closure of builds.yaml's ports",
    },
  ],
  options: {
    json: {
      description:
        "print the contract's reconcile document on stdout (runId, stats, every port's status and reason); progress goes to stderr",
    },
    force: {
      value: 'ORIGIN',
      kind: 'origin',
      multiple: true,
      description:
        "rebuild ORIGIN whatever its state, also after a failure at the same inputs; every word after it (up to the next option) is forced too: --force a b c; each must be in the closure of builds.yaml's ports, and with ORIGIN... before --force it is reconciled too",
    },
    'dry-run': {
      description:
        'build nothing: print what the pass would do, as plan does, honouring ORIGIN... and --force (exit status as plan: 0 in sync, 1 work to do)',
    },
    quiet: {
      short: 'q',
      description: 'print only what went wrong (failed, blocked, interrupted ports), warnings and the closing summary line',
    },
    verbose: {
      short: 'v',
      description:
        'print every event as a timestamped line, also on a terminal, and at the end every port with why it was built or skipped',
    },
    trigger: { value: 'TEXT', description: 'the trigger the run records (default: manual)' },
  },
  description: `One pass: reads the tree, plans (as portsync plan shows), builds what drifted — dependencies first, each port in a fresh isolated worker, workers ports at once — and records every decision and build in the build database, then writes the summary lists (<paths.logs>/00_last_results.log …, summary.json).

On a terminal a live display shows each worker's port and phase; otherwise one timestamped line per event. The first 20 up-to-date ports print as <origin>@<version> (CRC match, skipped) and the rest are counted; every port is in the summary lists. A port whose rebuilt dependencies produced identical packages is skipped too (early cutoff), said as <origin>@<version> (skipped: …). The closing summary lists failed, blocked, interrupted, ignored and built ports, then one line of counts.

A port that failed is not retried at the same inputs (blocked) until they change or --force names it. While portsync watch runs, the pass is the daemon's: reconcile asks it for one and prints its result (ORIGIN... cannot be limited there). SIGINT or SIGTERM stops starting ports, kills the running builds, records them interrupted and closes the run.`,
  exits: [
    ['0', 'all good: every port built, up to date or ignored'],
    ['1', 'a port failed or was blocked'],
    [
      '2',
      'error: invalid builds.yaml, an ORIGIN or --force ORIGIN not in the closure, bad usage, a machine fault (read-only or full disk)',
    ],
    ['130/143', 'stopped by SIGINT/SIGTERM'],
  ],
  examples: [
    ['portsync reconcile', 'one pass over the whole desired state'],
    ['portsync reconcile textproc/gamma', 'textproc/gamma and what it needs, nothing else'],
    ['portsync reconcile --force devel/libalpha --dry-run', 'what forcing devel/libalpha would rebuild'],
  ],
  async run(ctx, { values, usageError }) {
    if (values.quiet && values.verbose) throw usageError('choose one of --quiet and --verbose', '--verbose');
    const level: Level = values.quiet ? 'quiet' : values.verbose ? 'verbose' : 'normal';
    const json = values.json ?? false;
    // As in 0.1 (the contract's `--force ORIGIN...`), the words after --force are all forced;
    // ORIGIN… before it limit the pass, and a forced origin is then one of the ports reconciled.
    const { forced: trailing, scope } = wordsAfterForce(ctx.argv);
    const force = [...new Set([...(values.force ?? []), ...trailing])];
    const only = scope.length ? [...new Set([...scope, ...force])] : [];
    if (values['dry-run']) return force.length ? dryRunForced(ctx, only, force, json) : showPlan(ctx, only, json);
    const state = await loadDesiredState(ctx.configFile);
    // A running daemon holds the database: the pass is its to run.
    // Its progress streams as it happens, shown as a local pass shows its own.
    let daemonProgress: Progress | undefined;
    const viaDaemon = await passFromDaemon(state.server.socket, only, force, (call) => {
      daemonProgress ??= progressAt(level, json ? ctx.io.err : ctx.io.out, !json && process.stdout.isTTY === true);
      replayProgress(daemonProgress, call);
    }).finally(() => daemonProgress?.stop());
    if (viaDaemon) {
      if (json) printJson(ctx.io, viaDaemon);
      else {
        if (level !== 'quiet') ctx.io.out(`reconciled by the running daemon (${state.server.socket})`);
        await printSummary(ctx.io, viaDaemon, level);
      }
      return viaDaemon.status === 'success' ? 0 : 1;
    }
    const stop = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stoppedBy) return;
      stoppedBy = sig;
      ctx.io.err(`portsync: ${sig}: stopping — no new ports start, running builds are killed and recorded as interrupted`);
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let lock: PassLock | undefined;
    try {
      const progress = progressAt(level, json ? ctx.io.err : ctx.io.out, !json && process.stdout.isTTY === true);
      // One pass at a time, settled before commit mode moves portsync's checkout (issue 10).
      lock = await acquirePassLock(state.paths.buildBase);
      const source = await sourceFor(state);
      const result = await reconcilePass(source.state, {
        trigger: values.trigger ?? 'manual',
        force,
        only,
        checkOrigins: true,
        progress,
        log: ctx.io.err,
        signal: stop.signal,
        tree: source.tree,
        lock,
        ...(source.gitCommit ? { gitCommit: source.gitCommit } : {}),
      });
      if (json) printJson(ctx.io, reconcileJson(result));
      else await printSummary(ctx.io, reconcileJson(result), level);
      if (stoppedBy) return stoppedBy === 'SIGINT' ? 130 : 143;
      return result.status === 'success' ? 0 : 1;
    } finally {
      lock?.release();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});

/**
 * The daemon's pass and its result, or undefined when no daemon answers. Forced origins are
 * checked against the daemon's closure first (GET /plan answers 400 for one it does not have).
 */
async function passFromDaemon(
  socket: string,
  only: readonly string[],
  force: readonly string[],
  onProgress: (call: ProgressCall) => void,
): Promise<ReconcileJson | undefined> {
  if (only.length) {
    const probe = await daemonRequest(socket, 'GET', '/status?ports=none', undefined, { connectTimeoutMs: 1000 });
    if (probe) throw new DaemonPassScopeError(socket, only);
    return undefined;
  }
  if (force.length) {
    const path = `/plan?${force.map((o) => `origin=${encodeURIComponent(o)}`).join('&')}`;
    const check = await daemonRequest(socket, 'GET', path, undefined, { connectTimeoutMs: 1000 });
    if (!check) return undefined;
    const error = (check.body as { error?: string } | null)?.error;
    if (check.status === 400 && error) throw new PlanRequestError(error);
    if (check.status !== 200) throw new DaemonRequestError(socket, path, check.status, error ?? JSON.stringify(check.body));
  }
  const r = await daemonStream(socket, '/reconcile', { force, wait: true, stream: true }, (doc) => {
    const call = (doc as { progress?: ProgressCall } | null)?.progress;
    if (call) onProgress(call);
  });
  if (!r) return undefined;
  if (r.status >= 300) throw new DaemonRequestError(socket, '/reconcile', r.status, JSON.stringify(r.body));
  const end = r.body as { result?: unknown; error?: string; status?: number } | null;
  if (end?.error !== undefined) throw new DaemonRequestError(socket, '/reconcile', end.status ?? 500, JSON.stringify({ error: end.error }));
  // A daemon that does not stream answers the document itself.
  return (end && 'result' in end ? end.result : end) as ReconcileJson;
}

const PROGRESS_METHODS: ReadonlySet<string> = new Set(['start', 'portStarted', 'phase', 'portFinished', 'line']);

/** One of the daemon's Progress calls, made on this process's progress display. */
function replayProgress(progress: Progress, call: ProgressCall): void {
  if (!PROGRESS_METHODS.has(call.method) || !Array.isArray(call.args)) return;
  (progress[call.method] as (...args: unknown[]) => void).apply(progress, call.args);
}

/** `--dry-run` with --force: the plan as the pass would make it, forced ports included. */
async function dryRunForced(ctx: CommandContext, only: readonly string[], force: readonly string[], json: boolean): Promise<number> {
  const { state, tree } = await resolvePassSource(ctx.configFile);
  return printPlanResult(ctx.io, await planHere(state, tree, only, force), json);
}

/**
 * The positional words of reconcile's arguments, split by where they stand: after `--force X`
 * (until the next option) they are forced origins too, before it they are the pass's scope.
 */
export function wordsAfterForce(argv: readonly string[]): { forced: string[]; scope: string[] } {
  const { tokens } = parseArgs({
    args: [...argv],
    options: { force: { type: 'string', multiple: true }, trigger: { type: 'string' } },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const forced: string[] = [];
  const scope: string[] = [];
  let afterForce = false;
  for (const t of tokens) {
    if (t.kind === 'option') afterForce = t.name === 'force';
    else if (t.kind === 'positional') (afterForce ? forced : scope).push(t.value);
    else afterForce = false; // `--`: what follows is the scope
  }
  return { forced, scope };
}

/** --quiet: only what went wrong, and warnings; no live display. */
class QuietProgress implements Progress {
  constructor(private readonly write: (line: string) => void) {}
  start(): void {}
  portStarted(): void {}
  phase(): void {}
  portFinished(_slot: number, origin: string, status: string, detail?: string): void {
    if (status !== 'success') this.write(`${status} ${origin}${detail ? ` (${detail})` : ''}`);
  }
  line(text: string): void {
    if (text.startsWith('warning')) this.write(text);
  }
  stop(): void {}
}

function progressAt(level: Level, write: (line: string) => void, terminal: boolean): Progress {
  if (level === 'quiet') return new QuietProgress(write);
  if (level === 'verbose') return new LineProgress(write);
  return progressFor({ isTTY: terminal } as NodeJS.WriteStream, write);
}

/** Failed builds whose log's last lines the summary shows (the others: the log's path). */
const TAILS_SHOWN = 10;
const TAIL_LINES = 8;

async function printSummary(io: Io, r: ReconcileJson, level: Level): Promise<void> {
  const groups: [string, string][] = [
    ['failed', 'Failed'],
    ['blocked', 'Blocked'],
    ['interrupted', 'Interrupted'],
  ];
  if (level !== 'quiet') groups.push(['ignored', 'Ignored'], ['success', 'Built']);
  if (level === 'verbose') groups.push(['skipped', 'Skipped']);
  let tails = 0;
  for (const [status, title] of groups) {
    const list = r.ports.filter((p) => p.status === status);
    if (!list.length) continue;
    io.out(`${title} (${list.length}):`);
    for (const p of list) {
      const why =
        status !== 'success' || level === 'verbose'
          ? `: ${p.error ?? (p.reason || (status === 'skipped' ? 'up to date (CRC match)' : ''))}`
          : '';
      io.out(`  ${p.origin}${p.pkgname ? ` ${p.pkgname}` : ''}${why}${p.log && status === 'failed' ? ` (log: ${p.log})` : ''}`);
      // The end of a failed build's log says why, most of the time: shown here, the whole log a command away.
      if (status === 'failed' && p.log && tails++ < TAILS_SHOWN)
        for (const line of (await logTail(p.log, TAIL_LINES)).split('\n')) io.out(`    | ${line}`);
    }
  }
  const repo = r.repository;
  // (What went wrong prints at every level; a snapshot published, with --verbose and in --json.)
  if (repo?.action === 'published' && level === 'verbose')
    io.out(
      `repository: published snapshot ${repo.snapshot} (${repo.packages ?? 0} packages${repo.catalog ? `, catalog: ${repo.catalog.command}` : ''})${repo.previous ? `; the previous, ${repo.previous}, stays for portsync rollback` : ''}`,
    );
  else if (repo?.action === 'not-published')
    io.out(`repository: NOT published: ${repo.error ?? 'unknown reason'}${repo.snapshot ? ` (${repo.snapshot} stays published)` : ''}`);
  const s = r.stats;
  io.out(
    `run ${r.runId}: ${s.total} ports: ${s.success} built, ${s.failed} failed, ${s.skipped} skipped, ${s.ignored} ignored, ${s.blocked} blocked${s.interrupted ? `, ${s.interrupted} interrupted` : ''} in ${(s.durationMs / 1000).toFixed(1)}s`,
  );
}
