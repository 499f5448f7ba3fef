/**
 * `portsync help [COMMAND]` and `portsync --help`: the program's help (every command, the global
 * options, exit statuses, environment, files) and each command's, all read from the declarations.
 * The table is handed in (commands.ts makes these), so no command module imports the table.
 */
import { commandHelp, defineCommand, definitionList, GLOBAL_OPTIONS, helpWidth, PROGRAM_USAGE, unknownCommandError, wrap, type Command } from './command.js';

export type CommandList = () => readonly Command[];

/** The command list, or a UsageError naming a mistyped command with the closest one. */
export function findCommand(list: readonly Command[], name: string): Command {
  const found = list.find((c) => c.info.name === name);
  if (found) return found;
  throw unknownCommandError(name, list.map((c) => c.info.name));
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
    para(
      "builds.yaml says which ports must be built and how; portsync reads the tree with make, computes a content-based build key for every port, compares it with its build database (DuckDB) and rebuilds exactly what drifted, dependencies first, each port in a fresh isolated worker, recording every decision and build.",
    ),
    '',
    'Commands:',
    ...definitionList(list.map((c) => [c.info.name, c.info.summary]), width),
    '',
    'Global options (before or after the command):',
    ...definitionList(
      [
        ['-c, --config FILE', GLOBAL_OPTIONS.config!.description],
        ['-h, --help', 'print this help, or with a command, that command\'s (as portsync help COMMAND)'],
        ['    --version', 'print the version of portsync'],
      ],
      width,
    ),
    '',
    'Exit status:',
    ...definitionList(
      [
        ['0', 'success (plan: in sync)'],
        ['1', 'plan: work to do; reconcile and fetch: a port failed or was blocked'],
        ['2', 'error: bad usage, invalid builds.yaml, no daemon (trigger), a SQL error, a machine fault'],
        ['130/143', 'reconcile stopped by SIGINT/SIGTERM'],
      ],
      width,
    ),
    '',
    para('Ports whose Makefile sets IGNORE never make the exit status non-zero.'),
    '',
    'Output:',
    para(
      'Tables fit the terminal: ISO timestamps print as YYYY-MM-DD HH:MM:SS (UTC), commit hashes as 12 characters, and the widest column is cut with "…" until the table fits; --wide prints everything whole. --json prints the documents the contract fixes (schema/ and README), unchanged by the terminal. Errors go to stderr as "portsync COMMAND: message".',
    ),
    '',
    'Environment:',
    ...definitionList(
      [
        ['COLUMNS', 'the width tables fit in (default: the terminal\'s; no limit when stdout is not a terminal)'],
        ['PORTSYNC_FROM_SOURCE=1', 'run the TypeScript sources through tsx instead of the compiled dist/'],
        ['PORTSYNC_MAX_WATCHES=N', 'watch: at most N inotify watches (then polling)'],
        ['PORTSYNC_WEBHOOK_SECRET', 'watch: the webhook secret, under the name server.webhookSecretEnv gives'],
      ],
      width,
    ),
    '',
    'Files:',
    ...definitionList(
      [
        ['./builds.yaml', 'the desired state (schema/builds.schema.json); portsync validate checks it'],
        ['.portsync/', 'next to builds.yaml unless paths.* say otherwise: build/ (workers, metadata cache), packages/All/, distfiles/, logs/, builddb.duckdb, portsync.sock'],
      ],
      width,
    ),
    '',
    para('Every command takes -h/--help. Shell completion: portsync completion bash|zsh. More in README.md.'),
  ].join('\n');
}

/** `help` as a command of the table it describes. */
export function helpCommand(list: CommandList, version: string): Command {
  return defineCommand({
    name: 'help',
    summary: "print the program's help, or a command's",
    args: [{ name: 'COMMAND', kind: 'command', optional: true, description: 'the command to describe (default: the whole program)' }],
    options: {},
    description: 'The same text as portsync --help, or as portsync COMMAND --help: usage, what it does, arguments, options, exit status and examples.',
    exits: [['0', 'printed'], ['2', 'no such command']],
    async run(ctx, { args }) {
      const name = args[0];
      ctx.io.out(name ? commandHelp(findCommand(list(), name).info, ctx.io.columns) : programHelp(list(), version, ctx.io.columns));
      return 0;
    },
  });
}
