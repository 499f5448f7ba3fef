/** `portsync logs ORIGIN`: prints the port's latest build log. Exit 0, 2 when there is none. */
import { createReadStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { loadDesiredState } from '../config/load.js';
import { PortsyncError } from '../errors.js';
import { logPath } from '../builder/log.js';
import { defineCommand } from './command.js';

export class NoLogError extends PortsyncError {
  constructor(readonly origin: string, readonly path: string) {
    super(`no build log for ${origin} (looked for ${path}); it has not been built yet`);
  }
}

export const logs = defineCommand({
  name: 'logs',
  summary: "print ORIGIN's latest build log",
  args: [{ name: 'ORIGIN', kind: 'origin', description: 'the port: category/name or category/name@flavor' }],
  options: {},
  description: `Prints the log of the port's latest build, <paths.logs>/<category>___<name>[@flavor].log: every phase's output, what the build environment got (limits, tmpfs sizes) and how it ended. Each build of the port writes it anew; portsync history lists the earlier builds and why they ended. Fetch-only runs (portsync fetch) write <category>___<name>.fetch.log next to it.`,
  exits: [['0', 'printed'], ['2', 'no log: the port has not been built yet']],
  async run(ctx, { args }) {
    const origin = args[0]!;
    const state = await loadDesiredState(ctx.configFile);
    const path = logPath(state.paths.logs, origin);
    if (!existsSync(path)) throw new NoLogError(origin, path);
    await pipeline(createReadStream(path), process.stdout, { end: false });
    return 0;
  },
});
