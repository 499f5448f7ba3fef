/** What the build database knows about each port, read once per plan (one query, not one per port). */
import type { KnownStateRow, KnownStateSummaryRow } from '../builddb/types.js';
import { KEY_PARTS_NOT_READ, type KnownPortState } from './decide.js';

// One KnownPortState per row object: the database hands out the same row while it is unchanged,
// so a port's known state is the same object from pass to pass (the planner's memo relies on it).
const byRow = new WeakMap<KnownStateSummaryRow, KnownPortState>();

/** Rows without key parts (knownStatesWithoutParts) give known states whose parts are KEY_PARTS_NOT_READ. */
export function knownFromRows(rows: readonly (KnownStateRow | KnownStateSummaryRow)[]): Map<string, KnownPortState> {
  const known = new Map<string, KnownPortState>();
  for (const r of rows) {
    let k = byRow.get(r);
    if (!k) {
      k = {
        buildKey: r.buildKey,
        keyParts: KEY_PARTS_NOT_READ,
        failedKey: r.failedKey,
        package: r.package,
        pkgfile: r.pkgfile,
        version: r.version,
      };
      // keyParts read through: the row decodes them only when a decision compares them.
      if ('keyParts' in r) Object.defineProperty(k, 'keyParts', { get: () => r.keyParts, enumerable: true });
      byRow.set(r, k);
    }
    known.set(r.origin, k);
  }
  return known;
}

/** Reads known states with their key parts (makePlanReadingParts, the scheduler's decisions, `why`). */
export type KeyPartsReader = (origins: readonly string[]) => Promise<ReadonlyMap<string, KnownPortState>>;

export const keyPartsReader =
  (store: { knownStates(origins: readonly string[]): Promise<readonly KnownStateRow[]> }): KeyPartsReader =>
  async (origins) =>
    knownFromRows(await store.knownStates(origins));

/**
 * A reader whose answer for `origins` is read now, ahead of the question (the daemon reads the
 * parts of the ports a hint reads again while make reads them); other origins are read when asked.
 * Only for as long as nothing writes the database meanwhile (a pass: the daemon is its only writer).
 */
export function readAhead(read: KeyPartsReader, origins: readonly string[]): KeyPartsReader {
  const ahead = new Set(origins);
  const early = read(origins);
  early.catch(() => {}); // (awaited when asked; never asked, never needed)
  return async (wanted) => {
    const rest = wanted.filter((o) => !ahead.has(o));
    const [got, late] = await Promise.all([early, rest.length ? read(rest) : new Map<string, KnownPortState>()]);
    const out = new Map(late);
    for (const o of wanted) {
      const k = got.get(o);
      if (k && ahead.has(o)) out.set(o, k);
    }
    return out;
  };
}

/**
 * Each known state read without its parts, and the same state read with them: while the first
 * is current (the writer's cache hands out the same row), later plans take the second, so the
 * daemon reads a port's parts once and its memo sees the same object from plan to plan.
 */
const withParts = new WeakMap<KnownPortState, KnownPortState>();

/** `known` with each state whose parts were read before (and is still current) as read with them. */
export function completed(known: ReadonlyMap<string, KnownPortState>): ReadonlyMap<string, KnownPortState> {
  let out: Map<string, KnownPortState> | undefined;
  for (const [origin, k] of known) {
    const full = withParts.get(k);
    if (full) (out ??= new Map(known)).set(origin, full);
  }
  return out ?? known;
}

/** Does this state's decision need its key parts read (it has some recorded, not read with it)? */
export const partsUnread = (k: KnownPortState | undefined): boolean => !!k?.buildKey && k.keyParts === KEY_PARTS_NOT_READ;

/**
 * The states of `origins` (in `known`) with their key parts, read by `read` for those that lack
 * them. A state the read does not return (the fail-safe store answers nothing when the database
 * failed meanwhile) is taken as one without recorded parts: built, as every port is when no state
 * can be read.
 */
export async function readKeyParts(
  known: ReadonlyMap<string, KnownPortState>,
  origins: readonly string[],
  read: KeyPartsReader,
): Promise<Map<string, KnownPortState>> {
  const out = new Map<string, KnownPortState>();
  const missing = origins.filter((o) => partsUnread(known.get(o)));
  const got = missing.length ? await read(missing) : new Map<string, KnownPortState>();
  for (const origin of missing) {
    const without = known.get(origin)!;
    const full = got.get(origin);
    if (full) withParts.set(without, full);
    out.set(origin, full ?? { ...without, keyParts: null });
  }
  return out;
}
