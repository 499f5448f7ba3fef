/**
 * Reconcile benchmark on a generated 10,000-port tree in a git repository, with a build
 * database seeded as if every port had been built (one transaction, empty package files):
 *  - a no-change pass (observe, plan, record the run) in a long-lived process like the daemon,
 *    and the same as a fresh `portsync plan` process;
 *  - a one-port commit: time until the plan is ready, and what it plans.
 *   tsx bench/reconcile.ts [--ports 10000] [--dir DIR]
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FailSafeBuildDB } from '../src/builddb/failsafe.js';
import { LineProgress } from '../src/builder/progress.js';
import { reconcilePass } from '../src/reconcile/pass.js';
import { benchArgs, benchProject, planNow, report, seedAsBuilt, timed } from './lib.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export async function benchReconcile(args = benchArgs({ ports: 10_000 })): Promise<void> {
  args = { ...args, dir: args.dir.replace(/portsync-bench-/, 'portsync-bench-reconcile-') };
  const { state, tree, config } = await benchProject(args);
  if (!existsSync(join(tree, '.git'))) {
    git(tree, 'init', '-q', '-b', 'main');
    git(tree, 'add', '-A');
    git(tree, '-c', 'user.email=bench@example.org', '-c', 'user.name=bench', 'commit', '-qm', 'generated tree');
  }
  // Seed: every buildable port recorded as built at its current key, its package present.
  const { ms: seedMs, plan: seedPlan } = await seedAsBuilt(state);
  const obs = seedPlan.observation;

  // No-change passes in one process with one open database, as the daemon runs them.
  const passes: number[] = [];
  let skipped = 0;
  let built = 0;
  const daemonDb = await FailSafeBuildDB.open(state.paths.database, {}, (l) => console.error(l));
  for (let i = 0; i < 4; i++) {
    const [r, t] = await timed(() =>
      reconcilePass(state, { trigger: 'bench', progress: new LineProgress(() => {}), log: () => {}, db: daemonDb }),
    );
    passes.push(t);
    skipped = r.stats.skipped;
    built = r.stats.success + r.stats.failed;
  }
  await daemonDb.close();
  const warm = passes.slice(1).sort((a, b) => a - b);
  const cli = (argv: string[]) => {
    const t = performance.now();
    try {
      execFileSync(process.execPath, [join(import.meta.dirname, '../bin/portsync.js'), '--config', config, ...argv], { stdio: 'ignore' });
    } catch {
      /* exit 1 = work to do */
    }
    return performance.now() - t;
  };
  const cliPlan = cli(['plan']);

  // One-port commit: a leaf port (nothing depends on it) changes.
  const leaf = [...obs.graph.nodes.values()].find(
    (n) => n.port && !n.port.meta.ignore && n.rdeps.size === 0 && !n.port.meta.flavors.length,
  )!.port!.meta.dir;
  appendFileSync(join(tree, leaf, 'Makefile'), `# bench change ${Date.now()}\n`);
  git(tree, 'add', '-A');
  git(tree, '-c', 'user.email=bench@example.org', '-c', 'user.name=bench', 'commit', '-qm', `bench: touch ${leaf}`);
  const [planned, planMs] = await timed(() => planNow(state));
  const toBuild = planned.ports.filter((p) => p.action === 'build').map((p) => p.origin);
  const cliOne = cli(['plan']);
  report('reconcile', `reconcile on ${obs.scan.stats.ports} ports (${args.ports} port directories), ${tree}`, [
    { figure: 'seeding the database', value: Math.round(seedMs), unit: 'ms' },
    { figure: 'no-change pass, first in the daemon', value: Math.round(passes[0]!), unit: 'ms' },
    { figure: 'no-change pass, daemon (median)', value: Math.round(warm[Math.floor(warm.length / 2)]!), unit: 'ms', max: 500 },
    { figure: '  skipped / built', value: `${skipped} / ${built}` },
    { figure: '`portsync plan`, fresh process', value: Math.round(cliPlan), unit: 'ms', max: 1500 },
    { figure: `one-port commit -> plan ready (${leaf})`, value: Math.round(planMs), unit: 'ms', max: 1000 },
    { figure: '  ports planned to build', value: toBuild.join(' ') || '(none)' },
    { figure: 'one-port commit, fresh `portsync plan`', value: Math.round(cliOne), unit: 'ms', max: 2000 },
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchReconcile();
