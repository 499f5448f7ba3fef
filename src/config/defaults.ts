/**
 * Defaults of builds.yaml, read from the schema: it is the one place they are written (ajv fills
 * them into every loaded builds.yaml). This is for code that has no loaded builds.yaml, such as a
 * build environment made directly by a test or a benchmark. No ajv here: build workers import it.
 */
import { readFileSync } from 'node:fs';
import type { TmpfsSizes } from './types.js';

const SCHEMA = new URL('../../schema/builds.schema.json', import.meta.url);

interface SchemaNode {
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

function schemaDefaults(path: string[]): Record<string, unknown> {
  let node = JSON.parse(readFileSync(SCHEMA, 'utf8')) as SchemaNode;
  for (const key of path) node = node.properties?.[key] ?? {};
  return Object.fromEntries(Object.entries(node.properties ?? {}).map(([k, v]) => [k, v.default]));
}

/** `limits.tmpfs` when builds.yaml says nothing: each a ceiling, not a reservation. */
export const DEFAULT_TMPFS: Readonly<TmpfsSizes> = Object.freeze(schemaDefaults(['limits', 'tmpfs']) as unknown as TmpfsSizes);

/** `make.readAs` when builds.yaml says nothing: the tree reader's own uid:gid (src/ports/make-user.ts). */
export const DEFAULT_MAKE_READ_AS = String(schemaDefaults(['make']).readAs);
