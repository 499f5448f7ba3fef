/** `portsync logs ORIGIN`: prints the port's latest build log. Exit 0, 2 when there is none. */
import { createReadStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { loadDesiredState } from '../config/load.js';
import { PortsyncError } from '../errors.js';
import { logPath } from '../build/log.js';
import { parseOrigin } from '../ports/origin.js';
import type { CommandContext } from './commands.js';

export class NoLogError extends PortsyncError {
  constructor(readonly origin: string, readonly path: string) {
    super(`no build log for ${origin} (looked for ${path}); it has not been built yet`);
  }
}

export async function runLogs(ctx: CommandContext): Promise<number> {
  const origin = ctx.argv[0];
  if (!origin || ctx.argv.length > 1) throw new PortsyncError('usage: portsync logs ORIGIN');
  parseOrigin(origin, 'the command line');
  const state = await loadDesiredState(ctx.configFile);
  const path = logPath(state.paths.logs, origin);
  if (!existsSync(path)) throw new NoLogError(origin, path);
  await pipeline(createReadStream(path), process.stdout, { end: false });
  return 0;
}
