/** Parsing of `*_DEPENDS` values: whitespace-separated `target:origin[:tag]` entries. */
import { MalformedDependencyError } from './errors.js';
import { isOrigin } from './origin.js';
import type { DepKind, Dependency } from './types.js';

/**
 * Parses one variable's value. `portsDir` is the tree's absolute path, so that origins written
 * as `${PORTSDIR}/cat/port` (expanded by make) become `cat/port`.
 */
export function parseDepends(port: string, kind: DepKind, value: string, portsDir: string): Dependency[] {
  const out: Dependency[] = [];
  const variable = `${kind}_DEPENDS`;
  for (const raw of value.split(/\s+/)) {
    if (raw === '') continue;
    if (raw.startsWith('/nonexistent:')) continue;
    const parts = raw.split(':');
    if (parts.length < 2 || parts.length > 3) {
      throw new MalformedDependencyError(port, variable, raw, parts.length < 2 ? 'no origin after ":"' : 'too many ":"');
    }
    const [target, originText, tag] = parts as [string, string, string | undefined];
    if (target === '') throw new MalformedDependencyError(port, variable, raw, 'empty target');
    const origin = stripPortsDir(originText, portsDir);
    if (!isOrigin(origin)) throw new MalformedDependencyError(port, variable, raw, `"${originText}" is not an origin`);
    if (tag === '') throw new MalformedDependencyError(port, variable, raw, 'empty tag');
    out.push(tag === undefined ? { kind, target, origin, raw } : { kind, target, origin, tag, raw });
  }
  return out;
}

/** `/usr/ports/devel/foo` → `devel/foo` (any absolute path: its last two components). */
function stripPortsDir(origin: string, portsDir: string): string {
  if (!origin.startsWith('/')) return origin;
  const prefix = portsDir.endsWith('/') ? portsDir : `${portsDir}/`;
  if (origin.startsWith(prefix)) return origin.slice(prefix.length);
  const parts = origin.split('/').filter(Boolean);
  return parts.length >= 2 ? parts.slice(-2).join('/') : origin;
}
