import { OriginGlobError } from './errors.js';
import type { Limits, PortLimits, PortSelector } from './types.js';

/**
 * `category/name` or `category/name@flavor`: a directory two levels inside the tree. Neither part
 * may start with `.` or `-` (so never `.` or `..`: an origin cannot point outside the tree).
 */
export const ORIGIN_RE = /^[A-Za-z0-9_+][A-Za-z0-9_+.-]*\/[A-Za-z0-9_+][A-Za-z0-9_+.-]*(@[A-Za-z0-9_]+)?$/;
const NAME_CHAR = /[A-Za-z0-9_+.-]/;
const FLAVOR_CHAR = /[A-Za-z0-9_]/;

export function isOriginGlob(pattern: string): boolean {
  return /[*?[\]]/.test(pattern);
}

/**
 * Why `pattern` is not a usable origin or origin glob, or undefined when it is.
 * Globs use `*`, `?` and `[...]` inside the category, name and (optional) flavor parts.
 */
export function originPatternProblem(pattern: string): string | undefined {
  if (!isOriginGlob(pattern)) {
    return ORIGIN_RE.test(pattern)
      ? undefined
      : `malformed origin "${pattern}": expected category/name or category/name@flavor inside the tree (letters, digits and _ + . - in category and name, not starting with . or -; letters, digits and _ in the flavor)`;
  }
  try {
    originGlobToRegExp(pattern);
    return undefined;
  } catch (e) {
    if (e instanceof OriginGlobError) return e.message;
    throw e;
  }
}

/**
 * A RegExp matching the origins selected by a glob such as `devel/*`, `*\/*`, `lang/py[0-9]*`
 * or `lang/*@py3*`. `*` and `?` never cross `/` or `@`, so a glob without `@flavor`
 * matches only plain `category/name` origins. Throws OriginGlobError for a bad glob.
 */
export function originGlobToRegExp(pattern: string): RegExp {
  const fail = (reason: string): never => {
    throw new OriginGlobError(pattern, reason);
  };
  if (pattern.includes('**')) fail('"**" is not supported; use "*/*" for the whole tree');
  const [main = '', flavor, ...extra] = pattern.split('@');
  if (extra.length > 0) fail('more than one "@"');
  const parts = main.split('/');
  if (parts.length !== 2) fail(parts.length < 2 ? 'expected category/name (one "/")' : 'more than one "/"; expected category/name');
  const [category = '', name = ''] = parts;
  const sources = [partToRegExp(category, 'category', NAME_CHAR, fail), partToRegExp(name, 'name', NAME_CHAR, fail)];
  let re = `^${sources[0]}\\/${sources[1]}`;
  if (flavor !== undefined) re += `@${partToRegExp(flavor, 'flavor', FLAVOR_CHAR, fail)}`;
  return new RegExp(`${re}$`);
}

function partToRegExp(part: string, what: string, literal: RegExp, fail: (reason: string) => never): string {
  if (part === '') fail(`the ${what} part is empty`);
  let out = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '*') out += '[^/@]*';
    else if (c === '?') out += '[^/@]';
    else if (c === ']') fail(`"]" without "[" in the ${what} part`);
    else if (c === '[') {
      const close = part.indexOf(']', i + 1);
      if (close < 0) fail(`unbalanced "[" in the ${what} part`);
      let body = part.slice(i + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      if (body === '') fail(`empty "[]" in the ${what} part`);
      for (const b of body) {
        if (b === '[') fail(`unbalanced "[" in the ${what} part`);
        if (!literal.test(b)) fail(`"${b}" is not allowed inside [...] in the ${what} part`);
      }
      // Inside a class only "-" (a range), "\" and "]" are special in a RegExp; "\" and "]" cannot occur here.
      out += negated ? `[^/@${body}]` : `[${body}]`;
      i = close;
    } else if (literal.test(c)) out += c.replace(/[.+]/g, '\\$&');
    else fail(`"${c}" is not allowed in the ${what} part`);
  }
  return out;
}

export interface SelectorMatch {
  /** Origin → the selector that chose it. An exact entry beats a glob; among globs the first listed wins. Sorted by origin. */
  selected: Map<string, PortSelector>;
  /** Selectors that chose nothing: an exact origin whose port is not in `origins`, or a glob that matched none. */
  unmatched: PortSelector[];
}

/**
 * Applies builds.yaml's `ports:` to the origins of a ports tree. An exact selector
 * `cat/name@flavor` is kept as written when `cat/name@flavor` or its port directory
 * `cat/name` is among `origins` (the ports reader checks that the flavor exists).
 */
export function matchSelectors(origins: string[], selectors: PortSelector[]): SelectorMatch {
  const known = new Set(origins);
  const selected = new Map<string, PortSelector>();
  const unmatched: PortSelector[] = [];
  for (const sel of selectors.filter((s) => !s.isGlob)) {
    const dir = sel.pattern.split('@')[0]!;
    if (known.has(sel.pattern) || known.has(dir)) selected.set(sel.pattern, sel);
    else unmatched.push(sel);
  }
  for (const sel of selectors.filter((s) => s.isGlob)) {
    const re = originGlobToRegExp(sel.pattern);
    // `lang/*@py312`: the directories match, and each is asked for with that flavor (a port
    // that turns out not to have it is dropped by the scanner, as a directory without a port is).
    const flavor = sel.pattern.split('@')[1];
    let any = false;
    for (const dir of origins) {
      const origin = flavor === undefined ? dir : `${dir}@${flavor}`;
      if (!re.test(origin)) continue;
      any = true;
      if (!selected.has(origin)) selected.set(origin, sel);
    }
    if (!any) unmatched.push(sel);
  }
  return {
    selected: new Map([...selected].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    unmatched: unmatched.sort((a, b) => a.line - b.line || a.col - b.col),
  };
}

/**
 * The limits one port builds with: builds.yaml's `limits`, overridden key by key (tmpfs sizes one
 * by one) by those of the selector that chose it (see matchSelectors: an exact entry beats a
 * glob). As with `vars`, an entry for `cat/name@<default flavor>` applies to the `cat/name` node
 * too. A dependency no entry chose builds with the global limits.
 */
export function limitsFor(
  global: Limits,
  selected: ReadonlyMap<string, PortSelector>,
  origin: string,
  flavors: readonly string[] = [],
): Limits {
  const own: (PortLimits | undefined)[] = [selected.get(origin)?.limits];
  if (!origin.includes('@') && flavors.length) own.push(selected.get(`${origin}@${flavors[0]}`)?.limits);
  let limits = global;
  for (const o of own) if (o) limits = { ...limits, ...o, tmpfs: { ...limits.tmpfs, ...o.tmpfs } };
  return limits;
}
