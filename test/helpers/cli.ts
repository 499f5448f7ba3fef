/** One command run in this process, as main would run it: its output, and its exit status (a PortsyncError's own). */
import type { Command } from '../../src/cli/command.js';
import { COMMAND_MODULES } from '../../src/cli/command-modules.js';
import { PortsyncError } from '../../src/errors.js';

/** `pieces`: how many separate writes to stdout the command made (streamed output makes many). */
export async function runCommand(
  command: Command,
  configFile: string,
  argv: string[],
): Promise<{ code: number; out: string; err: string; pieces: number }> {
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await command.run({ configFile, argv, io: { out: (l) => out.push(l), err: (l) => err.push(l) } });
    return { code, out: out.join('\n'), err: err.join('\n'), pieces: out.length };
  } catch (e) {
    if (!(e instanceof PortsyncError)) throw e;
    return { code: e.exitCode, out: out.join('\n'), err: [...err, e.message].join('\n'), pieces: out.length };
  }
}

/** Runs the command by name, loading only its own module. */
export async function runNamed(name: string, configFile: string, argv: string[]): ReturnType<typeof runCommand> {
  return runCommand(await COMMAND_MODULES[name]!(), configFile, argv);
}
