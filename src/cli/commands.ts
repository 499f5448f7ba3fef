/** The command table: name → module. */
import type { Io } from './io.js';
import { runValidate } from './validate.js';
import { runPlan } from './plan.js';
import { runReconcile } from './reconcile.js';
import { runWatch } from './watch.js';
import { runTrigger } from './trigger.js';
import { runHook } from './hook.js';
import { runStatus } from './status.js';
import { runSql } from './sql.js';
import { runHistory } from './history.js';
import { runReport } from './report.js';
import { runWhy } from './why.js';
import { runLogs } from './logs.js';
import { runFetch } from './fetch.js';
import { runCleanup } from './cleanup.js';

export interface CommandContext {
  configFile: string;
  /** The command's own arguments (global options removed). */
  argv: string[];
  io: Io;
}

export interface Command {
  summary: string;
  run(ctx: CommandContext): Promise<number>;
}

export const commands: Record<string, Command> = {
  validate: {
    summary: 'check builds.yaml (errors as FILE:LINE:COL: message)',
    run: (c) => runValidate(c.configFile, c.io.out, c.io.err),
  },
  plan: { summary: 'what a reconcile would do, and why [--json] [ORIGIN...]', run: runPlan },
  why: { summary: 'why ORIGIN would (not) rebuild: the inputs changed since its last good build [--json]', run: runWhy },
  logs: { summary: "print ORIGIN's latest build log", run: runLogs },
  fetch: { summary: 'fetch and checksum the distfiles of the closure [ORIGIN...]', run: runFetch },
  cleanup: { summary: 'remove stale worker directories safely', run: runCleanup },
  reconcile: { summary: 'one pass: plan, build, record [--json] [--force ORIGIN...] [--dry-run]', run: runReconcile },
  watch: { summary: 'the daemon: reconciles on every change, serves the API (until SIGINT/SIGTERM)', run: runWatch },
  trigger: { summary: 'ask the running daemon for a pass [--reason TEXT]', run: runTrigger },
  hook: { summary: 'hook install --repo DIR [--hook post-receive|post-commit|post-merge] [--force]', run: runHook },
  status: { summary: 'per-port state, last build, conditions [--json] [ORIGIN...]', run: runStatus },
  sql: { summary: 'read-only SQL over the build database QUERY [--json|--csv]', run: runSql },
  history: { summary: "that port's builds, newest first ORIGIN [--json]", run: runHistory },
  report: { summary: 'build analytics: slowest, failure rate, per day, per phase, runs [--json]', run: runReport },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    'usage: portsync [--config FILE] COMMAND [ARGS]',
    '',
    'commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}
