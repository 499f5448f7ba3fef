/**
 * `portsync validate [--schema-only]`: builds.yaml against its schema and rules, then (unless
 * --schema-only) against the tree: every origin, glob and flavor of `ports:` must exist there.
 * The tree is read as a pass reads it (observe: the metadata cache first, make for what changed).
 */
import { isAbsolute, relative } from 'node:path';
import { loadDesiredState } from '../config/load.js';
import { ConfigError, formatIssue, type ConfigIssue } from '../config/errors.js';
import type { DesiredState } from '../config/types.js';
import { observe } from '../reconcile/observe.js';
import { sourceFor } from '../reconcile/source.js';
import { defineCommand } from './command.js';

export interface ValidateOptions {
  /** Also check `ports:` against the tree (the command's default; --schema-only turns it off). */
  tree?: boolean;
}

/** 0 and a one-line summary when builds.yaml is valid, 2 and FILE:LINE:COL lines when not. */
export async function runValidate(
  configFile: string,
  out: (s: string) => void,
  err: (s: string) => void,
  opts: ValidateOptions = {},
): Promise<number> {
  let state: DesiredState;
  try {
    state = await loadDesiredState(configFile);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const issue of e.issues) err(formatIssue(issue));
    return e.exitCode;
  }
  for (const w of state.warnings) err(`warning: ${w}`);
  const n = state.ports.length;
  const summary = `${n} port selector${n === 1 ? '' : 's'}, tree ${displayPath(state.portsTree.path)}`;
  if (!opts.tree) {
    out(`${configFile}: valid (${summary})`);
    return 0;
  }
  const { errors, warnings, closure, commit } = await checkAgainstTree(state);
  for (const w of warnings) err(formatIssue({ ...w, message: `warning: ${w.message}` }));
  for (const e of errors) err(formatIssue(e));
  if (errors.length) return 2;
  out(
    `${configFile}: valid (${summary}${commit ? ` at commit ${commit.slice(0, 12)}` : ''}: every origin, glob and flavor found; ${closure} port${closure === 1 ? '' : 's'} in the closure)`,
  );
  return 0;
}

/** What of `ports:` the tree does not have (errors), and selected ports it cannot read (warnings). */
async function checkAgainstTree(
  disk: DesiredState,
): Promise<{ errors: ConfigIssue[]; warnings: ConfigIssue[]; closure: number; commit?: string }> {
  const source = await sourceFor(disk);
  const state = source.state;
  const obs = await observe(state, { tree: source.tree });
  const tree = displayPath(state.portsTree.path);
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const at = (sel: { line: number; col: number }, message: string): ConfigIssue => ({
    file: state.file,
    line: sel.line,
    col: sel.col,
    message,
  });
  const empty = new Set(obs.emptyGlobs);
  for (const sel of state.ports) {
    if (sel.isGlob) {
      if (empty.has(sel)) errors.push(at(sel, `"${sel.pattern}" matches no port in ${tree}`));
      continue;
    }
    if (obs.scan.resolve(sel.pattern) !== undefined) continue;
    const problem = obs.scan.problems.get(sel.pattern);
    if (!problem || problem.kind === 'no-such-port' || problem.kind === 'unknown-flavor') {
      errors.push(at(sel, problem?.message ?? `no such port: ${sel.pattern}`));
    } else warnings.push(at(sel, `${sel.pattern} cannot be read: ${problem.message}`));
  }
  const byPosition = (a: ConfigIssue, b: ConfigIssue) => a.line - b.line || a.col - b.col;
  return {
    errors: errors.sort(byPosition),
    warnings: warnings.sort(byPosition),
    closure: obs.graph.nodes.size,
    ...(source.gitCommit ? { commit: source.gitCommit } : {}),
  };
}

function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
}

export const validate = defineCommand({
  name: 'validate',
  summary: 'check builds.yaml, and that every origin, glob and flavor in it exists in the tree',
  options: { 'schema-only': { description: 'check the file alone (schema and rules), without reading the tree: the fast check' } },
  description: `Checks builds.yaml against schema/builds.schema.json and portsync's own rules (origins and globs well-formed, no duplicates, durations with a unit, sizes above zero, a usable server.listen, the tree directory exists) and reports every problem at once, in file order, as FILE:LINE:COL: message.

Then, unless --schema-only, reads the tree the way a pass does (through the metadata cache: an unchanged tree costs no make call; in commit mode, the committed builds.yaml and tree) and checks that every origin of ports: is a port of the tree, every flavor one the port has, and every glob matches at least one port. A selected port that exists but cannot be read (make fails) is a warning: plan and reconcile say what blocks it.`,
  exits: [
    ['0', 'valid (warnings, if any, on stderr)'],
    ['2', 'invalid: every problem on stderr as FILE:LINE:COL: message'],
  ],
  examples: [
    [
      'portsync validate',
      'builds.yaml: valid (6 port selectors, tree examples/ports: every origin, glob and flavor found; 16 ports in the closure)',
    ],
    ['portsync --config other.yaml validate --schema-only', 'only the file, in milliseconds (for an editor or a pre-commit hook)'],
  ],
  run: (ctx, { values }) => runValidate(ctx.configFile, ctx.io.out, ctx.io.err, { tree: !values['schema-only'] }),
});
