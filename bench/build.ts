/**
 * Build benchmark: N trivial ports (no distfiles, nothing to compile) through the real
 * scheduler, Piscina pool, phases and database, on `workers` workers. Reports wall time per
 * port and the scheduler's own overhead per port (wall × workers / N − mean build time).
 *   tsx bench/build.ts [--ports 1000] [--workers 2] [--backend host|chroot] [--dir DIR]
 */
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LineProgress } from '../src/builder/progress.js';
import { loadDesiredState } from '../src/config/load.js';
import { reconcilePass } from '../src/reconcile/pass.js';
import { EXAMPLE_MK } from './gen-tree.js';
import { report } from './lib.js';

/** A tree of `n` trivial ports (bench/<name>, no distfiles, nothing to build) under `dir`. */
export function trivialTree(dir: string, n: number): void {
  rmSync(dir, { recursive: true, force: true });
  cpSync(EXAMPLE_MK, join(dir, 'Mk'), { recursive: true });
  for (let i = 0; i < n; i++) {
    const name = `t${String(i).padStart(5, '0')}`;
    // A sparse DAG: each port needs up to two earlier ones.
    const deps = [i - 1, Math.floor(i / 2) - 7]
      .filter((d) => d >= 0 && d !== i)
      .map((d) => `t${String(d).padStart(5, '0')}>=0:bench/t${String(d).padStart(5, '0')}`);
    mkdirSync(join(dir, 'bench', name), { recursive: true });
    writeFileSync(
      join(dir, 'bench', name, 'Makefile'),
      [
        `PORTNAME=\t${name}`,
        'PORTVERSION=\t1.0',
        'CATEGORIES=\tbench',
        'COMMENT=\tTrivial',
        'DISTFILES=',
        'NO_BUILD=\tyes',
        i % 10 === 0 ? '' : `RUN_DEPENDS=\t${deps.join(' ')}`,
        '',
        '.include <bsd.port.mk>',
        '',
      ].join('\n'),
    );
  }
}

export async function benchBuild(argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ports: { type: 'string' }, workers: { type: 'string' }, backend: { type: 'string' }, dir: { type: 'string' } },
    strict: false,
  });
  const n = Number(values.ports ?? 1000);
  const workers = Number(values.workers ?? 2);
  const backend = String(values.backend ?? 'host');
  const dir = String(values.dir ?? join(tmpdir(), `portsync-bench-build-${n}`));
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  trivialTree(join(dir, 'ports'), n);
  const config = join(dir, 'builds.yaml');
  writeFileSync(
    config,
    `portsTree: { path: ports }\nmake: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }\nworkers: ${workers}\nenvironment: { backend: ${backend} }\nports:\n  - "bench/*"\n`,
  );
  const state = await loadDesiredState(config);
  const t = performance.now();
  const r = await reconcilePass(state, { trigger: 'bench', progress: new LineProgress(() => {}), log: (l) => console.error(l) });
  const wall = performance.now() - t;
  const built = r.ports.filter((p) => p.status === 'success');
  const meanBuild = built.reduce((s, p) => s + (p.durationMs ?? 0), 0) / Math.max(1, built.length);
  const t2 = performance.now();
  const again = await reconcilePass(state, { trigger: 'bench', progress: new LineProgress(() => {}), log: (l) => console.error(l) });
  const noChange = performance.now() - t2;
  report('build', `${n} trivial ports, ${workers} workers, ${backend} backend`, [
    { figure: 'built', value: built.length, min: n },
    { figure: 'wall time', value: Math.round(wall), unit: 'ms' },
    { figure: 'wall per port', value: wall / n, unit: 'ms' },
    { figure: 'mean build (8 phases)', value: meanBuild, unit: 'ms' },
    // What the scheduler adds per port beyond the build itself (dispatch, records, progress).
    { figure: 'scheduler overhead/port', value: (wall * workers) / n - meanBuild, unit: 'ms', max: 20 },
    { figure: 'no-change pass', value: Math.round(noChange), unit: 'ms', max: 500 },
    { figure: 'no-change skipped', value: again.stats.skipped, min: n },
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBuild();
