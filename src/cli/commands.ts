/**
 * The command table: every command, in the order `portsync --help` lists them. Commands declare
 * themselves (command.ts); this file only lists them, and hands the list to the two commands
 * that describe the others (help, completion).
 */
import type { Command } from './command.js';
import { COMMAND_MODULES, VERSION } from './command-modules.js';
import { completionCommand } from './completion.js';
import { helpCommand } from './help.js';

export { VERSION };

const described = Object.entries(COMMAND_MODULES).filter(([name]) => name !== 'help' && name !== 'completion');
const list: readonly Command[] = [
  ...(await Promise.all(described.map(([, load]) => load()))),
  helpCommand(() => list, VERSION),
  completionCommand(() => list),
];

export const commandList: readonly Command[] = list;

/** By name. */
export const commands: Readonly<Record<string, Command>> = Object.fromEntries(list.map((c) => [c.info.name, c]));
