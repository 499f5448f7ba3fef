/** Shared pieces of the benchmarks: a generated tree cached between runs, a project around it, timing. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDesiredState } from '../src/config/load.js';
import type { DesiredState } from '../src/config/types.js';
import { BuildDB } from '../src/builddb/db.js';
import { adoptionRecords } from '../src/reconcile/adopt.js';
import { knownFromRows } from '../src/reconcile/known.js';
import { observe } from '../src/reconcile/observe.js';
import { makePlan, type Plan } from '../src/reconcile/plan.js';
import { generateTree } from './gen-tree.js';

export interface BenchArgs { ports: number; dir: string }

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
  writeFileSync(config, [
    'portsTree: { path: ports }',
    'make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }',
    'environment: { backend: host }',
    'ports:\n  - "*/*"',
    extraYaml,
  ].join('\n'));
  return { state: await loadDesiredState(config), tree, config };
}

export const ms = (x: number) => `${Math.round(x)} ms`;

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** Prints a two-column table of figures against their targets. */
export function report(title: string, rows: [string, string, string?][]): void {
  console.log(`\n${title}`);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v, target] of rows) console.log(`  ${k.padEnd(w)}  ${v.padStart(12)}${target ? `   (target ${target})` : ''}`);
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
  const db = await BuildDB.open(state.paths.database, { readOnly: true });
  try {
    return makePlan(obs, { known: knownFromRows(await db.allPortState()) });
  } finally {
    await db.close();
  }
}
