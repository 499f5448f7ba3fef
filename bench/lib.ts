/** Shared pieces of the benchmarks: a generated tree cached between runs, a project around it, timing. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDesiredState } from '../src/config/load.js';
import type { DesiredState } from '../src/config/types.js';
import { BuildDB } from '../src/builddb/db.js';
import { adoptionRecords } from '../src/reconcile/adopt.js';
import { knownFromRows } from '../src/reconcile/known.js';
import { observe } from '../src/reconcile/observe.js';
import { makePlan, type Plan } from '../src/reconcile/plan.js';
import { generateTree } from './gen-tree.js';

export interface BenchArgs {
  ports: number;
  dir: string;
}

export function benchArgs(defaults: { ports: number }): BenchArgs {
  const { values } = parseArgs({ options: { ports: { type: 'string' }, dir: { type: 'string' } }, strict: false });
  const ports = Number(values.ports ?? defaults.ports);
  return { ports, dir: typeof values.dir === 'string' ? values.dir : join(tmpdir(), `portsync-bench-${ports}`) };
}

/** A generated tree of `ports` ports under `dir/ports` (made once, then reused), with a builds.yaml for the whole tree. */
export async function benchProject(args: BenchArgs, extraYaml = ''): Promise<{ state: DesiredState; tree: string; config: string }> {
  const tree = join(args.dir, 'ports');
  if (!existsSync(join(tree, 'Mk'))) {
    mkdirSync(args.dir, { recursive: true });
    const t = performance.now();
    const s = generateTree({ ports: args.ports, out: tree });
    console.log(`generated ${s.ports} ports (${s.edges} dependency entries) in ${ms(performance.now() - t)}`);
  }
  const config = join(args.dir, 'builds.yaml');
  writeFileSync(
    config,
    [
      'portsTree: { path: ports }',
      'make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }',
      'environment: { backend: host }',
      'ports:\n  - "*/*"',
      extraYaml,
    ].join('\n'),
  );
  return { state: await loadDesiredState(config), tree, config };
}

export const ms = (x: number) => `${Math.round(x)} ms`;

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** One measured figure: its value and, when it has one, its target (at most `max`, at least `min`). */
export interface Figure {
  figure: string;
  value: number | string;
  unit?: string;
  max?: number;
  min?: number;
}

/** ok / MISSED against the figure's target; '' for a figure without one. */
export function verdict(f: Figure): '' | 'ok' | 'MISSED' {
  if (typeof f.value !== 'number' || (f.max === undefined && f.min === undefined)) return '';
  return (f.max === undefined || f.value <= f.max) && (f.min === undefined || f.value >= f.min) ? 'ok' : 'MISSED';
}

const shown = (v: number | string, unit = '') =>
  typeof v === 'number' ? `${Number.isInteger(v) ? v : v.toFixed(1)}${unit ? ` ${unit}` : ''}` : v;

/**
 * Every benchmark's result, the same way: a table of figures with ok/MISSED against their
 * targets on stdout, and bench/out/<name>.json (the figures, their verdicts, when and where).
 */
export function report(name: string, title: string, figures: Figure[], extra: Record<string, unknown> = {}): void {
  console.log(`\n${title}`);
  const w = Math.max(...figures.map((f) => f.figure.length));
  const vw = Math.max(...figures.map((f) => shown(f.value, f.unit).length));
  for (const f of figures) {
    const v = verdict(f);
    const target = [f.max !== undefined ? `<= ${shown(f.max, f.unit)}` : '', f.min !== undefined ? `>= ${shown(f.min, f.unit)}` : '']
      .filter(Boolean)
      .join(', ');
    console.log(`  ${f.figure.padEnd(w)}  ${shown(f.value, f.unit).padStart(vw)}${v ? `   ${v} (target ${target})` : ''}`);
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'out');
  mkdirSync(out, { recursive: true });
  const rows = figures.map((f) => ({ ...f, verdict: verdict(f) || undefined }));
  writeFileSync(
    join(out, `${name}.json`),
    JSON.stringify({ at: new Date().toISOString(), bench: name, title, cores: cpus().length, figures: rows, ...extra }, null, 2),
  );
  console.log(`  (bench/out/${name}.json)`);
}

/**
 * Records every buildable port of the desired state as built at its current inputs (packages as
 * empty files), as `portsync adopt` would: one plan, keys settled dependencies first, one upsert.
 * Returns the number of ports recorded and how long it took.
 */
export async function seedAsBuilt(state: DesiredState): Promise<{ ports: number; ms: number; plan: Plan; recorded: Set<string> }> {
  const t = performance.now();
  const obs = await observe(state);
  const db = await BuildDB.open(state.paths.database);
  try {
    const plan = makePlan(obs, { known: knownFromRows(await db.allPortState()) });
    const records = adoptionRecords(plan);
    mkdirSync(join(state.paths.packages, 'All'), { recursive: true });
    for (const r of records) writeFileSync(join(state.paths.packages, 'All', r.pkgfile), '');
    await db.recordSuccesses(records);
    return { ports: records.length, ms: performance.now() - t, plan, recorded: new Set(records.map((r) => r.origin)) };
  } finally {
    await db.close();
  }
}

/** The plan `portsync plan` would print now: observe the tree, read the database read-only, plan. */
export async function planNow(state: DesiredState): Promise<Plan> {
  const obs = await observe(state);
  // Never reconciled (adopt's fresh project): nothing known yet.
  if (!existsSync(state.paths.database)) return makePlan(obs, { known: new Map() });
  const db = await BuildDB.open(state.paths.database, { readOnly: true });
  try {
    return makePlan(obs, { known: knownFromRows(await db.allPortState()) });
  } finally {
    await db.close();
  }
}
