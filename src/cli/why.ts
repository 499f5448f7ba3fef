/** `portsync why ORIGIN [--json]`: which inputs changed since its last good build. Exit 0. */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BuildDB } from '../builddb/db.js';
import { loadDesiredState } from '../config/load.js';
import { PortsyncError } from '../errors.js';
import { explain, formatExplanation } from '../reconcile/explain.js';
import { knownFromRows } from '../reconcile/known.js';
import { observe } from '../reconcile/observe.js';
import { makePlan } from '../reconcile/plan.js';
import type { CommandContext } from './commands.js';
import { printJson } from './io.js';

export class UnknownOriginError extends PortsyncError {
  constructor(readonly origin: string, hint: string) {
    super(`${origin} is not in the closure of builds.yaml's ports${hint}`);
  }
}

export async function runWhy(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const origin = positionals[0];
  if (!origin || positionals.length > 1) throw new PortsyncError('usage: portsync why ORIGIN [--json]');
  const state = await loadDesiredState(ctx.configFile);
  const db = existsSync(state.paths.database) ? await BuildDB.open(state.paths.database, { readOnly: true }) : null;
  try {
    const obs = await observe(state, { extraRoots: [origin] });
    const plan = makePlan(obs, { known: knownFromRows(db ? await db.allPortState() : []) });
    const e = await explain(plan, origin, db);
    if (!e) throw new UnknownOriginError(origin, '; add it to ports: in builds.yaml, or check the spelling');
    if (values.json) printJson(ctx.io, e);
    else for (const l of formatExplanation(e)) ctx.io.out(l);
    return 0;
  } finally {
    await db?.close();
  }
}
