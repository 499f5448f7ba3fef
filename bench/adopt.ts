/**
 * `portsync adopt` on a real tree: the MidnightBSD ports tree (~10,400 ports, through the make
 * profile "midnightbsd"), a repository holding a package for every port, and an empty database.
 *
 *   tsx bench/adopt.ts [--tree DIR] [--dir DIR]
 *
 * The tree comes from --tree or $PORTSYNC_REAL_TREE (or $MPORTS); without one it says so and
 * exits 0. The tree is only read. A project in a temporary directory (or --dir, kept and reused
 * with its metadata cache): builds.yaml with `ports: ["*\/*"]`, host backend. Before the timing,
 * a plan warms the metadata cache (as any earlier `portsync plan` would have) and gives each
 * port's PKGFILE; each gets a real package: a tar archive with a +MANIFEST naming it, which
 * packageIdentity reads as any package. Then `portsync adopt --json` runs in a fresh process,
 * timed: the target is 10 s. Afterwards `plan` must build nothing that was adopted.
 * Results: ok/MISSED, and bench/out/adopt.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tar from 'tar';
import { loadDesiredState } from '../src/config/load.js';
import { ms, planNow, timed } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'bin', 'portsync.js');
const TARGET_MS = 10_000;

const { values: opts } = parseArgs({ options: { tree: { type: 'string' }, dir: { type: 'string' } }, strict: false });

/** One small real package per port: a tar of a +MANIFEST naming it (distinct content, so distinct identities). */
function fakePackages(all: string, pkgfiles: readonly string[], scratch: string): void {
  mkdirSync(all, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  const manifest = join(scratch, '+MANIFEST');
  for (const f of pkgfiles) {
    writeFileSync(manifest, `name: ${f}\n`);
    tar.c({ sync: true, file: join(all, f), cwd: scratch, portable: true }, ['+MANIFEST']);
  }
}

export async function benchAdopt(): Promise<void> {
  const source = typeof opts.tree === 'string' ? opts.tree : (process.env.PORTSYNC_REAL_TREE ?? process.env.MPORTS);
  if (!source || !existsSync(join(source, 'Mk', 'bsd.mport.mk'))) {
    console.log(
      `adopt: skipped: no MidnightBSD ports tree (${source ? `${source} has no Mk/bsd.mport.mk` : 'give --tree DIR or set $PORTSYNC_REAL_TREE'}).`,
    );
    console.log(
      '  get it with: git clone https://github.com/MidnightBSD/mports /tmp/mports; then PORTSYNC_REAL_TREE=/tmp/mports tsx bench/adopt.ts',
    );
    return;
  }
  if (spawnSync('bmake', ['-f', '/dev/null', '-V', 'MAKE_VERSION']).status !== 0) {
    console.log('adopt: skipped: bmake is not installed (apt-get install bmake)');
    return;
  }
  const dir = typeof opts.dir === 'string' ? opts.dir : mkdtempSync(join(tmpdir(), 'portsync-bench-adopt-'));
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'builds.yaml');
  writeFileSync(
    config,
    [
      `portsTree: { path: ${JSON.stringify(source)} }`,
      'make: { command: bmake, profile: midnightbsd }',
      'environment: { backend: host }',
      'ports:\n  - "*/*"',
      '',
    ].join('\n'),
  );
  const json: Record<string, unknown> = { tree: source, startedAt: new Date().toISOString(), targetMs: TARGET_MS };
  try {
    const state = await loadDesiredState(config);
    // A fresh database and repository each run; the metadata cache (in the build base) is kept.
    rmSync(state.paths.database, { force: true });
    rmSync(`${state.paths.database}.wal`, { force: true });
    rmSync(state.paths.packages, { recursive: true, force: true });
    const [plan, warmMs] = await timed(() => planNow(state));
    const pkgfiles = [...new Set(plan.ports.filter((p) => p.action !== 'ignored' && p.pkgfile).map((p) => p.pkgfile!))];
    const all = join(state.paths.packages, 'All');
    const [, fakeMs] = await timed(async () => fakePackages(all, pkgfiles, join(dir, 'scratch')));
    console.log(
      `plan (warming the metadata cache): ${plan.ports.length} ports in ${ms(warmMs)}; ${pkgfiles.length} packages made in ${ms(fakeMs)}`,
    );

    const t = performance.now();
    const r = spawnSync(process.execPath, [BIN, '--config', config, 'adopt', '--json'], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const adoptMs = performance.now() - t;
    if (r.status !== 0) throw new Error(`portsync adopt exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
    const report = JSON.parse(r.stdout) as {
      adopted: unknown[];
      inSync: unknown[];
      noPackage: unknown[];
      notAdopted: { origin: string; reason: string }[];
      ignored: unknown[];
      orphans: unknown[];
    };
    const after = await planNow(state);
    const present = new Set(readdirSync(all));
    const notAdopted = new Set(report.notAdopted.map((n) => n.origin));
    const stillToBuild = after.ports.filter(
      (p) => p.action === 'build' && p.pkgfile && present.has(p.pkgfile) && !notAdopted.has(p.origin),
    );
    const ok = adoptMs <= TARGET_MS && stillToBuild.length === 0;
    Object.assign(json, {
      ports: plan.ports.length,
      packages: pkgfiles.length,
      warmPlanMs: Math.round(warmMs),
      adoptMs: Math.round(adoptMs),
      adopted: report.adopted.length,
      notAdopted: report.notAdopted.length,
      notAdoptedSamples: report.notAdopted.slice(0, 10),
      noPackage: report.noPackage.length,
      ignored: report.ignored.length,
      orphans: report.orphans.length,
      afterPlan: after.summary,
      adoptedYetToBuild: stillToBuild.length,
      ok,
    });
    console.log(`\nadopt on ${source} (${plan.ports.length} ports; wall-clock on a shared machine: noisy)`);
    console.log(
      `  portsync adopt, fresh process: ${report.adopted.length} adopted, ${report.notAdopted.length} not adopted, ${report.noPackage.length} without a package, ${report.ignored.length} ignored  ${ms(adoptMs).padStart(9)}  ${ok ? 'ok' : 'MISSED'} target <= ${ms(TARGET_MS)}`,
    );
    console.log(
      `  then plan: ${after.summary.build} to build, ${after.summary.skip} up to date, ${after.summary.blocked} blocked (adopted ports still to build: ${stillToBuild.length})`,
    );
  } finally {
    mkdirSync(join(here, 'out'), { recursive: true });
    writeFileSync(join(here, 'out', 'adopt.json'), JSON.stringify(json, null, 2));
    console.log(`  (details: ${join(here, 'out', 'adopt.json')})`);
    if (typeof opts.dir !== 'string') rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchAdopt();
