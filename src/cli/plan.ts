/** `portsync plan [--json] [ORIGIN...]`: exit 0 in sync, 1 work to do, 2 error. */
import { parseArgs } from 'node:util';
import { resolvePassSource } from '../reconcile/source.js';
import { observe } from '../reconcile/observe.js';
import { makePlan } from '../reconcile/plan.js';
import { planJson, type PlanJson } from '../reconcile/result-json.js';
import type { DesiredState } from '../config/types.js';
import { daemonRequest } from '../server/client.js';
import { DaemonRequestError } from '../server/errors.js';
import { PortsyncError } from '../errors.js';
import { openHistorySource } from '../server/history-source.js';
import { UnknownOriginError } from '../reconcile/errors.js';
import type { CommandContext } from './commands.js';
import { printJson, type Io } from './io.js';

export async function runPlan(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const { state, tree } = await resolvePassSource(ctx.configFile);
  // A running daemon has the tree and the database in memory: it answers in a fraction of the time.
  const plan = (await planFromDaemon(state.server.socket, positionals)) ?? (await planHere(state, tree, positionals));
  if (values.json) printJson(ctx.io, plan);
  else printPlan(ctx.io, plan);
  return plan.summary.build > 0 || plan.summary.pending > 0 || plan.summary.blocked > 0 ? 1 : 0;
}

async function planHere(state: DesiredState, tree: string, only: readonly string[]): Promise<PlanJson> {
  const history = await openHistorySource(state);
  try {
    const obs = await observe(state, { tree });
    for (const o of only) if (!obs.graph.nodes.has(obs.scan.resolve(o) ?? o)) throw new UnknownOriginError(o);
    return planJson(makePlan(obs, { known: await history.known(), only: new Set(only) }));
  } finally {
    await history.close();
  }
}

/** The daemon's plan (GET /plan), or undefined when no daemon answers on the socket. */
async function planFromDaemon(socket: string, only: readonly string[]): Promise<PlanJson | undefined> {
  const path = `/plan${only.length ? `?${only.map((o) => `origin=${encodeURIComponent(o)}`).join('&')}` : ''}`;
  const r = await daemonRequest(socket, 'GET', path, undefined, { connectTimeoutMs: 1000 });
  if (!r) return undefined;
  const error = (r.body as { error?: string } | null)?.error;
  if (r.status === 400 && error) throw new PlanRequestError(error);
  if (r.status !== 200) throw new DaemonRequestError(socket, path, r.status, error ?? JSON.stringify(r.body));
  return r.body as PlanJson;
}

export function printPlan(io: Io, plan: PlanJson): void {
  for (const w of plan.configWarnings) io.err(`warning: ${w}`);
  for (const w of plan.warnings) io.err(`warning: ${w.origin}: make printed on stderr: ${w.lines.join(' | ')}`);
  for (const p of plan.problems) io.err(`error: ${p}`);
  for (const p of plan.ports) {
    const name = p.pkgname || p.origin;
    const why = p.reasons.map((r) => r.detail).join('; ');
    io.out(`${p.action.padEnd(7)} ${p.origin}${p.pkgname ? ` (${name})` : ''}${why ? ` — ${why}` : ''}`);
  }
  const s = plan.summary;
  io.out(`plan: ${s.total} ports: ${s.build} to build, ${s.pending} pending (rebuilt only if a dependency's result changes), ${s.skip} up to date, ${s.ignored} ignored, ${s.blocked} blocked`);
}

/** The daemon refused the plan request (an origin not in the desired state, an invalid builds.yaml). */
export class PlanRequestError extends PortsyncError {}
