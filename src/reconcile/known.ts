/** What the build database knows about each port, read once per plan (one query, not one per port). */
import type { KnownStateRow } from '../builddb/types.js';
import type { KnownPortState } from './decide.js';

// One KnownPortState per row object: the database hands out the same row while it is unchanged,
// so a port's known state is the same object from pass to pass (the planner's memo relies on it).
const byRow = new WeakMap<KnownStateRow, KnownPortState>();

export function knownFromRows(rows: readonly KnownStateRow[]): Map<string, KnownPortState> {
  const known = new Map<string, KnownPortState>();
  for (const r of rows) {
    let k = byRow.get(r);
    // keyParts read through: the row decodes them only when a decision compares them.
    if (!k)
      byRow.set(
        r,
        (k = {
          buildKey: r.buildKey,
          get keyParts() {
            return r.keyParts;
          },
          failedKey: r.failedKey,
          package: r.package,
          pkgfile: r.pkgfile,
          version: r.version,
        }),
      );
    known.set(r.origin, k);
  }
  return known;
}
