import { createHash } from 'node:crypto';
import type { BuildKeyParts } from './types.js';

/** JSON with object keys sorted at every level, so the key never depends on insertion order. */
export function canonicalJSON(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(obj[k])}`).join(',')}}`;
}

/** SHA-256 (hex) over the canonical JSON of the parts. Options are a set, so their order is ignored too. */
export function computeBuildKey(parts: BuildKeyParts): string {
  const normalized: BuildKeyParts = { ...parts, options: [...parts.options].sort() };
  return createHash('sha256').update(canonicalJSON(normalized)).digest('hex');
}

export type KeyPart = 'port' | 'makefiles' | 'vars' | 'options' | 'environment' | 'dependencies';

export interface KeyPartChange {
  part: KeyPart;
  /** One line for people, e.g. `makefile Mk/bsd.port.mk changed`. */
  detail: string;
  /** The makefiles, variables, options, environment items or origins concerned. */
  items?: string[];
}

export type ReasonKind = 'port-changed' | 'framework-changed' | 'options-changed' | 'dependency-changed';

const SHOWN_ITEMS = 5;

function listItems(items: string[]): string {
  const shown = items.slice(0, SHOWN_ITEMS).join(', ');
  return items.length > SHOWN_ITEMS ? `${shown} and ${items.length - SHOWN_ITEMS} more` : shown;
}

/** Items of a map grouped by what happened to them between old and cur, each group sorted. */
function diffMap(old: Record<string, string>, cur: Record<string, string>) {
  const changed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const k of Object.keys(cur).sort()) {
    if (!Object.hasOwn(old, k)) added.push(k);
    else if (old[k] !== cur[k]) changed.push(k);
  }
  for (const k of Object.keys(old).sort()) if (!Object.hasOwn(cur, k)) removed.push(k);
  return { changed, added, removed };
}

function mapChanges(
  part: KeyPart,
  noun: string,
  old: Record<string, string>,
  cur: Record<string, string>,
  single: (item: string, verb: string) => string,
): KeyPartChange[] {
  const d = diffMap(old ?? {}, cur ?? {});
  const out: KeyPartChange[] = [];
  for (const [verb, items] of [['changed', d.changed], ['added', d.added], ['removed', d.removed]] as const) {
    if (items.length === 0) continue;
    const detail = items.length === 1 ? single(items[0]!, verb) : `${items.length} ${noun}s ${verb}: ${listItems(items)}`;
    out.push({ part, detail, items });
  }
  return out;
}

/** A makefile under Mk/ belongs to the framework; any other one belongs to another port (a master port). */
function isFrameworkMakefile(path: string): boolean {
  return path.startsWith('Mk/');
}

/**
 * What differs between the parts a port was last built with and its current parts, grouped by
 * part and by what happened (changed / added / removed). Empty when the parts are equal.
 */
export function diffKeyParts(old: BuildKeyParts, cur: BuildKeyParts): KeyPartChange[] {
  const out: KeyPartChange[] = [];
  if (old.portCrc !== cur.portCrc) {
    out.push({ part: 'port', detail: `port CRC ${old.portCrc} → ${cur.portCrc}` });
  }
  // Framework files (Mk/...) include the scripts the phases run, not only makefiles.
  const makefile = (p: string, v: string) => {
    const what = isFrameworkMakefile(p) ? 'framework file' : 'makefile';
    return v === 'changed' ? `${what} ${p} changed (${old.makefiles[p]} → ${cur.makefiles[p]})` : `${what} ${p} ${v}`;
  };
  const pick = (m: Record<string, string>, framework: boolean) =>
    Object.fromEntries(Object.entries(m ?? {}).filter(([p]) => isFrameworkMakefile(p) === framework));
  out.push(...mapChanges('makefiles', 'framework file', pick(old.makefiles, true), pick(cur.makefiles, true), makefile));
  out.push(...mapChanges('makefiles', 'makefile', pick(old.makefiles, false), pick(cur.makefiles, false), makefile));
  out.push(
    ...mapChanges('vars', 'variable', old.vars, cur.vars, (v, verb) =>
      verb === 'changed' ? `variable ${v} changed (${JSON.stringify(old.vars[v])} → ${JSON.stringify(cur.vars[v])})` : `variable ${v} ${verb}`,
    ),
  );
  const oldOpts = new Set(old.options ?? []);
  const curOpts = new Set(cur.options ?? []);
  const addedOpts = [...curOpts].filter((o) => !oldOpts.has(o)).sort();
  const removedOpts = [...oldOpts].filter((o) => !curOpts.has(o)).sort();
  if (addedOpts.length) out.push({ part: 'options', detail: `options added: ${listItems(addedOpts)}`, items: addedOpts });
  if (removedOpts.length) out.push({ part: 'options', detail: `options removed: ${listItems(removedOpts)}`, items: removedOpts });
  out.push(
    ...mapChanges('environment', 'environment item', old.environment, cur.environment, (v, verb) =>
      verb === 'changed'
        ? `environment ${v} changed (${JSON.stringify(old.environment[v])} → ${JSON.stringify(cur.environment[v])})`
        : `environment ${v} ${verb}`,
    ),
  );
  out.push(
    ...mapChanges('dependencies', 'dependency', old.dependencies, cur.dependencies, (o, verb) =>
      verb === 'changed' ? `dependency ${o} key changed` : `dependency ${o} ${verb}`,
    ),
  );
  return out;
}

/** The plan reason a change becomes. */
export function reasonKindOf(change: KeyPartChange): ReasonKind {
  switch (change.part) {
    case 'port':
      return 'port-changed';
    case 'makefiles':
      return (change.items ?? []).every(isFrameworkMakefile) ? 'framework-changed' : 'port-changed';
    case 'vars':
    case 'options':
      return 'options-changed';
    case 'environment':
      return 'framework-changed';
    case 'dependencies':
      return 'dependency-changed';
  }
}
