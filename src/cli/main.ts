/**
 * `portsync [--config FILE] COMMAND ...`: the command line. The global options are taken here
 * (--config anywhere before a `--`; --help and --version before the command); the command
 * parses the rest against its declaration and returns its exit code. Typed errors print their
 * message as `portsync COMMAND: message` and exit with their code; nothing prints a stack trace
 * but a bug.
 */
import { resolve } from 'node:path';
import { fileSystemFault, PortsyncError } from '../errors.js';
import { closestName, PROGRAM_USAGE, unknownCommandError, UsageError } from './command.js';
import { COMMAND_MODULES, VERSION } from './command-modules.js';
import { processIo, type Io } from './io.js';

interface CommandLine {
  config: string;
  help: boolean;
  version: boolean;
  command?: string;
  /** The command's own arguments, --config taken out. */
  rest: string[];
}

function globalUsageError(detail: string): UsageError {
  return new UsageError('', detail, undefined, PROGRAM_USAGE);
}

/** Splits the global options from the command and its arguments. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const line: CommandLine = { config: 'builds.yaml', help: false, version: false, rest: [] };
  let terminated = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!terminated && (a === '--config' || a === '-c')) {
      const value = argv[i + 1];
      if (value === undefined || (value.startsWith('-') && value !== '-')) throw globalUsageError(`${a} needs a value (FILE)`);
      line.config = value;
      i++;
    } else if (!terminated && a.startsWith('--config=')) line.config = a.slice('--config='.length);
    else if (!terminated && /^-c./.test(a)) line.config = a.slice(2);
    else if (line.command !== undefined) {
      if (a === '--') terminated = true;
      line.rest.push(a);
    } else if (a === '--help' || a === '-h') line.help = true;
    else if (a === '--version') line.version = true;
    else if (a.startsWith('-')) {
      const name = a.replace(/^-+/, '').split('=')[0]!;
      const guess = closestName(name, ['config', 'help', 'version']);
      throw globalUsageError(
        `unknown option ${a} before the command${guess ? ` (did you mean --${guess}?)` : ''}; a command's own options come after it`,
      );
    } else line.command = a;
  }
  return line;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let name = '';
  try {
    const line = parseCommandLine(argv);
    if (line.version) {
      io.out(VERSION);
      return 0;
    }
    const names = Object.keys(COMMAND_MODULES);
    if (line.command === undefined) {
      if (line.help) {
        const [{ commandList }, { programHelp }] = await Promise.all([import('./commands.js'), import('./help.js')]);
        io.out(programHelp(commandList, VERSION, io.columns));
        return 0;
      }
      throw globalUsageError(`no command given; the commands are ${names.join(', ')}`);
    }
    const load = Object.hasOwn(COMMAND_MODULES, line.command) ? COMMAND_MODULES[line.command] : undefined;
    if (!load) throw unknownCommandError(line.command, names);
    const command = await load();
    name = command.info.name;
    return await command.run({ configFile: resolve(line.config), argv: line.help ? ['--help', ...line.rest] : line.rest, io });
  } catch (e) {
    const who = name ? `portsync ${name}` : 'portsync';
    if (e instanceof PortsyncError) {
      io.err(`${who}: ${e.message}`);
      return e.exitCode;
    }
    const fault = fileSystemFault(e);
    if (fault) {
      io.err(`${who}: ${fault}`);
      return 2;
    }
    io.err(`${who}: internal error: ${(e as Error)?.stack ?? e}`);
    return 2;
  }
}

const isEntry = process.argv[1] && /(?:main\.ts|portsync(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
