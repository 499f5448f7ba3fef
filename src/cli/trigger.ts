/** `portsync trigger [--reason TEXT] [--kind manual|git-push]`: asks the daemon for a pass. Exit 0 accepted, 2 no daemon. */
import { parseArgs } from 'node:util';
import { daemonRequest } from '../server/client.js';
import { locate } from '../server/access.js';
import { DaemonRequestError, NoDaemonError } from '../server/errors.js';
import type { CommandContext } from './commands.js';

export async function runTrigger(ctx: CommandContext): Promise<number> {
  const { values } = parseArgs({ args: ctx.argv, options: { reason: { type: 'string' }, kind: { type: 'string' } }, allowPositionals: false });
  const loc = await locate(ctx.configFile);
  const body = { reason: values.reason ?? 'portsync trigger', ...(values.kind ? { kind: values.kind } : {}) };
  const r = await daemonRequest(loc.socket, 'POST', '/trigger', body);
  if (!r) throw new NoDaemonError(loc.socket);
  if (r.status !== 202) throw new DaemonRequestError(loc.socket, '/trigger', r.status, (r.body as { error?: string } | null)?.error ?? String(r.body));
  ctx.io.out(`pass requested (${(r.body as { trigger?: string }).trigger ?? 'manual'}: ${body.reason})`);
  return 0;
}
