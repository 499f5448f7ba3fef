/** What the build database knows about each port, read once per plan (one query, not one per port). */
import type { PortStateRow } from '../builddb/types.js';
import type { KnownPortState } from './decide.js';

export function knownFromRows(rows: readonly PortStateRow[]): Map<string, KnownPortState> {
  return new Map(rows.map((r) => [r.origin, { buildKey: r.buildKey, keyParts: r.keyParts, failedKey: r.failedKey, package: r.package }]));
}
