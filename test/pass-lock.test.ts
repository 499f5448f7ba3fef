/**
 * Two passes at once must never happen: real `portsync reconcile` processes on one project
 * (bmake, host backend, a real DuckDB file). The second is refused, naming the first (pid,
 * command, since when), exit 2, and builds nothing; a killed holder's lock is taken over; a
 * database held by another process refuses the pass too; while the daemon runs it holds the lock
 * and `reconcile` goes through it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquirePassLock, passLockPath, PassRunningError } from '../src/reconcile/passLock.js';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject } from './helpers/project.js';
import { BIN, cli, git, waitFor } from './helpers/wait.js';
import { startDaemon } from './sql-helpers.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  projects.forEach((p) => p.remove());
});

/** misc/greet and a port whose build prints `marker` and sleeps `seconds`: a pass that is still running. */
function slowProject(marker: string, seconds: number): TestProject {
  const p = new TestProject({ ports: ['misc/slowpoke', 'misc/greet'], backend: 'host' });
  projects.push(p);
  p.addPort('misc/slowpoke', { build: `@echo ${marker}; sleep ${seconds}` });
  return p;
}

function startReconcile(
  p: TestProject,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess & { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, '--config', p.config, 'reconcile'], { cwd: p.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return Object.assign(child, { output: () => out, exited });
}

const building = (p: TestProject, marker: string) => {
  const log = join(p.dir, '.portsync/logs/misc___slowpoke.log');
  return waitFor('the slow build to run', () => existsSync(log) && readFileSync(log, 'utf8').includes(marker), 60_000);
};

test(
  'a second reconcile while one runs is refused naming it (pid, command, since when), exits 2 and builds nothing',
  { skip, timeout: 180_000 },
  async () => {
    const marker = 'pass-lock-second-marker';
    const p = slowProject(marker, 8);
    const first = startReconcile(p);
    await building(p, marker);
    const lockFile = passLockPath(join(p.dir, '.portsync', 'build'));
    const held = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; command: string; since: string };
    assert.equal(held.pid, first.pid);

    const second = await cli(p.dir, ['reconcile']);
    assert.equal(second.code, 2, `${second.out}\n${second.err}`);
    const since = held.since.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(
      second.err,
      new RegExp(
        `another pass is already running on this project: pid ${first.pid} \\(.*portsync\\.js --config ${p.config} reconcile\\) has held ${lockFile} since ${since} \\(\\d+s ago\\)`,
      ),
    );
    assert.match(
      second.err,
      new RegExp(
        `builds nothing\\. Wait for it to finish, or stop it \\(kill -TERM ${first.pid}\\); while \`portsync watch\` runs, \`portsync reconcile\` goes through it\\.`,
      ),
    );
    assert.doesNotMatch(second.err, /internal error|\n\s+at /);
    assert.doesNotMatch(second.out, /start misc\/greet|building \d+ port/, 'the refused pass started no build');

    assert.equal(await first.exited, 0, first.output());
    assert.equal(existsSync(lockFile), false, 'the lock goes with its pass');
    const runs = await p.query<{ n: bigint }>('SELECT count(*) AS n FROM runs');
    assert.equal(Number(runs[0]!.n), 1, 'one pass recorded, and no other ran');
    const greet = await p.query<{ n: bigint }>("SELECT count(*) AS n FROM builds WHERE origin = 'misc/greet'");
    assert.equal(Number(greet[0]!.n), 1, 'misc/greet was built once');

    const third = await cli(p.dir, ['reconcile']);
    assert.equal(third.code, 0, third.err);
    assert.match(third.out, /misc\/greet@1\.0 \(CRC match, skipped\)/);
  },
);

test("commit mode: the refused pass leaves the running pass's checkout where it is", { skip, timeout: 180_000 }, async () => {
  const marker = 'pass-lock-commit-marker';
  const p = slowProject(marker, 8);
  writeFileSync(
    p.config,
    `${readFileSync(p.config, 'utf8').replace('portsTree: { path: ports }', 'portsTree: { path: ports, source: commit, branch: main }')}\n`,
  );
  writeFileSync(join(p.dir, '.gitignore'), '.portsync/\n');
  git(p.dir, 'init', '-q', '-b', 'main');
  git(p.dir, 'add', '-A');
  git(p.dir, 'commit', '-qm', 'first');
  const first = git(p.dir, 'rev-parse', 'HEAD');
  const running = startReconcile(p);
  await building(p, marker);
  const checkout = join(p.dir, '.portsync', 'build', 'checkout');
  assert.equal(git(checkout, 'rev-parse', 'HEAD'), first);
  p.append('misc/greet/Makefile', '# a new commit\n');
  git(p.dir, 'commit', '-qam', 'second');
  const refused = await cli(p.dir, ['reconcile']);
  assert.equal(refused.code, 2, refused.err);
  assert.match(refused.err, new RegExp(`another pass is already running on this project: pid ${running.pid} `));
  assert.equal(git(checkout, 'rev-parse', 'HEAD'), first, 'the checkout the running pass builds from did not move');
  assert.equal(await running.exited, 0, running.output());
  const [run] = await p.query<{ git_commit: string }>('SELECT git_commit FROM runs');
  assert.equal(run!.git_commit, first);
});

test(
  'the lock of a killed pass is taken over; a database held by another process refuses the pass, naming it',
  { skip, timeout: 180_000 },
  async () => {
    const marker = 'pass-lock-killed-marker';
    const p = slowProject(marker, 40);
    const first = startReconcile(p);
    await building(p, marker);
    first.kill('SIGKILL');
    await first.exited;
    const lockFile = passLockPath(join(p.dir, '.portsync', 'build'));
    assert.ok(existsSync(lockFile), 'SIGKILL leaves the lock file behind');
    writeFileSync(p.file('misc/slowpoke/Makefile'), p.read('misc/slowpoke/Makefile').replace(/sleep \d+/, 'true'));
    const next = await cli(p.dir, ['reconcile']);
    assert.equal(next.code, 0, next.err);
    assert.match(next.err, new RegExp(`took over the pass lock ${lockFile} left by pid ${first.pid} \\(.*reconcile\\), which is gone`));

    // Another process holds the database read-write (here: a stand-in for a command writing it).
    const script = join(p.dir, 'holder.mjs');
    writeFileSync(
      script,
      `import { BuildDB } from ${JSON.stringify(join(REPO, 'src/builddb/db.ts'))};
await BuildDB.open(process.argv[2], { processInfo: 'portsync adopt (test holder)' });
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`,
    );
    const holder = spawn(process.execPath, ['--import', 'tsx', script, p.database], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    await new Promise<void>((res, rej) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && res());
      holder.once('exit', (code) => rej(new Error(`holder exited early (${code})`)));
    });
    const before = readdirSync(p.packages).sort();
    p.append('misc/greet/Makefile', '# changed: would rebuild\n');
    const refused = await cli(p.dir, ['reconcile']);
    assert.equal(refused.code, 2, `${refused.out}\n${refused.err}`);
    assert.match(
      refused.err,
      new RegExp(
        `another pass is already running on this project: pid ${holder.pid} \\(portsync adopt \\(test holder\\)\\) has held ${p.database} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(\\d+s ago\\)`,
      ),
    );
    assert.doesNotMatch(refused.err, /builds continue without recording/, 'never "build everything unrecorded"');
    assert.deepEqual(readdirSync(p.packages).sort(), before, 'nothing was built into the repository');
    assert.equal(existsSync(lockFile), false, 'the refused pass let go of the pass lock');
    holder.kill('SIGKILL');
  },
);

test(
  'the daemon holds the lock while it runs: reconcile goes through it, a pass that bypasses it is refused naming it',
  { skip, timeout: 180_000 },
  async (t) => {
    const p = new TestProject({ ports: ['misc/greet'], backend: 'host' });
    projects.push(p);
    const daemon = await startDaemon(t, p.config);
    const lockFile = passLockPath(join(p.dir, '.portsync', 'build'));
    const held = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; command: string };
    assert.deepEqual([held.pid, held.command], [daemon.pid, `portsync watch (pid ${daemon.pid})`]);

    const via = await cli(p.dir, ['reconcile'], { ...process.env, PORTSYNC_FROM_SOURCE: '1' });
    assert.equal(via.code, 0, via.err);
    assert.match(via.out, /reconciled by the running daemon/);

    // Another builds.yaml for the same project whose socket does not reach the daemon.
    const other = join(p.dir, 'other.yaml');
    writeFileSync(other, `${readFileSync(p.config, 'utf8')}\nserver: { socket: .portsync/other.sock }\n`);
    const bypass = spawn(process.execPath, [BIN, '--config', other, 'reconcile'], { cwd: p.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    bypass.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => bypass.on('exit', r));
    assert.equal(code, 2, err);
    assert.match(
      err,
      new RegExp(
        `another pass is already running on this project: pid ${daemon.pid} \\(portsync watch \\(pid ${daemon.pid}\\)\\) has held ${lockFile}`,
      ),
    );

    assert.equal(await daemon.stop(), 0);
    assert.equal(existsSync(lockFile), false, 'the daemon lets go of the lock when it stops');
  },
);

test('in one process: the lock refuses a second holder and is free again once released', async () => {
  const base = join(mkdtempSync(join(tmpdir(), 'portsync-lock-')), 'build');
  const lock = await acquirePassLock(base, 'first holder');
  try {
    await assert.rejects(acquirePassLock(base, 'second holder'), (e) => {
      assert.ok(e instanceof PassRunningError);
      assert.equal(e.holder.pid, process.pid);
      assert.equal(e.holder.command, 'first holder');
      return true;
    });
  } finally {
    lock.release();
  }
  const again = await acquirePassLock(base, 'second holder');
  again.release();
  assert.equal(existsSync(passLockPath(base)), false);
  // A lock file that does not parse: being written a moment ago (held), or left by a crash (stale).
  writeFileSync(passLockPath(base), '');
  await assert.rejects(acquirePassLock(base, 'third holder'), PassRunningError);
  utimesSync(passLockPath(base), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  const third = await acquirePassLock(base, 'third holder');
  assert.equal(JSON.parse(readFileSync(passLockPath(base), 'utf8')).command, 'third holder');
  third.release();
  rmSync(join(base, '..'), { recursive: true, force: true });
});
