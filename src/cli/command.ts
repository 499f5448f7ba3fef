/**
 * What a command is, declared once: its name, summary, arguments, options, description, exit
 * statuses and run. Everything else reads the declaration, never a copy of it: parsing (node:util
 * parseArgs), usage errors, `--help`, `portsync help`, the command list and shell completion.
 * A command module imports this file and io.ts; only the table (commands.ts) imports commands.
 */
import { parseArgs } from 'node:util';
import { closestKey } from '../config/schema.js';
import { originPatternProblem } from '../config/selectors.js';
import { PortsyncError } from '../errors.js';
import { isOrigin } from '../ports/origin.js';
import type { Io } from './io.js';

export interface CommandContext {
  configFile: string;
  /** The command's own arguments (global options removed). */
  argv: string[];
  io: Io;
}

/** What a value is: how it is checked and how a shell completes it (`pattern`: an origin or a glob over origins). */
export type ValueKind = 'origin' | 'pattern' | 'count' | 'file' | 'directory' | 'command' | 'text';

export interface OptionSpec {
  /** The option takes a value, called this in usage (`--force ORIGIN`); without it, a flag. */
  value?: string;
  kind?: ValueKind;
  /** The only values accepted. */
  choices?: readonly string[];
  short?: string;
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
  required?: boolean;
  description: string;
}

export interface ArgSpec {
  /** As shown in usage: `ORIGIN`; a single choice is shown as itself (`hook install`). */
  name: string;
  kind?: ValueKind;
  choices?: readonly string[];
  optional?: boolean;
  /** Takes every remaining argument (the last one only). */
  repeat?: boolean;
  description: string;
}

type OptionValue<S extends OptionSpec> = S extends { value: string } ? (S extends { multiple: true } ? string[] : string) : boolean;
export type Values<O extends Record<string, OptionSpec>> = { [K in keyof O]?: OptionValue<O[K]> };

/** A command line parsed against a declaration. */
export interface Invocation<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  args: string[];
  /** A usage error of this command (exit 2), naming the option at fault when there is one. */
  usageError(detail: string, option?: string): UsageError;
}

/** The declaration, without its run: what help, usage and completion read. */
export interface CommandInfo {
  name: string;
  /** One line, for the command list. */
  summary: string;
  args?: readonly ArgSpec[];
  options: Readonly<Record<string, OptionSpec>>;
  /** Paragraphs (blank-line separated) for `--help`: what it does, what it prints, how it decides. */
  description: string;
  exits: readonly (readonly [code: string, meaning: string])[];
  examples?: readonly (readonly [line: string, what: string])[];
}

export interface CommandSpec<O extends Record<string, OptionSpec>> extends CommandInfo {
  options: O;
  run(ctx: CommandContext, inv: Invocation<O>): Promise<number>;
}

export interface Command {
  readonly info: CommandInfo;
  /** Parses ctx.argv (`-h`/`--help` prints the help, exit 0) and runs the command. */
  run(ctx: CommandContext): Promise<number>;
}

/** How the program is called, before a command is known. */
export const PROGRAM_USAGE = 'portsync [--config FILE] COMMAND [ARGS]';

/** The global options, taken by main wherever they stand; listed in every help. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: {
    value: 'FILE',
    kind: 'file',
    short: 'c',
    description: 'the builds.yaml to use (default: ./builds.yaml); relative paths in it resolve against its directory',
  },
  help: { short: 'h', description: 'print this help and exit' },
};

/** Options several commands share, described once. */
export const WIDE_OPTION: OptionSpec = {
  description: 'print every value whole: full timestamps and hashes, no column cut to the terminal width',
};

/** A command line that does not match the command's declaration. Exit 2. */
export class UsageError extends PortsyncError {
  constructor(
    readonly command: string,
    readonly detail: string,
    readonly option: string | undefined,
    usage: string,
  ) {
    super(`${detail}\nusage: ${usage}\n(portsync ${command === '' ? '' : `${command} `}--help says more)`);
  }
}

export function defineCommand<const O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): Command {
  const { run, ...info } = spec;
  return {
    info,
    async run(ctx) {
      if (wantsHelp(ctx.argv)) {
        ctx.io.out(commandHelp(info, ctx.io.columns));
        return 0;
      }
      // The values were checked against these very option specs: their types are the declaration's.
      return run(ctx, parseInvocation(info, ctx.argv) as unknown as Invocation<O>);
    },
  };
}

/** `-h` or `--help` anywhere before a `--`. */
function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}

/** The known name closest in spelling to `name`, or the only one it begins; undefined when none is close. */
/** A mistyped command, named with the closest one (" (did you mean plan?)"). */
export function unknownCommandError(name: string, names: readonly string[]): UsageError {
  const guess = closestName(name, names);
  return new UsageError('', `unknown command "${name}"${guess ? ` (did you mean ${guess}?)` : ''}`, undefined, PROGRAM_USAGE);
}

export function closestName(name: string, known: readonly string[]): string | undefined {
  const prefixed = known.filter((k) => k.startsWith(name));
  return closestKey(name, [...known]) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
}

const KIND_CHECKS: Partial<Record<ValueKind, (v: string) => string | undefined>> = {
  origin: (v) => (isOrigin(v) ? undefined : `"${v}" is not an origin: expected category/name or category/name@flavor`),
  pattern: (v) => originPatternProblem(v),
  count: (v) => (/^[1-9]\d*$/.test(v) ? undefined : `"${v}" is not a whole number above zero`),
};

function checkValue(v: string, spec: { kind?: ValueKind; choices?: readonly string[] }): string | undefined {
  if (spec.choices && !spec.choices.includes(v)) {
    const guess = closestName(v, spec.choices);
    return `"${v}" is not one of ${spec.choices.join(', ')}${guess ? ` (did you mean ${guess}?)` : ''}`;
  }
  return spec.kind ? KIND_CHECKS[spec.kind]?.(v) : undefined;
}

function optionFlag(name: string, o: OptionSpec): string {
  return o.short ? `-${o.short}|--${name}` : `--${name}`;
}

export function argLabel(a: ArgSpec): string {
  const name = a.choices?.length === 1 ? a.choices[0]! : a.name;
  const base = a.repeat ? `${name}...` : name;
  return a.optional ? `[${base}]` : base;
}

/** `portsync [--config FILE] reconcile [--json] [--force ORIGIN]... [ORIGIN...]` */
export function synopsis(info: CommandInfo): string {
  const parts = ['portsync', '[--config FILE]', info.name];
  for (const [name, o] of Object.entries(info.options)) {
    const flag = `${optionFlag(name, o)}${o.value ? ` ${o.value}` : ''}`;
    parts.push(o.required ? flag : `[${flag}]${o.multiple ? '...' : ''}`);
  }
  for (const a of info.args ?? []) parts.push(argLabel(a));
  return parts.join(' ');
}

/** A command line checked against a declaration, its values not yet typed by it. */
type ParsedLine = Omit<Invocation<Record<string, OptionSpec>>, 'values'> & { values: Record<string, string | boolean | string[]> };

/** Checks a command line against the declaration; the first problem is a UsageError naming the option. */
function parseInvocation(info: CommandInfo, argv: readonly string[]): ParsedLine {
  const usageError = (detail: string, option?: string) => new UsageError(info.name, detail, option, synopsis(info));
  const options = Object.fromEntries(
    Object.entries(info.options).map(([name, o]) => [
      name,
      { type: o.value ? ('string' as const) : ('boolean' as const), ...(o.short ? { short: o.short } : {}) },
    ]),
  );
  // Not strict: every problem is said here, in words naming the option, rather than as parseArgs' TypeError.
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  const values: Record<string, string | boolean | string[]> = {};
  const args: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') args.push(t.value);
    if (t.kind !== 'option') continue;
    const o = info.options[t.name];
    if (!o) {
      const guess = closestName(t.name, Object.keys(info.options));
      throw usageError(`unknown option ${t.rawName}${guess ? ` (did you mean --${guess}?)` : ''}`, t.rawName);
    }
    const flag = `--${t.name}`;
    if (!o.value) {
      if (t.inlineValue) throw usageError(`${flag} takes no value (got "${t.value}")`, flag);
      values[t.name] = true;
      continue;
    }
    // parseArgs takes the next word as the value whatever it is: an option there means the value is missing.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && t.value !== '-')) {
      throw usageError(
        `${t.rawName} needs a value (${o.value})${t.value === undefined ? '' : `, not the option ${t.value} (write ${flag}=${t.value} if that is the value)`}`,
        flag,
      );
    }
    const problem = checkValue(t.value, o);
    if (problem) throw usageError(`${flag}: ${problem}`, flag);
    if (o.multiple) ((values[t.name] ??= []) as string[]).push(t.value);
    else values[t.name] = t.value;
  }
  for (const [name, o] of Object.entries(info.options))
    if (o.required && values[name] === undefined) throw usageError(`--${name} ${o.value ?? ''} is required`.trimEnd(), `--${name}`);
  const specs = info.args ?? [];
  const rest = specs.at(-1)?.repeat ? specs.at(-1) : undefined;
  if (!rest && args.length > specs.length) {
    const extra = args.slice(specs.length);
    throw usageError(
      specs.length
        ? `too many arguments: ${extra.join(' ')} (it takes ${specs.map(argLabel).join(' ')})`
        : `it takes no arguments, got ${extra.join(' ')}`,
    );
  }
  const missing = specs.find((a, i) => !a.optional && args[i] === undefined);
  if (missing) throw usageError(`missing ${missing.choices?.length === 1 ? missing.choices[0] : missing.name}`);
  args.forEach((v, i) => {
    const spec = specs[i] ?? rest!;
    const problem = checkValue(v, spec);
    if (problem) throw usageError(`${spec.name}: ${problem}`);
  });
  return { values, args, usageError };
}

/** Words wrapped to lines of at most `width` characters, every line after the first then indented by `indent`. */
export function wrap(text: string, width: number, indent = ''): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && next.length > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i ? indent + l : l)).join('\n');
}

/** Help text width: the terminal's (or $COLUMNS), at most 100; 80 when printing to a file or pipe. */
export function helpWidth(columns: number | undefined): number {
  return Math.max(40, Math.min(columns ?? 80, 100));
}

/** Two columns: a term and its text, wrapped under the text's column. */
export function definitionList(rows: readonly (readonly [string, string])[], width: number): string[] {
  const left = Math.min(Math.max(...rows.map(([t]) => t.length)), 28);
  return rows.map(([term, text]) => {
    const pad = ' '.repeat(2 + left + 2);
    const head = term.length > left ? `  ${term}\n${pad}` : `  ${term.padEnd(left)}  `;
    return head + wrap(text, width - pad.length, pad);
  });
}

function optionRows(options: Readonly<Record<string, OptionSpec>>): [string, string][] {
  return Object.entries(options).map(([name, o]) => {
    const term = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    const extra = [o.choices ? `one of: ${o.choices.join(', ')}` : '', o.multiple ? 'may be repeated' : '', o.required ? 'required' : '']
      .filter(Boolean)
      .join('; ');
    return [term, `${o.description}${extra ? ` (${extra})` : ''}`];
  });
}

/** The whole `portsync CMD --help`: usage, description, arguments, options, exit status, examples. */
export function commandHelp(info: CommandInfo, columns: number | undefined): string {
  const width = helpWidth(columns);
  const out = [`usage: ${wrap(synopsis(info), width - 9, '         ')}`, '', wrap(`portsync ${info.name}: ${info.summary}`, width), ''];
  for (const para of info.description.split(/\n\s*\n/)) out.push(wrap(para, width), '');
  if (info.args?.length)
    out.push(
      'Arguments:',
      ...definitionList(
        info.args.map((a) => [
          argLabel(a),
          a.description + (a.choices && a.choices.length > 1 ? ` (one of: ${a.choices.join(', ')})` : ''),
        ]),
        width,
      ),
      '',
    );
  out.push('Options:', ...definitionList(optionRows({ ...info.options, help: GLOBAL_OPTIONS.help! }), width), '');
  out.push('Global options:', ...definitionList(optionRows({ config: GLOBAL_OPTIONS.config! }), width), '');
  out.push('Exit status:', ...definitionList(info.exits, width));
  if (info.examples?.length) {
    out.push('', 'Examples:');
    for (const [line, what] of info.examples) out.push(`  ${line}`, `      ${wrap(what, width - 6, '      ')}`);
  }
  return out.join('\n');
}
