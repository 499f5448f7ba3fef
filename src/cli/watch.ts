/** `portsync watch`: the daemon, until SIGINT/SIGTERM; then it stops cleanly and exits 0. */
import { parseArgs } from 'node:util';
import { loadDesiredState } from '../config/load.js';
import { startDaemon } from '../server/daemon.js';
import type { CommandContext } from './commands.js';

export async function runWatch(ctx: CommandContext): Promise<number> {
  parseArgs({ args: ctx.argv, options: {}, allowPositionals: false });
  // At startup there is no last good state to fall back on: an invalid builds.yaml is an error.
  const state = await loadDesiredState(ctx.configFile);
  const log = (line: string) => ctx.io.out(line.startsWith('[') ? line : `[${new Date().toISOString().slice(11, 23)}] ${line}`);
  let stopSignal: (sig: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopSignal = resolve));
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return log(`${sig}: already stopping`);
    stopping = true;
    stopSignal(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const daemon = await startDaemon({ configFile: ctx.configFile, state, log });
    log(`portsync daemon pid ${process.pid} for ${ctx.configFile}`);
    const sig = await stopped;
    log(`${sig}: stopping — no new passes; a running pass is interrupted and recorded`);
    await daemon.stop();
    log('stopped');
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
