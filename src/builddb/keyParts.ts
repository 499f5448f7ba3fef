/**
 * Key parts as stored: most ports read the same framework files, so a part's file map
 * (`makefiles`, `framework`) is stored once in `file_sets` and named by its digest in the
 * port's JSON. Decoded parts share one object per set, which keeps memory low and lets the
 * planner compare sets by digest.
 */
import { type DuckDBConnection, listValue, VARCHAR } from './duckdb.js';
import { appendColumns } from './bulkAppend.js';
import { filesDigest } from '../fingerprint/buildKey.js';
import type { BuildKeyParts } from '../fingerprint/types.js';

type FileMap = Record<string, string>;
const SET_PARTS = ['makefiles', 'framework'] as const;
/** More sets than this are written through an appender (fewer: one VALUES statement). */
const BULK_SETS = 64;
/** A set named in stored parts' JSON (`{"$set":"<sha-256>"}`). */
const SET_REF = /"\$set":"([0-9a-f]{64})"/g;

export class KeyPartsCodec {
  private readonly sets = new Map<string, FileMap>();
  /** Digests of the sets known to be in file_sets: committed, or read from it. */
  private readonly stored = new Set<string>();
  /** Digests written in the write connection's open transaction: stored once it commits. */
  private readonly written = new Set<string>();
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

  /**
   * Writes the sets `encode` returned that the file may not hold yet (inside the caller's
   * transaction) and keeps them for decoding. Most builds name sets already stored (the
   * framework's is every port's), and skipping them saves a statement per build.
   */
  async storeSets(c: DuckDBConnection, sets: ReadonlyMap<string, FileMap>): Promise<void> {
    await this.loadDigests(c);
    const rows = [...sets].filter(([d]) => !this.stored.has(d) && !this.written.has(d)).map(([d, files]) => [d, JSON.stringify(files)]);
    // In one statement: a whole tree has thousands of sets, and a statement each took seconds (adopt).
    if (rows.length > BULK_SETS) {
      await c.run('CREATE OR REPLACE TEMP TABLE file_sets_import (digest VARCHAR, files VARCHAR)');
      await appendColumns(c, 'file_sets_import', [VARCHAR, VARCHAR], [rows.map((r) => r[0]!), rows.map((r) => r[1]!)]);
      await c.run('INSERT OR IGNORE INTO file_sets SELECT digest, files FROM file_sets_import');
      await c.run('DROP TABLE file_sets_import');
    } else if (rows.length) {
      const values = rows.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
      await c.run(`INSERT OR IGNORE INTO file_sets VALUES ${values}`, rows.flat());
    }
    for (const [digest] of rows) this.written.add(digest!);
    for (const [digest, files] of sets) if (!this.sets.has(digest)) this.sets.set(digest, Object.freeze({ ...files }));
  }

  /** The write connection's transaction ended: the sets it wrote are stored, or (rolled back) may not be. */
  transactionEnded(committed: boolean): void {
    if (committed) for (const d of this.written) this.stored.add(d);
    this.written.clear();
  }

  /** Reads which sets are stored, once (this connection's own writes are added as they happen): storeSets skips them. */
  async loadDigests(c: DuckDBConnection): Promise<void> {
    if (this.loaded) return;
    for (const r of (await c.runAndReadAll('SELECT digest FROM file_sets')).getRowObjects()) this.stored.add(String(r.digest));
    this.loaded = true;
  }

  /**
   * Reads the sets that stored parts (`raws`: their JSON) name and that are not in memory yet:
   * decode finds them. Only those: a plan reads the parts of a few ports, and a whole tree's
   * thousands of sets cost a few hundred ms and tens of MB.
   */
  async loadSetsFor(c: DuckDBConnection, raws: readonly unknown[]): Promise<void> {
    const missing = new Set<string>();
    for (const raw of raws) {
      if (typeof raw !== 'string') continue;
      for (const m of raw.matchAll(SET_REF)) if (!this.sets.has(m[1]!)) missing.add(m[1]!);
    }
    if (!missing.size) return;
    const rows = (
      await c.runAndReadAll('SELECT digest, files FROM file_sets WHERE digest IN (SELECT unnest($1::VARCHAR[]))', [listValue([...missing])])
    ).getRowObjects();
    for (const r of rows) this.sets.set(String(r.digest), Object.freeze(JSON.parse(String(r.files)) as FileMap));
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
