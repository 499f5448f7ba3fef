/**
 * portsync(1), the manual page, in roff (man(7) macros), made from the same declarations as
 * --help: every command's synopsis, description, arguments, options, exit statuses and examples.
 * `portsync help --man` prints it; `npm run build` writes it as dist/portsync.1.
 */
import { argLabel, GLOBAL_OPTIONS, synopsis, type Command, type OptionSpec } from './command.js';
import { PROGRAM_DESCRIPTION, PROGRAM_ENVIRONMENT, PROGRAM_EXITS, PROGRAM_FILES, PROGRAM_OUTPUT } from './program.js';

/** Text as roff reads it literally: backslashes escaped, no line taken for a request, dashes as minus signs in options, non-ASCII as escapes. */
export function roffText(text: string): string {
  return (
    text
      .replace(/\\/g, '\\e')
      .replace(/(^|\s)-(?=-?[a-zA-Z])/g, '$1\\-')
      .replace(/(\\-)-/g, '$1\\-')
      // Non-ASCII as groff's Unicode escapes (—, …, →): read the same whatever input encoding the formatter assumes.
      .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
      .split('\n')
      .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
      .join('\n')
  );
}

const bold = (t: string) => `\\fB${roffText(t)}\\fR`;

function optionTerm(name: string, o: OptionSpec): string {
  return `${o.short ? `${bold(`-${o.short}`)}, ` : ''}${bold(`--${name}`)}${o.value ? ` \\fI${roffText(o.value)}\\fR` : ''}`;
}

function optionText(o: OptionSpec): string {
  const extra = [o.choices ? `one of: ${o.choices.join(', ')}` : '', o.multiple ? 'may be repeated' : '', o.required ? 'required' : '']
    .filter(Boolean)
    .join('; ');
  return roffText(`${o.description}${extra ? ` (${extra})` : ''}`);
}

/** `.TP` items: a term, then its text indented under it. */
function items(rows: readonly (readonly [term: string, text: string])[]): string[] {
  return rows.flatMap(([term, text]) => ['.TP', term, text]);
}

function paragraphs(text: string): string[] {
  return text.split(/\n\s*\n/).flatMap((p) => ['.PP', roffText(p.replace(/\s*\n\s*/g, ' ').trim())]);
}

function commandSection(c: Command): string[] {
  const info = c.info;
  const out = [
    '.SS ' + roffText(info.name),
    `${bold(synopsis(info))}`,
    '.PP',
    roffText(info.summary.replace(/^./, (ch) => ch.toUpperCase())) + '.',
    ...paragraphs(info.description),
  ];
  if (info.args?.length)
    out.push(
      '.PP',
      '\\fIArguments:\\fR',
      '.RS',
      ...items(
        info.args.map((a) => [
          bold(argLabel(a)),
          roffText(a.description + (a.choices && a.choices.length > 1 ? ` (one of: ${a.choices.join(', ')})` : '')),
        ]),
      ),
      '.RE',
    );
  const options = Object.entries(info.options);
  if (options.length)
    out.push('.PP', '\\fIOptions:\\fR', '.RS', ...items(options.map(([name, o]) => [optionTerm(name, o), optionText(o)])), '.RE');
  out.push('.PP', '\\fIExit status:\\fR', '.RS', ...items(info.exits.map(([code, meaning]) => [bold(code), roffText(meaning)])), '.RE');
  if (info.examples?.length) {
    out.push('.PP', '\\fIExamples:\\fR', '.RS');
    for (const [line, what] of info.examples) out.push('.TP', `\\f(CW${roffText(line)}\\fR`, roffText(what));
    out.push('.RE');
  }
  return out;
}

export function manPage(list: readonly Command[], version: string, date = new Date()): string {
  const month = date.toISOString().slice(0, 10);
  return [
    `.\\" portsync(1), generated from the command declarations (src/cli/man.ts); do not edit.`,
    `.TH PORTSYNC 1 "${month}" "portsync ${roffText(version)}" "User Commands"`,
    '.SH NAME',
    'portsync \\- a build controller for BSD-style ports trees, GitOps style',
    '.SH SYNOPSIS',
    `${bold('portsync')} [${bold('--config')} \\fIFILE\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]`,
    '.br',
    `${bold('portsync help')} [\\fICOMMAND\\fR] | ${bold('--man')}`,
    '.br',
    `${bold('portsync --version')}`,
    '.SH DESCRIPTION',
    roffText(PROGRAM_DESCRIPTION),
    '.PP',
    'Commands:',
    '.RS',
    ...items(list.map((c) => [bold(c.info.name), roffText(c.info.summary)])),
    '.RE',
    '.SH GLOBAL OPTIONS',
    'Before or after the command:',
    ...items([
      [optionTerm('config', GLOBAL_OPTIONS.config!), optionText(GLOBAL_OPTIONS.config!)],
      [
        `${bold('-h')}, ${bold('--help')}`,
        roffText("print the program's help, or with a command, that command's (as portsync help COMMAND)"),
      ],
      [bold('--version'), 'print the version of portsync'],
    ]),
    '.SH COMMANDS',
    ...list.flatMap(commandSection),
    '.SH OUTPUT',
    roffText(PROGRAM_OUTPUT),
    '.SH EXIT STATUS',
    ...items(PROGRAM_EXITS.map(([code, meaning]) => [bold(code), roffText(meaning)])),
    '.PP',
    'Ports whose Makefile sets IGNORE never make the exit status non\\-zero.',
    '.SH ENVIRONMENT',
    ...items(PROGRAM_ENVIRONMENT.map(([name, what]) => [bold(name), roffText(what)])),
    '.SH FILES',
    ...items(PROGRAM_FILES.map(([name, what]) => [`\\fI${roffText(name)}\\fR`, roffText(what)])),
    '.SH SEE ALSO',
    roffText(
      'README.md (the dashboard served by portsync watch, builds.yaml, what decides a rebuild), schema/builds.schema.json, bmake(1).',
    ),
    '',
  ].join('\n');
}
