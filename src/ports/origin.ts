/** Origins: `category/name[@flavor]`. */
import { ORIGIN_RE } from '../config/selectors.js';
import { MalformedOriginError } from './errors.js';

export interface OriginParts {
  /** `category/name`: the port's directory relative to the tree. */
  dir: string;
  category: string;
  name: string;
  /** '' when none was given. */
  flavor: string;
}

export function parseOrigin(origin: string, where = 'input'): OriginParts {
  if (!ORIGIN_RE.test(origin)) throw new MalformedOriginError(origin, where);
  const [dir, flavor = ''] = origin.split('@') as [string, string?];
  const [category, name] = dir.split('/') as [string, string];
  return { dir, category, name, flavor };
}

export function isOrigin(s: string): boolean {
  return ORIGIN_RE.test(s);
}

/**
 * The node name of a port: the bare directory for its default flavor (the first of FLAVORS),
 * `dir@flavor` for any other, so that `cat/p` and `cat/p@<default>` are one node.
 */
export function canonicalOrigin(dir: string, flavor: string, flavors: readonly string[]): string {
  if (flavor === '' || flavors.length === 0 || flavor === flavors[0]) return dir;
  return `${dir}@${flavor}`;
}
