/**
 * `portsync [--config FILE] COMMAND ...`: the command line. Each command lives in its own
 * module and returns its exit code; typed errors print their message and exit with theirs.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileSystemFault, PortsyncError } from '../errors.js';
import { commands, usage } from './commands.js';
import { processIo } from './io.js';

export async function main(argv: string[]): Promise<number> {
  const first = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: false,
  });
  const commandIndex = argv.findIndex((a, i) => !a.startsWith('-') && argv[i - 1] !== '--config' && argv[i - 1] !== '-c');
  const name = commandIndex >= 0 ? argv[commandIndex]! : undefined;
  if (!name || first.values.help && !name) {
    processIo.err(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    processIo.err(`portsync: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const configFile = resolve(typeof first.values.config === 'string' ? first.values.config : 'builds.yaml');
  const rest = argv.filter((_, i) => i !== commandIndex);
  // Drop the global --config from what the command parses.
  const ci = rest.findIndex((a) => a === '--config' || a === '-c');
  if (ci >= 0) rest.splice(ci, 2);
  const ce = rest.findIndex((a) => a.startsWith('--config='));
  if (ce >= 0) rest.splice(ce, 1);
  try {
    return await command.run({ configFile, argv: rest, io: processIo });
  } catch (e) {
    if (e instanceof PortsyncError) {
      processIo.err(`portsync ${name}: ${e.message}`);
      return e.exitCode;
    }
    const fault = fileSystemFault(e);
    if (fault) {
      processIo.err(`portsync ${name}: ${fault}`);
      return 2;
    }
    processIo.err(`portsync ${name}: internal error: ${(e as Error)?.stack ?? e}`);
    return 2;
  }
}

const isEntry = process.argv[1] && /(?:main\.ts|portsync(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
