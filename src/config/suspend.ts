/**
 * `suspend: true` set or removed on a port of builds.yaml's `ports:` by `portsync suspend` and
 * `resume`. The yaml package's Document API finds the entry and where its text is; the edit is
 * made to that text alone, so the user's comments, order, alignment and quoting stay byte for
 * byte (re-serializing the document would reflow them).
 *
 *  - suspend: an origin written as a plain string becomes `{ origin: X, suspend: true }`; a
 *    mapping gets `suspend: true`; a port that no entry names exactly (chosen by a glob, or a
 *    dependency) gets an entry of its own at the end of the list.
 *  - resume: `suspend` is removed from the entry; one left with its origin alone becomes the
 *    plain string again.
 */
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { PortsyncError } from '../errors.js';

/** builds.yaml cannot be edited: not YAML, or no `ports:` list. */
export class ConfigEditError extends PortsyncError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`cannot edit ${file}: ${detail}`);
  }
}

export type SuspendChange = 'changed' | 'added' | 'unchanged';

/** Finds the entry of `ports:` whose origin is the port (`sameOrigin` compares an entry's pattern with it). */
function findEntry(seq: YAMLSeq, sameOrigin: (pattern: string) => boolean): { index: number; origin: string; map?: YAMLMap } | undefined {
  for (let i = 0; i < seq.items.length; i++) {
    const item = seq.items[i];
    if (isScalar(item) && typeof item.value === 'string' && sameOrigin(item.value)) return { index: i, origin: item.value };
    if (isMap(item)) {
      const o = item.get('origin');
      if (typeof o === 'string' && sameOrigin(o)) return { index: i, origin: o, map: item };
    }
  }
  return undefined;
}

function portsList(doc: Document, file: string): YAMLSeq {
  if (doc.errors.length)
    throw new ConfigEditError(file, `it is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it first (portsync validate)`);
  const seq = doc.get('ports', true);
  if (!isSeq(seq)) throw new ConfigEditError(file, 'it has no ports: list; fix it first (portsync validate)');
  return seq;
}

/** One replacement in the text: [start, end) becomes `text`. */
interface Splice {
  start: number;
  end: number;
  text: string;
}

const lineStart = (text: string, at: number) => text.lastIndexOf('\n', at - 1) + 1;
const lineEnd = (text: string, at: number) => {
  const i = text.indexOf('\n', at);
  return i < 0 ? text.length : i;
};
const sourceOf = (text: string, node: { range?: [number, number, number] | null } | null | undefined) =>
  node?.range ? text.slice(node.range[0], node.range[1]) : '';

/** The splice that suspends the port: an entry's new form, a key added, or a new entry. */
function suspendSplice(text: string, seq: YAMLSeq, entry: ReturnType<typeof findEntry>, origin: string): Splice | undefined {
  const flowEntry = (o: string) => `{ origin: ${o}, suspend: true }`;
  if (!entry) {
    const last = seq.items.at(-1) as { range?: [number, number, number] } | undefined;
    if (seq.flow || !last?.range) {
      const close = text.lastIndexOf(']', seq.range![1]);
      return { start: close, end: close, text: `${seq.items.length ? ', ' : ''}${flowEntry(origin)}` };
    }
    const at = lineEnd(text, last.range[1] - 1);
    const dash = /^(\s*)-/.exec(text.slice(lineStart(text, last.range[0]), last.range[0]))?.[1] ?? '  ';
    return { start: at, end: at, text: `\n${dash}- ${flowEntry(origin)}` };
  }
  const item = seq.items[entry.index] as { range: [number, number, number] };
  if (!entry.map) return { start: item.range[0], end: item.range[1], text: flowEntry(sourceOf(text, item)) };
  const pair = entry.map.items.find((p) => isScalar(p.key) && p.key.value === 'suspend');
  if (pair) {
    if (isScalar(pair.value) && pair.value.value === true) return undefined;
    const v = pair.value as { range: [number, number, number] };
    return { start: v.range[0], end: v.range[1], text: 'true' };
  }
  if (entry.map.flow) {
    const close = text.lastIndexOf('}', entry.map.range![1]);
    const before = text.slice(0, close).trimEnd();
    return { start: before.length, end: close, text: `, suspend: true${text.slice(before.length, close).includes(' ') ? ' ' : ''}` };
  }
  const firstKey = entry.map.items[0]!.key as { range: [number, number, number] };
  const indent = ' '.repeat(firstKey.range[0] - lineStart(text, firstKey.range[0]));
  const lastValue = (entry.map.items.at(-1)!.value ?? entry.map.items.at(-1)!.key) as { range: [number, number, number] };
  const at = lineEnd(text, lastValue.range[1] - 1);
  return { start: at, end: at, text: `\n${indent}suspend: true` };
}

/** The splice that resumes the port: its `suspend` removed (the entry back to a plain origin when that is all it says). */
function resumeSplice(text: string, seq: YAMLSeq, entry: ReturnType<typeof findEntry>): Splice | undefined {
  const map = entry?.map;
  const pair = map?.items.find((p) => isScalar(p.key) && p.key.value === 'suspend');
  if (!entry || !map || !pair || !isScalar(pair.value) || pair.value.value !== true) return undefined;
  if (map.items.length === 2 && map.items.some((p) => isScalar(p.key) && p.key.value === 'origin')) {
    // (A block mapping's range runs on to the next item: it ends with its last value here.)
    const end = map.flow ? map.range![1] : (map.items.at(-1)!.value as { range: [number, number, number] }).range[1];
    return { start: map.range![0], end, text: sourceOf(text, map.get('origin', true) as { range: [number, number, number] }) };
  }
  const key = pair.key as { range: [number, number, number] };
  const value = pair.value as { range: [number, number, number] };
  if (map.flow) {
    // `, suspend: true` (or `suspend: true, ` when it comes first).
    const before = text.slice(0, key.range[0]).match(/,\s*$/);
    if (before) return { start: key.range[0] - before[0].length, end: value.range[1], text: '' };
    const after = text.slice(value.range[1]).match(/^\s*,\s*/);
    return { start: key.range[0], end: value.range[1] + (after?.[0].length ?? 0), text: '' };
  }
  // The pair's whole line (with its comment).
  return { start: lineStart(text, key.range[0]), end: lineEnd(text, value.range[1]) + 1, text: '' };
}

/**
 * builds.yaml's text with the port suspended (or resumed), and what changed. `origin` is written
 * into a new entry as given; `sameOrigin` says whether an entry's pattern names that port. Only
 * the entry's own text changes: the rest of the file stays byte for byte.
 */
export function setSuspended(
  text: string,
  file: string,
  origin: string,
  suspend: boolean,
  sameOrigin: (pattern: string) => boolean,
): { text: string; change: SuspendChange } {
  const doc = parseDocument(text);
  const seq = portsList(doc, file);
  const entry = findEntry(seq, sameOrigin);
  const splice = suspend ? suspendSplice(text, seq, entry, origin) : resumeSplice(text, seq, entry);
  if (!splice) return { text, change: 'unchanged' };
  const out = text.slice(0, splice.start) + splice.text + text.slice(splice.end);
  // The edit must say what was meant, and nothing else: checked by reading it back.
  const check = findEntry(portsList(parseDocument(out), file), (p) => p === (entry?.origin ?? origin));
  const suspended = check?.map?.get('suspend') === true;
  if (!check || suspended !== suspend)
    throw new ConfigEditError(
      file,
      `the edit of ${origin}'s entry did not read back as ${suspend ? 'suspended' : 'resumed'}; edit it by hand`,
    );
  return { text: out, change: entry ? 'changed' : 'added' };
}
