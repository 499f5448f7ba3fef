/** What the build database knows about each port, read once per plan (one query, not one per port). */
import { existsSync } from 'node:fs';
import { BuildDB } from '../builddb/db.js';
import type { PortStateRow } from '../builddb/types.js';
import type { DesiredState } from '../config/types.js';
import type { KnownPortState } from './plan.js';

export function knownFromRows(rows: readonly PortStateRow[]): Map<string, KnownPortState> {
  return new Map(rows.map((r) => [r.origin, { buildKey: r.buildKey, keyParts: r.keyParts, failedKey: r.failedKey }]));
}

/** Reads port_state from the database file (read-only); an absent database knows nothing. */
export async function readKnownState(state: DesiredState): Promise<Map<string, KnownPortState>> {
  if (!existsSync(state.paths.database)) return new Map();
  const db = await BuildDB.open(state.paths.database, { readOnly: true });
  try {
    return knownFromRows(await db.allPortState());
  } finally {
    await db.close();
  }
}
