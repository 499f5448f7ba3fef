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

/** Reads known states with their key parts, for makePlanReadingParts and the scheduler's decisions. */
export const keyPartsReader =
  (store: { knownStates(origins: readonly string[]): Promise<readonly KnownStateRow[]> }) =>
  async (origins: readonly string[]): Promise<Map<string, KnownPortState>> =>
    knownFromRows(await store.knownStates(origins));
