/**
 * Key parts as stored: most ports read the same framework files, so a part's file map
 * (`makefiles`, `framework`) is stored once in `file_sets` and named by its digest in the
 * port's JSON. Decoded parts share one object per set, which keeps memory low and lets the
 * planner compare sets by digest.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { filesDigest } from '../fingerprint/buildKey.js';
import type { BuildKeyParts } from '../fingerprint/types.js';

type FileMap = Record<string, string>;
const SET_PARTS = ['makefiles', 'framework'] as const;

export class KeyPartsCodec {
  private readonly sets = new Map<string, FileMap>();
  private loaded = false;

  /**
   * The JSON to store for each of `parts`, and the file sets they name (digest → files), to be
   * written in the same transaction (an existing set is left as it is).
   */
  encode(all: readonly BuildKeyParts[]): { json: string[]; sets: Map<string, FileMap> } {
    const sets = new Map<string, FileMap>();
    const json = all.map((parts) => {
      const out: Record<string, unknown> = { ...parts };
      for (const name of SET_PARTS) {
        const files = parts[name];
        if (!files) continue;
        const digest = filesDigest(files);
        sets.set(digest, files);
        out[name] = { $set: digest };
      }
      return JSON.stringify(out);
    });
    return { json, sets };
  }

  /** Writes the sets `encode` returned (inside the caller's transaction) and keeps them for decoding. */
  async storeSets(c: DuckDBConnection, sets: ReadonlyMap<string, FileMap>): Promise<void> {
    // Always written (a set cached here may come from a transaction that was rolled back).
    for (const [digest, files] of sets) await c.run('INSERT OR IGNORE INTO file_sets VALUES ($1, $2)', [digest, JSON.stringify(files)]);
    for (const [digest, files] of sets) if (!this.sets.has(digest)) this.sets.set(digest, Object.freeze({ ...files }));
  }

  /** Reads the stored sets once (this connection's own writes are added as they happen). */
  async load(c: DuckDBConnection): Promise<void> {
    if (this.loaded) return;
    const rows = (await c.runAndReadAll('SELECT digest, files FROM file_sets')).getRowObjects();
    for (const r of rows)
      if (!this.sets.has(String(r.digest))) this.sets.set(String(r.digest), Object.freeze(JSON.parse(String(r.files)) as FileMap));
    this.loaded = true;
  }

  /** Parts from their stored JSON (older rows hold the file maps inline); null when unreadable. */
  decode(v: unknown): BuildKeyParts | null {
    if (typeof v !== 'string') return null;
    let parts: Record<string, unknown>;
    try {
      parts = JSON.parse(v) as Record<string, unknown>;
    } catch {
      return null;
    }
    for (const name of SET_PARTS) {
      const ref = parts[name] as { $set?: string } | undefined;
      if (!ref || typeof ref.$set !== 'string') continue;
      const files = this.sets.get(ref.$set);
      if (!files) return null;
      parts[name] = files;
    }
    return parts as unknown as BuildKeyParts;
  }
}
