/**
 * `portsync help [COMMAND]` and `portsync --help`: the program's help (every command, the global
 * options, exit statuses, environment, files) and each command's, all read from the declarations.
 * The table is handed in (commands.ts makes these), so no command module imports the table.
 */
import { manPage } from './man.js';
import { PROGRAM_DESCRIPTION, PROGRAM_ENVIRONMENT, PROGRAM_EXITS, PROGRAM_FILES, PROGRAM_OUTPUT } from './program.js';
import {
  commandHelp,
  defineCommand,
  definitionList,
  GLOBAL_OPTIONS,
  helpWidth,
  PROGRAM_USAGE,
  unknownCommandError,
  wrap,
  type Command,
} from './command.js';

export type CommandList = () => readonly Command[];

/** The command list, or a UsageError naming a mistyped command with the closest one. */
export function findCommand(list: readonly Command[], name: string): Command {
  const found = list.find((c) => c.info.name === name);
  if (found) return found;
  throw unknownCommandError(
    name,
    list.map((c) => c.info.name),
  );
}

export function programHelp(list: readonly Command[], version: string, columns: number | undefined): string {
  const width = helpWidth(columns);
  const para = (text: string) => wrap(text, width);
  return [
    `portsync ${version}: a build controller for BSD-style ports trees, GitOps style`,
    '',
    `usage: ${PROGRAM_USAGE}`,
    '       portsync help [COMMAND]',
    '       portsync --version',
    '',
    para(PROGRAM_DESCRIPTION),
    '',
    'Commands:',
    ...definitionList(
      list.map((c) => [c.info.name, c.info.summary]),
      width,
    ),
    '',
    'Global options (before or after the command):',
    ...definitionList(
      [
        ['-c, --config FILE', GLOBAL_OPTIONS.config!.description],
        ['-h, --help', "print this help, or with a command, that command's (as portsync help COMMAND)"],
        ['    --version', 'print the version of portsync'],
      ],
      width,
    ),
    '',
    'Exit status:',
    ...definitionList(PROGRAM_EXITS, width),
    '',
    para('Ports whose Makefile sets IGNORE never make the exit status non-zero.'),
    '',
    'Output:',
    para(PROGRAM_OUTPUT),
    '',
    'Environment:',
    ...definitionList(PROGRAM_ENVIRONMENT, width),
    '',
    'Files:',
    ...definitionList(PROGRAM_FILES, width),
    '',
    para(
      'Every command takes -h/--help. Shell completion: portsync completion bash|zsh. The manual page: portsync help --man (dist/portsync.1). More in README.md.',
    ),
  ].join('\n');
}

/** `help` as a command of the table it describes. */
export function helpCommand(list: CommandList, version: string): Command {
  return defineCommand({
    name: 'help',
    summary: "print the program's help, or a command's",
    args: [{ name: 'COMMAND', kind: 'command', optional: true, description: 'the command to describe (default: the whole program)' }],
    options: {
      man: { description: 'print the whole manual page instead (roff, every command): portsync help --man > portsync.1; man ./portsync.1' },
    },
    description:
      'The same text as portsync --help, or as portsync COMMAND --help: usage, what it does, arguments, options, exit status and examples. With --man, the manual page made of all of them (npm run build writes it as dist/portsync.1).',
    exits: [
      ['0', 'printed'],
      ['2', 'no such command'],
    ],
    examples: [
      ['portsync help reconcile', "reconcile's usage, options and exit statuses"],
      ['portsync help --man | man -l -', 'read the manual page'],
    ],
    async run(ctx, { args, values, usageError }) {
      const name = args[0];
      if (values.man) {
        if (name) throw usageError('--man prints the whole manual page: give no COMMAND', '--man');
        ctx.io.out(manPage(list(), version));
        return 0;
      }
      ctx.io.out(name ? commandHelp(findCommand(list(), name).info, ctx.io.columns) : programHelp(list(), version, ctx.io.columns));
      return 0;
    },
  });
}
