import { isAbsolute, relative } from 'node:path';
import { loadDesiredState } from '../config/load.js';
import { ConfigError, formatIssue } from '../config/errors.js';

/** `portsync validate`: 0 and a one-line summary when builds.yaml is valid, 2 and FILE:LINE:COL lines when not. */
export async function runValidate(configFile: string, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  try {
    const state = await loadDesiredState(configFile);
    const n = state.ports.length;
    out(`${configFile}: valid (${n} port selector${n === 1 ? '' : 's'}, tree ${displayPath(state.portsTree.path)})`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const issue of e.issues) err(formatIssue(issue));
    return e.exitCode;
  }
}

function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
}
