/** `portsync trigger [--reason TEXT] [--kind manual|git-push]`: asks the daemon for a pass. Exit 0 accepted, 2 no daemon. */
import { daemonRequest } from '../client/request.js';
import { locate } from '../client/locate.js';
import { DaemonRequestError, NoDaemonError } from '../client/errors.js';
import { defineCommand } from './command.js';

export const trigger = defineCommand({
  name: 'trigger',
  summary: 'ask the running daemon for a pass (for git hooks)',
  options: {
    reason: { value: 'TEXT', description: 'why, as the daemon logs it (default "portsync trigger")' },
    kind: {
      value: 'KIND',
      choices: ['manual', 'git-push'],
      description: 'the trigger the run records (default: git-push when the reason starts with "git", else manual)',
    },
  },
  description: `Asks the daemon (portsync watch) for a reconcile pass and returns at once: the pass runs in the daemon. Requests that arrive while a pass runs make exactly one more pass. This is what the hook installed by portsync hook install runs.`,
  exits: [
    ['0', 'the daemon accepted the request'],
    ['2', 'no daemon answers on server.socket, or it refused'],
  ],
  examples: [['portsync trigger --reason "new distfiles mirrored"', 'one more pass, with that reason in the log']],
  async run(ctx, { values }) {
    const loc = await locate(ctx.configFile);
    const body = { reason: values.reason ?? 'portsync trigger', ...(values.kind ? { kind: values.kind } : {}) };
    const r = await daemonRequest(loc.socket, 'POST', '/trigger', body);
    if (!r) throw new NoDaemonError(loc.socket);
    if (r.status !== 202)
      throw new DaemonRequestError(loc.socket, '/trigger', r.status, (r.body as { error?: string } | null)?.error ?? String(r.body));
    ctx.io.out(`pass requested (${(r.body as { trigger?: string }).trigger ?? 'manual'}: ${body.reason})`);
    return 0;
  },
});
