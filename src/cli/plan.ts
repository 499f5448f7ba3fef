/** `portsync plan [--json] [ORIGIN...]`: exit 0 in sync, 1 work to do, 2 error. */
import { parseArgs } from 'node:util';
import { resolvePassSource } from '../reconcile/source.js';
import { observe } from '../reconcile/observe.js';
import { makePlan, type Plan } from '../reconcile/plan.js';
import { openHistorySource } from '../server/history-source.js';
import { UnknownOriginError } from '../reconcile/errors.js';
import type { CommandContext } from './commands.js';
import { printJson, type Io } from './io.js';

export async function runPlan(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const { state, tree } = await resolvePassSource(ctx.configFile);
  const history = await openHistorySource(state);
  let plan: Plan;
  try {
    const obs = await observe(state, { tree });
    for (const o of positionals) if (!obs.graph.nodes.has(obs.scan.resolve(o) ?? o)) throw new UnknownOriginError(o);
    plan = makePlan(obs, { known: await history.known(), only: new Set(positionals) });
  } finally {
    await history.close();
  }
  if (values.json) printJson(ctx.io, planJson(plan));
  else printPlan(ctx.io, plan);
  return plan.summary.build > 0 || plan.summary.pending > 0 || plan.summary.blocked > 0 ? 1 : 0;
}

export function planJson(plan: Plan) {
  return {
    ports: plan.ports.map((p) => ({
      origin: p.origin,
      pkgname: p.pkgname,
      action: p.action,
      reasons: p.reasons,
      version: p.version,
      pkgfile: p.pkgfile ?? null,
      ...(p.waitingOn ? { waitingOn: p.waitingOn } : {}),
      ...(p.buildKey ? { buildKey: p.buildKey } : {}),
      ...(p.crc ? { crc: p.crc } : {}),
    })),
    summary: plan.summary,
    cascade: plan.cascade,
    problems: plan.problems,
    warnings: plan.warnings,
  };
}

export function printPlan(io: Io, plan: Plan): void {
  for (const w of plan.observation.state.warnings) io.err(`warning: ${w}`);
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
