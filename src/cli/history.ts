/** `portsync history ORIGIN [--json]`: that port's builds, newest first. */
import { parseArgs } from 'node:util';
import { PortsyncError } from '../errors.js';
import { locate, openReadApi } from '../server/access.js';
import type { CommandContext } from './commands.js';
import { printJson } from './io.js';
import { formatTable } from './sql.js';

/** `history` needs exactly one origin. */
export class HistoryUsageError extends PortsyncError {
  constructor(detail: string) {
    super(`${detail}\nusage: portsync history ORIGIN [--json]`);
  }
}

export async function runHistory(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: ctx.argv, options: { json: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length !== 1) throw new HistoryUsageError(positionals.length ? 'give one origin' : 'no origin given');
  const origin = positionals[0]!;
  const api = await openReadApi(await locate(ctx.configFile));
  try {
    const builds = await api.history(origin);
    if (values.json) {
      printJson(ctx.io, { origin, builds });
      return 0;
    }
    if (!builds.length) {
      ctx.io.out(`${origin}: no builds recorded`);
      return 0;
    }
    const rows = builds.map((b) => [b.startedAt.replace('T', ' ').slice(0, 19), b.status, b.version ?? '', b.durationMs === null ? '' : `${(b.durationMs / 1000).toFixed(1)}s`, b.lastPhase ?? '', b.trigger ?? '', b.reason ?? b.error ?? '', b.buildId]);
    ctx.io.out(formatTable(['started (UTC)', 'status', 'version', 'took', 'last phase', 'trigger', 'why', 'build id'], rows));
    return 0;
  } finally {
    await api.close();
  }
}
