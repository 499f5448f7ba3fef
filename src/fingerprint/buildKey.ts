import { createHash } from 'node:crypto';
import type { BuildKeyParts, Cascade, DependencyFact } from './types.js';
import { byOrigin } from './byOrigin.js';

/** JSON with object keys sorted at every level, so the key never depends on insertion order. */
export function canonicalJSON(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(obj[k])}`).join(',')}}`;
}

/** The files a port's metadata and phases read: its makefiles plus the framework's scripts. */
export function inputFiles(parts: Pick<BuildKeyParts, 'makefiles' | 'framework'>): Record<string, string> {
  return parts.framework ? { ...parts.framework, ...parts.makefiles } : parts.makefiles;
}

/**
 * Digest of a port's input files. Ports share their makefile and framework objects (the scanner
 * hands out one object per distinct set), so this is computed once per set, not once per port.
 */
const digests = new WeakMap<object, WeakMap<object, string> | string>();
export function inputFilesDigest(parts: Pick<BuildKeyParts, 'makefiles' | 'framework'>): string {
  const { makefiles, framework } = parts;
  const memo = digests.get(makefiles);
  if (framework) {
    const byFramework = memo instanceof WeakMap ? memo : new WeakMap<object, string>();
    if (!(memo instanceof WeakMap)) digests.set(makefiles, byFramework);
    let d = byFramework.get(framework);
    if (!d) byFramework.set(framework, (d = mergedDigest(makefiles, framework)));
    return d;
  }
  if (typeof memo === 'string') return memo;
  const d = digestOf(makefiles);
  if (!memo) digests.set(makefiles, d);
  return d;
}

/** Digest of one set of files (memoized per object). */
export function filesDigest(files: Record<string, string>): string {
  return inputFilesDigest({ makefiles: files });
}

function digestOf(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(files).sort()) h.update(`${k}\0${files[k]}\n`);
  return h.digest('hex');
}

/** Sorted keys of a shared file map, once per map. */
const sortedKeyLists = new WeakMap<object, string[]>();
function sortedKeys(files: Readonly<Record<string, string>>): string[] {
  let keys = sortedKeyLists.get(files);
  if (!keys) sortedKeyLists.set(files, (keys = Object.keys(files).sort()));
  return keys;
}

/**
 * digestOf(inputFiles(...)) without building the merged map: the two sorted key lists are
 * merged (a makefile wins over a framework file of the same name, as in inputFiles). A real
 * tree has thousands of distinct makefile sets, each merged with the same framework.
 */
function mergedDigest(makefiles: Readonly<Record<string, string>>, framework: Readonly<Record<string, string>>): string {
  const a = sortedKeys(makefiles);
  const b = sortedKeys(framework);
  let text = '';
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const ka = a[i];
    const kb = b[j];
    if (kb === undefined || (ka !== undefined && ka <= kb)) {
      text += `${ka}\0${makefiles[ka!]}\n`;
      i++;
      if (ka === kb) j++;
    } else {
      text += `${kb}\0${framework[kb]}\n`;
      j++;
    }
  }
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What of a dependency counts for its dependents under a cascade policy; undefined when that is
 * not known yet (the dependency rebuilds in this pass and its package decides).
 */
export function dependencyToken(fact: DependencyFact | string, cascade: Cascade): string | undefined {
  if (typeof fact === 'string') return `key:${fact}`; // recorded before portsync 0.2: a build key
  switch (cascade) {
    case 'inputs':
      return `key:${fact.key}`;
    case 'none':
      return '';
    case 'version':
      if (!fact.lib) return `version:${fact.version}`;
      if (fact.pending) return undefined;
      return `version:${fact.version}|shlibs:${(fact.shlibs ?? []).join(',')}`;
    case 'output':
      if (fact.use === 'run') return `version:${fact.version}`;
      if (fact.pending) return undefined;
      return fact.package ? `package:${fact.package}` : `key:${fact.key}`;
  }
}

/**
 * SHA-256 (hex) over the canonical JSON of the parts, with the input files as one digest and each
 * dependency as what counts of it under `cascade`. Options are a set, so their order is ignored
 * too. Throws when a dependency's token is not known yet (the planner checks that first).
 */
export function computeBuildKey(parts: BuildKeyParts, cascade: Cascade = 'output'): string {
  const dependencies = byOrigin<string>();
  if (cascade !== 'none') {
    for (const [origin, fact] of Object.entries(parts.dependencies)) {
      const token = dependencyToken(fact, cascade);
      if (token === undefined) throw new Error(`internal: the build key needs dependency ${origin}'s package, which is not built yet`);
      dependencies[origin] = token;
    }
  }
  if (parts.vars == null || parts.environment == null) {
    const hashed = {
      portCrc: parts.portCrc,
      inputs: inputFilesDigest(parts),
      vars: parts.vars,
      options: [...parts.options].sort(),
      environment: parts.environment,
      dependencies,
    };
    return createHash('sha256').update(canonicalJSON(hashed)).digest('hex');
  }
  // The same canonicalJSON, written out in its sorted key order: the vars and environment objects
  // are shared by most ports, so their text is made once per object.
  const text =
    `{"dependencies":${canonicalJSON(dependencies)},"environment":${sharedJSON(parts.environment)},"inputs":${JSON.stringify(inputFilesDigest(parts))},` +
    `"options":${canonicalJSON([...parts.options].sort())},"portCrc":${canonicalJSON(parts.portCrc)},"vars":${sharedJSON(parts.vars)}}`;
  return createHash('sha256').update(text).digest('hex');
}

/** canonicalJSON of an object many ports share and nobody changes: once per object. */
const sharedTexts = new WeakMap<object, string>();
function sharedJSON(o: object): string {
  let t = sharedTexts.get(o);
  if (t === undefined) sharedTexts.set(o, (t = canonicalJSON(o)));
  return t;
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
function diffMap(
  old: Record<string, unknown>,
  cur: Record<string, unknown>,
  same: (a: unknown, b: unknown) => boolean = (a, b) => a === b,
) {
  const changed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const k of Object.keys(cur).sort()) {
    if (!Object.hasOwn(old, k)) added.push(k);
    else if (!same(old[k], cur[k])) changed.push(k);
  }
  for (const k of Object.keys(old).sort()) if (!Object.hasOwn(cur, k)) removed.push(k);
  return { changed, added, removed };
}

function mapChanges(
  part: KeyPart,
  noun: string,
  d: ReturnType<typeof diffMap>,
  single: (item: string, verb: string) => string,
): KeyPartChange[] {
  const out: KeyPartChange[] = [];
  for (const [verb, items] of [
    ['changed', d.changed],
    ['added', d.added],
    ['removed', d.removed],
  ] as const) {
    if (items.length === 0) continue;
    const detail = items.length === 1 ? single(items[0]!, verb) : `${items.length} ${noun}s ${verb}: ${listItems(items)}`;
    out.push({ part, detail, items });
  }
  return out;
}

/** A makefile under Mk/ belongs to the framework; any other one belongs to another port (a master port). */
function isFrameworkMakefile(path: string): boolean {
  return path.startsWith('Mk/') || path.startsWith('@profile/');
}

const short = (s: string) => s.slice(0, 12);

/** One line saying how a dependency changed under `cascade`, or undefined when what counts is equal. */
function dependencyChange(
  origin: string,
  old: DependencyFact | string,
  cur: DependencyFact | string,
  cascade: Cascade,
): string | undefined {
  const a = dependencyToken(old, cascade);
  const b = dependencyToken(cur, cascade);
  // A new version is a new package (its manifest says the version): known before it is built.
  if (
    b === undefined &&
    typeof old !== 'string' &&
    typeof cur !== 'string' &&
    old.version !== cur.version &&
    (cascade === 'output' || cascade === 'version')
  ) {
    return `dependency ${origin} version changed (${old.version} -> ${cur.version})`;
  }
  // Recorded before 0.2 (a build key): the dependency changed if the package it sees was built at another key.
  if (typeof cur === 'string' || typeof old === 'string') {
    const keyOf = (f: DependencyFact | string) => (typeof f === 'string' ? f : f.key);
    return keyOf(old) === keyOf(cur) ? undefined : `dependency ${origin} key changed`;
  }
  if (a === undefined || b === undefined || a === b) return undefined;
  if (b.startsWith('package:') && a.startsWith('package:'))
    return `dependency ${origin} package changed (${short(old.package)} -> ${short(cur.package)})`;
  if (old.version !== cur.version) return `dependency ${origin} version changed (${old.version} -> ${cur.version})`;
  if (b.includes('|shlibs:'))
    return `dependency ${origin} shared libraries changed (${(old.shlibs ?? []).join(' ') || 'none'} -> ${(cur.shlibs ?? []).join(' ') || 'none'})`;
  return `dependency ${origin} key changed`;
}

/**
 * Dependencies whose part of the key cannot be known yet: they rebuild in this pass and what
 * counts of them (their package, or their shared libraries) is known once they are built.
 */
export function unknownDependencies(cur: BuildKeyParts, cascade: Cascade): string[] {
  // (A loop: asked of thousands of ports per plan; the keys are most often in order already.)
  const out: string[] = [];
  let sorted = true;
  for (const o in cur.dependencies) {
    if (dependencyToken(cur.dependencies[o]!, cascade) !== undefined) continue;
    if (out.length && out[out.length - 1]! > o) sorted = false;
    out.push(o);
  }
  return sorted ? out : out.sort();
}

/**
 * What differs between the parts a port was last built with and its current parts, grouped by
 * part and by what happened (changed / added / removed). Empty when the parts are equal.
 * Dependencies are compared by what counts under `cascade`; one whose part is not known yet
 * (see unknownDependencies) is not a change.
 */
export function diffKeyParts(old: BuildKeyParts, cur: BuildKeyParts, cascade: Cascade = 'output'): KeyPartChange[] {
  const out: KeyPartChange[] = [];
  if (old.portCrc !== cur.portCrc) {
    out.push({ part: 'port', detail: `port CRC ${old.portCrc} -> ${cur.portCrc}` });
  }
  if (inputFilesDigest(old) !== inputFilesDigest(cur)) {
    // Framework files (Mk/...) include the scripts the phases run, not only makefiles.
    const oldFiles = inputFiles(old);
    const curFiles = inputFiles(cur);
    const makefile = (p: string, v: string) => {
      const what = isFrameworkMakefile(p) ? 'framework file' : 'makefile';
      return v === 'changed' ? `${what} ${p} changed (${oldFiles[p]} -> ${curFiles[p]})` : `${what} ${p} ${v}`;
    };
    const pick = (m: Record<string, string>, framework: boolean) =>
      Object.fromEntries(Object.entries(m ?? {}).filter(([p]) => isFrameworkMakefile(p) === framework));
    out.push(...mapChanges('makefiles', 'framework file', diffMap(pick(oldFiles, true), pick(curFiles, true)), makefile));
    out.push(...mapChanges('makefiles', 'makefile', diffMap(pick(oldFiles, false), pick(curFiles, false)), makefile));
  }
  out.push(
    ...mapChanges('vars', 'variable', diffMap(old.vars ?? {}, cur.vars ?? {}), (v, verb) =>
      verb === 'changed'
        ? `variable ${v} changed (${JSON.stringify(old.vars[v])} -> ${JSON.stringify(cur.vars[v])})`
        : `variable ${v} ${verb}`,
    ),
  );
  const oldOpts = new Set(old.options ?? []);
  const curOpts = new Set(cur.options ?? []);
  const addedOpts = [...curOpts].filter((o) => !oldOpts.has(o)).sort();
  const removedOpts = [...oldOpts].filter((o) => !curOpts.has(o)).sort();
  if (addedOpts.length) out.push({ part: 'options', detail: `options added: ${listItems(addedOpts)}`, items: addedOpts });
  if (removedOpts.length) out.push({ part: 'options', detail: `options removed: ${listItems(removedOpts)}`, items: removedOpts });
  out.push(
    ...mapChanges('environment', 'environment item', diffMap(old.environment ?? {}, cur.environment ?? {}), (v, verb) =>
      verb === 'changed'
        ? `environment ${v} changed (${JSON.stringify(old.environment[v])} -> ${JSON.stringify(cur.environment[v])})`
        : `environment ${v} ${verb}`,
    ),
  );
  if (cascade !== 'none') {
    const oldDeps = old.dependencies ?? {};
    const curDeps = cur.dependencies ?? {};
    const details = new Map<string, string>();
    const d = diffMap(oldDeps, curDeps, () => true);
    for (const o of Object.keys(curDeps).sort()) {
      if (!Object.hasOwn(oldDeps, o)) continue;
      const detail = dependencyChange(o, oldDeps[o]!, curDeps[o]!, cascade);
      if (detail) {
        d.changed.push(o);
        details.set(o, detail);
      }
    }
    out.push(
      ...mapChanges('dependencies', 'dependency', d, (o, verb) => (verb === 'changed' ? details.get(o)! : `dependency ${o} ${verb}`)),
    );
  }
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
