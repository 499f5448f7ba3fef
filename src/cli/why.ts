/** `portsync why ORIGIN [--json]`: which inputs changed since its last good build. Exit 0. */
import { parseArgs } from 'node:util';
import { resolvePassSource } from '../reconcile/source.js';
import { PortsyncError } from '../errors.js';
import { UnknownOriginError } from '../reconcile/errors.js';
import { explain, formatExplanation } from '../reconcile/explain.js';
import { openHistorySource } from '../server/history-source.js';
import { observe } from '../reconcile/observe.js';
import { makePlan } from '../reconcile/plan.js';
import type { CommandContext } from './commands.js';
import { printJson } from './io.js';

export async function runWhy(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const origin = positionals[0];
  if (!origin || positionals.length > 1) throw new PortsyncError('usage: portsync why ORIGIN [--json]');
  const { state, tree } = await resolvePassSource(ctx.configFile);
  const history = await openHistorySource(state);
  try {
    const obs = await observe(state, { tree, extraRoots: [origin] });
    const known = await history.known();
    const plan = makePlan(obs, { known });
    const e = await explain(plan, origin, known, (o) => history.lastGood(o));
    if (!e) throw new UnknownOriginError(origin);
    if (e.reasons[0]?.kind === 'no-such-port') throw new UnknownOriginError(origin, `: ${e.reasons[0].detail}`);
    if (values.json) printJson(ctx.io, e);
    else for (const l of formatExplanation(e)) ctx.io.out(l);
    return 0;
  } finally {
    await history.close();
  }
}
