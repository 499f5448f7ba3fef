import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { DurationError } from './errors.js';
import { parseDuration } from './duration.js';
import type { ConfigPath } from './yaml-locator.js';

/** Absolute path of schema/builds.schema.json. */
export const SCHEMA_FILE = new URL('../../schema/builds.schema.json', import.meta.url);

let validator: ValidateFunction | undefined;

/** Compiles the builds.yaml schema; `source`: keep the generated code (for `npm run build`'s standalone validator). */
export function compileBuildsValidator(
  schemaText = readFileSync(SCHEMA_FILE, 'utf8'),
  source = false,
): { ajv: Ajv2020; validate: ValidateFunction } {
  // (Loaded here, not at start-up: the built CLI validates with the generated code.)
  const { Ajv2020: Ajv } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    verbose: true,
    strict: true,
    allowUnionTypes: true,
    ...(source ? { code: { source: true } } : {}),
  });
  return { ajv, validate: ajv.compile(JSON.parse(schemaText) as object) };
}

export const schemaDigest = (schemaText: string) => createHash('sha256').update(schemaText).digest('hex');

/** The validator as generated CommonJS code (ajv standalone), carrying the digest of the schema it was made from. */
export function standaloneValidatorSource(schemaText = readFileSync(SCHEMA_FILE, 'utf8')): string {
  const { default: standaloneCode } = createRequire(import.meta.url)(
    'ajv/dist/standalone/index.js',
  ) as typeof import('ajv/dist/standalone/index.js');
  const { ajv, validate } = compileBuildsValidator(schemaText, true);
  return `${standaloneCode(ajv, validate)}\nmodule.exports.schemaDigest = ${JSON.stringify(schemaDigest(schemaText))};\n`;
}

/**
 * The validator `npm run build` generated from the schema (dist/config/builds-validator.cjs): no
 * compiling at start-up (~100 ms). Used only while made from this very schema text.
 */
function precompiled(schemaText: string): ValidateFunction | undefined {
  try {
    const m = createRequire(import.meta.url)('./builds-validator.cjs') as { default: ValidateFunction; schemaDigest: string };
    return m.schemaDigest === schemaDigest(schemaText) ? m.default : undefined;
  } catch {
    return undefined; // running the sources, or not built: compile
  }
}

/** The compiled builds.yaml schema. It fills in defaults, so it changes the data it checks. */
export function buildsValidator(): ValidateFunction {
  if (!validator) {
    const text = readFileSync(SCHEMA_FILE, 'utf8');
    validator = precompiled(text) ?? compileBuildsValidator(text).validate;
  }
  return validator;
}

/** A schema error in plain words, with where to point: at the value, or at an offending key. */
export interface SchemaProblem {
  path: ConfigPath;
  at: 'value' | 'key';
  message: string;
}

export function pathFromPointer(pointer: string): ConfigPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/** `make.vars.X`, `ports[2].origin`; the root is named after the file. */
export function describePath(path: ConfigPath, fileName: string): string {
  if (path.length === 0) return `${fileName} root`;
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `the ${typeof v} ${String(v)}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export function closestKey(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/** Turns ajv's errors into plain-words problems; drops those that only repeat another. */
export function describeSchemaErrors(errors: ErrorObject[], fileName: string): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const e of errors) {
    const path = pathFromPointer(e.instancePath);
    const where = describePath(path, fileName);
    const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
    const params = e.params as Record<string, unknown>;
    // A value inside make.env / make.vars / ports[n].vars (not the block itself).
    const isVariableValue = e.schemaPath.includes('/patternProperties/');
    const isEnvBlock = path.length === 2 && path[0] === 'make' && path[1] === 'env';
    const isPortEntry = path.length === 2 && path[0] === 'ports' && typeof path[1] === 'number';
    switch (e.keyword) {
      case 'if':
        continue; // repeats the then/else branch's own errors
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        if (parent.patternProperties !== undefined) {
          const what = isEnvBlock
            ? 'an environment variable name (letters, digits and _'
            : 'a make variable name (letters, digits, _ and .';
          problems.push({ path: [...path, key], at: 'key', message: `"${key}" in ${where} is not ${what}, not starting with a digit)` });
          break;
        }
        const known = Object.keys((parent.properties ?? {}) as object);
        const guess = closestKey(key, known);
        const hint = guess ? ` (did you mean "${guess}"?)` : known.length ? ` (known keys: ${known.join(', ')})` : '';
        problems.push({ path: [...path, key], at: 'key', message: `unknown key "${key}" in ${where}${hint}` });
        break;
      }
      case 'required':
        problems.push({ path, at: 'value', message: `missing required key "${String(params.missingProperty)}" in ${where}` });
        break;
      case 'type': {
        if (isPortEntry) {
          problems.push({
            path,
            at: 'value',
            message: `${where} must be an origin string or a mapping {origin, vars, suspend}, not ${describeValue(e.data)}`,
          });
        } else if (isVariableValue && e.data !== null && typeof e.data !== 'object') {
          const name = String(path[path.length - 1]);
          problems.push({
            path,
            at: 'value',
            message: `${where} must be a string, not ${describeValue(e.data)}: quote it, e.g. ${name}: "${String(e.data)}"`,
          });
        } else {
          const expected = ([] as string[]).concat(params.type as string | string[]).map((t) => TYPE_WORDS[t] ?? t);
          problems.push({ path, at: 'value', message: `${where} must be ${expected.join(' or ')}, not ${describeValue(e.data)}` });
        }
        break;
      }
      case 'enum':
        problems.push({
          path,
          at: 'value',
          message: `${where} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, not ${describeValue(e.data)}`,
        });
        break;
      case 'minimum':
      case 'maximum':
        // A number as a duration: zero, or a unit is missing (the message says which to write).
        if (e.schemaPath.includes('/duration/')) {
          problems.push({ path, at: 'value', message: `${where}: ${durationProblem(e.data as number)}` });
          break;
        }
        problems.push({
          path,
          at: 'value',
          message: `${where} must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)}, not ${String(e.data)}`,
        });
        break;
      case 'minLength':
        problems.push({ path, at: 'value', message: `${where} must not be empty` });
        break;
      case 'pattern':
        problems.push({ path, at: 'value', message: `${where}: ${patternMessage(e)}` });
        break;
      default:
        problems.push({ path, at: 'value', message: `${where} ${e.message ?? 'is invalid'}` });
    }
  }
  return problems;
}

/** Why parseDuration refuses a value the schema refused as a duration. */
function durationProblem(value: string | number): string {
  try {
    parseDuration(value);
  } catch (err) {
    if (err instanceof DurationError) return err.message;
    throw err;
  }
  return `${JSON.stringify(value)} is not a duration such as 500ms, 30s, 10m, 2h, 1h30m`;
}

function patternMessage(e: ErrorObject): string {
  if (e.schemaPath.includes('/duration/')) return durationProblem(e.data as string);
  if (e.instancePath === '/server/webhookSecretEnv' || e.schemaPath.includes('/envName/')) {
    return `${JSON.stringify(e.data)} is not an environment variable name (letters, digits and _, not starting with a digit)`;
  }
  return `${JSON.stringify(e.data)} does not match ${String((e.params as { pattern?: string }).pattern)}`;
}
