/**
 * The kept standalone plan (src/reconcile/plan-snapshot.ts): `portsync plan` with nothing changed
 * prints the last plan; any change to what that plan was made from — a port's file, a new file
 * or port, the framework, a package, the database, builds.yaml — makes it plan again. Real
 * bmake, real builds of the example tree (host backend), the real CLI; the oracle is a plan
 * computed in this process from scratch.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  cpSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { BuildDB } from '../src/builddb/db.js';
import { loadDesiredState } from '../src/config/load.js';
import { knownFromRows } from '../src/reconcile/known.js';
import { observe } from '../src/reconcile/observe.js';
import { makePlan } from '../src/reconcile/plan.js';
import { beginPlanSnapshot, loadPlanSnapshot, planSnapshotFile } from '../src/reconcile/plan-snapshot.js';
import { planJson, type PlanJson } from '../src/reconcile/result-json.js';
import { forgetOpenCaches } from '../src/ports/scanner.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { cli } from './helpers/wait.js';
import { planHere } from '../src/cli/plan.js';
import { resolvePassSource } from '../src/reconcile/source.js';

const skip = bmakeMissing();
if (skip) console.log(`plan-snapshot tests skipped: ${skip}`);
const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((f) => f()));

/** Sets every file's and directory's times a minute back: old enough for stat data to be trusted (the racy rule). */
function backdate(dir: string): void {
  const t = new Date(Date.now() - 60_000);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) backdate(p);
    if (!e.isSymbolicLink()) utimesSync(p, t, t);
  }
  utimesSync(dir, t, t);
}

/** The plan computed from scratch in this process (no snapshot, no memo). */
async function freshPlan(config: string): Promise<PlanJson> {
  forgetOpenCaches();
  const state = await loadDesiredState(config);
  const db = await BuildDB.open(state.paths.database, { readOnly: true });
  try {
    return planJson(makePlan(await observe(state), { known: knownFromRows(await db.allPortState()) }));
  } finally {
    await db.close();
  }
}

/**
 * Runs `fn` with the build database's bytes spoiled in place, its size, inode and times as they
 * were (backdated: whole milliseconds): a plan that trusts its stat data does not read it, and
 * whatever reads it fails.
 */
async function withSpoiledDatabase<T>(p: TestProject, fn: () => Promise<T>): Promise<T> {
  const db = join(p.dir, '.portsync', 'builddb.duckdb');
  const st = statSync(db);
  const original = readFileSync(db);
  const overwrite = (bytes: Buffer) => {
    const fd = openSync(db, 'r+');
    writeSync(fd, bytes, 0, bytes.length, 0);
    closeSync(fd);
    utimesSync(db, st.atime, st.mtime);
  };
  overwrite(Buffer.alloc(st.size, 0x5a));
  const now = statSync(db);
  assert.deepEqual([now.size, now.mtimeMs, now.ino], [st.size, st.mtimeMs, st.ino], 'the spoiled database looks as it was');
  try {
    return await fn();
  } finally {
    overwrite(original);
  }
}

async function cliPlan(p: TestProject): Promise<PlanJson> {
  const r = await cli(p.dir, ['plan', '--json']);
  assert.ok(r.code === 0 || r.code === 1, `plan exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as PlanJson;
}

/**
 * A plan made as `portsync plan` makes it, in this process, with the kept plan's check split
 * over two threads as on a real tree (whose tens of thousands of paths are split): what a
 * change calls for is read while the other thread checks, and the make calls of the ports the
 * changes found first touch begin then.
 */
async function splitPlan(p: TestProject): Promise<PlanJson> {
  forgetOpenCaches();
  const { state, tree } = await resolvePassSource(p.config);
  return JSON.parse(JSON.stringify(await planHere(state, tree, [], [], { minPerThread: 1 }))) as PlanJson;
}

/** The snapshot a plan would print now, or undefined when it no longer stands. */
async function kept(p: TestProject): Promise<PlanJson | undefined> {
  const state = await loadDesiredState(p.config);
  const k = await loadPlanSnapshot(beginPlanSnapshot(state, state.portsTree.path, []));
  return k && 'plan' in k ? k.plan : undefined;
}

const actionOf = (plan: PlanJson, origin: string) => plan.ports.find((x) => x.origin === origin)?.action;

test(
  'plan keeps its answer while nothing changed, and plans again after any change to what it was made from',
  { skip, timeout: 300_000 },
  async () => {
    const p = new TestProject({ ports: ['devel/*', 'textproc/gamma'], backend: 'host' });
    cleanup.push(() => p.remove());
    await p.pass(); // built once: the changes below are each planned, not built (the database step builds them)
    backdate(p.dir);

    // Nothing changed since the pass: the first plan is kept, the second prints it.
    const first = await cliPlan(p);
    assert.equal(first.summary.build, 0);
    assert.ok(existsSync(planSnapshotFile(await loadDesiredState(p.config))), 'the plan was kept');
    assert.deepEqual(await kept(p), first);
    const cacheAt = statSync(join(p.dir, '.portsync', 'build', 'metadata-cache.json')).mtimeMs;
    assert.deepEqual(await cliPlan(p), first);
    assert.equal(
      statSync(join(p.dir, '.portsync', 'build', 'metadata-cache.json')).mtimeMs,
      cacheAt,
      'the second plan read nothing of the tree',
    );

    /** Makes a change, then: the snapshot no longer stands, and the CLI's plan is the one made from scratch. */
    async function afterChange(what: string, change: () => void | Promise<void>, check: (plan: PlanJson) => void): Promise<void> {
      backdate(p.dir);
      await cliPlan(p); // kept again, as of now
      assert.ok(await kept(p), `${what}: a snapshot before the change`);
      await change();
      assert.equal(await kept(p), undefined, `${what}: the snapshot no longer stands`);
      const plan = await cliPlan(p);
      assert.deepEqual(plan, await freshPlan(p.config), `${what}: the CLI's plan is the one made from scratch`);
      check(plan);
    }

    await afterChange(
      'a port Makefile',
      () => p.append('devel/libalpha/Makefile', '# a comment\n'),
      (plan) => {
        assert.equal(actionOf(plan, 'devel/libalpha'), 'build');
      },
    );
    await afterChange(
      'a new file in a port directory',
      () => p.write('devel/libbeta/pkg-message', 'hello\n'),
      (plan) => {
        assert.equal(actionOf(plan, 'devel/libbeta'), 'build');
      },
    );
    await afterChange(
      'a framework file',
      () => p.append('Mk/bsd.port.mk', '# framework comment\n'),
      (plan) => {
        assert.ok(plan.ports.filter((x) => x.action === 'build').length >= 1, 'ports that read the framework rebuild');
      },
    );
    await afterChange(
      'a new port matched by a glob',
      () => {
        cpSync(p.file('devel/libbeta'), p.file('devel/libgamma'), { recursive: true });
        writeFileSync(
          p.file('devel/libgamma/Makefile'),
          p.read('devel/libgamma/Makefile').replace(/^PORTNAME=.*$/m, 'PORTNAME=\tlibgamma'),
        );
      },
      (plan) => {
        assert.equal(actionOf(plan, 'devel/libgamma'), 'build');
      },
    );
    const pkgs = readdirSync(p.packages);
    const alpha = pkgs.find((f) => f.startsWith('libalpha-'))!;
    await afterChange(
      'a package replaced with another of the same size',
      () => {
        const file = join(p.packages, alpha);
        const bytes = readFileSync(file);
        bytes[bytes.length - 1] ^= 0xff;
        writeFileSync(file, bytes);
      },
      (plan) => {
        assert.equal(actionOf(plan, 'devel/libalpha'), 'build');
        assert.ok(plan.ports.find((x) => x.origin === 'devel/libalpha')!.reasons.some((r) => r.kind === 'package-changed'));
      },
    );
    await afterChange(
      'the database (a pass built it back)',
      () => p.pass().then(() => undefined),
      (plan) => {
        assert.equal(actionOf(plan, 'devel/libalpha'), 'skip');
      },
    );
    await afterChange(
      'builds.yaml',
      () => p.writeConfig({ ports: ['devel/libalpha'], backend: 'host' }),
      (plan) => {
        assert.deepEqual(
          plan.ports.map((x) => x.origin),
          ['devel/libalpha'],
        );
      },
    );
  },
);

test(
  'after a change to some ports, a fresh plan reads only those ports again and decides only them and what depends on them: the plan made from scratch',
  { skip, timeout: 300_000 },
  async () => {
    const p = new TestProject({ ports: ['devel/*', 'textproc/gamma', 'misc/greet', 'misc/greet-fr'], backend: 'host' });
    cleanup.push(() => p.remove());
    await p.pass();
    const cache = join(p.dir, '.portsync', 'build', 'metadata-cache.json');
    const old = new Date(Date.now() - 60_000);

    /**
     * A change planned by the CLI from the kept plan: the metadata cache is gone, so a plan that
     * walked the tree would write it (`walks`); the plan is the one made from scratch.
     */
    async function afterChange(what: string, change: () => void, walks: boolean, split = false): Promise<PlanJson> {
      rmSync(cache, { force: true });
      change();
      const planNow = () => (split ? splitPlan(p) : cliPlan(p));
      // Planned from the kept one, the recorded key parts it compares are known from it: the database is not read.
      const plan = walks ? await planNow() : await withSpoiledDatabase(p, planNow);
      assert.equal(existsSync(cache), walks, `${what}: ${walks ? 'the tree was walked' : 'only the changed ports were read again'}`);
      assert.deepEqual(plan, await freshPlan(p.config), `${what}: the CLI's plan is the one made from scratch`);
      return plan;
    }
    /** A kept plan of the state as it is now (the whole tree backdated: planned in full). */
    async function keptNow(): Promise<void> {
      backdate(p.dir);
      await cliPlan(p);
      assert.ok(await kept(p), 'a kept plan');
    }

    await keptNow();
    let plan = await afterChange('a comment in a library', () => p.append('devel/libalpha/Makefile', '# a comment\n'), false);
    assert.equal(actionOf(plan, 'devel/libalpha'), 'build');
    assert.equal(actionOf(plan, 'devel/libbeta'), 'pending');
    assert.equal(actionOf(plan, 'textproc/gamma'), 'pending');
    assert.equal(actionOf(plan, 'misc/greet'), 'skip');

    // The plan just made is kept in its turn (the changed file old enough to trust): a second change plans from it.
    utimesSync(p.file('devel/libalpha/Makefile'), old, old);
    await cliPlan(p);
    assert.ok(await kept(p), 'the plan made from the kept one is kept');
    plan = await afterChange(
      'a second port, after the first',
      () => {
        p.append('devel/libbeta/Makefile', '# another comment\n');
        utimesSync(p.file('devel/libbeta/Makefile'), old, old);
      },
      false,
    );
    assert.equal(actionOf(plan, 'devel/libbeta'), 'build');

    await keptNow();
    plan = await afterChange('a master port (its slave reads it)', () => p.append('misc/greet/Makefile', '# master comment\n'), false);
    assert.equal(actionOf(plan, 'misc/greet'), 'build');
    assert.equal(actionOf(plan, 'misc/greet-fr'), 'build', 'the slave port read the changed Makefile');

    await keptNow();
    plan = await afterChange(
      'a version bump',
      () => writeFileSync(p.file('devel/libalpha/Makefile'), p.read('devel/libalpha/Makefile').replace('1.2.0', '1.2.1')),
      false,
    );
    assert.equal(plan.ports.find((x) => x.origin === 'devel/libalpha')?.version, '1.2.1');

    // The check split over two threads, as on a real tree: the changes found first are read while it goes on.
    await keptNow();
    plan = await afterChange('a master port, the check split', () => p.append('misc/greet/Makefile', '# split\n'), false, true);
    assert.equal(actionOf(plan, 'misc/greet-fr'), 'build', 'the slave port read the changed Makefile');
    await keptNow();
    plan = await afterChange(
      'two ports apart, the check split (the second may be found after the first is read)',
      () => {
        p.append('devel/libalpha/Makefile', '# split\n');
        p.append('textproc/gamma/Makefile', '# split\n');
      },
      false,
      true,
    );
    assert.equal(actionOf(plan, 'devel/libalpha'), 'build');
    assert.equal(actionOf(plan, 'textproc/gamma'), 'build');

    await keptNow();
    plan = await afterChange('IGNORE set', () => p.append('devel/libalpha/Makefile', 'IGNORE=\tbroken on purpose\n'), false);
    assert.equal(actionOf(plan, 'devel/libalpha'), 'ignored');
    assert.equal(actionOf(plan, 'textproc/gamma'), 'blocked');

    await keptNow();
    await afterChange(
      'a dependency added (the graph changes: planned in full)',
      () => p.append('misc/greet/Makefile', 'BUILD_DEPENDS+=\tlibalpha.so:devel/libalpha\n'),
      true,
    );
    await keptNow();
    // (A plan that reads the database fails while it is spoiled: the checks above could fail.)
    p.append('Mk/bsd.port.mk', '# framework comment\n');
    const spoiled = await withSpoiledDatabase(p, () => cli(p.dir, ['plan', '--json']));
    assert.equal(spoiled.code, 2, `a full plan reads the spoiled database and fails: ${spoiled.err}`);
    await afterChange('a framework file (planned in full)', () => p.append('Mk/bsd.port.mk', '# framework comment\n'), true);
  },
);
