/**
 * The daemon's watcher and its change hints, on real files, real git and the real daemon:
 *  - worktree mode: one fs.watch per directory sees an edited port file, a new port directory
 *    and a new nested directory; the pass after an edit re-reads only that port;
 *  - a watcher error (the watch limit, as PORTSYNC_MAX_WATCHES sets it) falls back to polling:
 *    the daemon keeps running and still sees changes; the same at run time, in-process;
 *  - commit mode: the pass after a one-port commit re-reads only that port (git diff of the checkout).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDesiredState } from '../src/config/load.js';
import type { LoopStatus } from '../src/reconcile/loop.js';
import { startWatching } from '../src/reconcile/watch.js';
import { daemonRequest } from '../src/client/request.js';
import { bmakeMissing } from './helpers/minitree.js';
import { EXAMPLE_TREE } from './helpers/project.js';
import { BIN, cli, git, waitFor } from './helpers/wait.js';

const QUICK_PORT = (name: string, version = '1.0') => `PORTNAME=\t${name}
PORTVERSION=\t${version}
CATEGORIES=\tmisc
COMMENT=\tA port with nothing to compile
MAINTAINER=\tports@example.org

DISTFILES=
NO_BUILD=\tyes

.include <bsd.port.mk>
`;

const yaml = (source: 'worktree' | 'commit') => `portsTree: { path: ports, source: ${source}, branch: main }
make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }
environment: { backend: host }
ports:
  - "misc/quick*"
watch: { debounce: 200ms, resyncInterval: 10m }
server: { socket: .portsync/d.sock }
`;

function addPort(tree: string, name: string): void {
  mkdirSync(join(tree, 'misc', name), { recursive: true });
  writeFileSync(join(tree, 'misc', name, 'Makefile'), QUICK_PORT(name));
  writeFileSync(join(tree, 'misc', name, 'pkg-descr'), `${name}\n`);
}

/** A repository with the example tree plus two quick ports, committed; the daemon started on it. */
async function startOn(
  t: { after(fn: () => unknown): void },
  source: 'worktree' | 'commit',
  env: NodeJS.ProcessEnv = {},
  wrapper: string[] = [],
) {
  const repo = mkdtempSync(join(tmpdir(), `portsync-daemon-watch-${source}-`));
  let daemon: ChildProcess | undefined;
  t.after(() => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    rmSync(repo, { recursive: true, force: true });
  });
  const tree = join(repo, 'ports');
  cpSync(EXAMPLE_TREE, tree, { recursive: true });
  addPort(tree, 'quick-a');
  addPort(tree, 'quick-b');
  writeFileSync(join(repo, 'builds.yaml'), yaml(source));
  writeFileSync(join(repo, '.gitignore'), '.portsync/\n');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'initial');
  const out = { log: '' };
  const argv = [...wrapper, process.execPath, BIN, '--config', join(repo, 'builds.yaml'), 'watch'];
  daemon = spawn(argv[0]!, argv.slice(1), { cwd: repo, env: { ...process.env, ...env } });
  daemon.stdout!.on('data', (d) => (out.log += d));
  daemon.stderr!.on('data', (d) => (out.log += d));
  const exited = new Promise<number | null>((r) => daemon!.on('exit', (code) => r(code)));
  const socket = join(repo, '.portsync', 'd.sock');
  const status = async () => {
    const r = await daemonRequest(socket, 'GET', '/status');
    if (r?.status !== 200) return undefined;
    const body = r.body as Omit<LoopStatus, 'passes'> & { daemon: { passes: number } };
    return { ...body, passes: body.daemon.passes } as LoopStatus;
  };
  const sql = async (q: string) => {
    const r = await daemonRequest(socket, 'POST', '/sql', { sql: q });
    return r && r.status === 200 ? (r.body as { rows: unknown[][] }).rows : undefined;
  };
  const builds = async (origin: string) =>
    Number((await sql(`SELECT count(*) FROM builds WHERE origin = '${origin}' AND status = 'success'`))?.[0]?.[0] ?? 0);
  /** Waits for a finished pass after `passes` whose status satisfies `ok`; fails with the daemon's log. */
  const passAfter = async (what: string, passes: number, ok: (s: LoopStatus) => boolean = () => true, timeoutMs = 60_000) =>
    waitFor(
      what,
      async () => {
        const s = await status();
        return s && !s.current && !s.pending && s.passes > passes && s.lastPass && ok(s) ? s : undefined;
      },
      timeoutMs,
    ).catch((e) => assert.fail(`${(e as Error).message}\n${out.log}`));
  const stop = async () => {
    daemon!.kill('SIGTERM');
    assert.equal(await exited, 0, out.log.slice(-3000));
  };
  return { repo, tree, socket, out, status, builds, passAfter, stop, daemon: () => daemon!, git: (...a: string[]) => git(repo, ...a) };
}

test(
  'worktree mode: the watcher sees an edited port file, a new port directory and a new nested directory',
  { skip: bmakeMissing(), timeout: 180_000 },
  async (t) => {
    const d = await startOn(t, 'worktree');
    const first = await d.passAfter('the startup pass', 0, (s) => s.lastPass!.trigger === 'startup');
    assert.equal(first.lastPass!.scan.changed, 'all', 'the first pass checks the whole tree');
    assert.match(d.out.log, /watching \d+ directories \(ready in \d+ ms, \d+ ms CPU, tree inotify\)/);
    assert.equal(await d.builds('misc/quick-a'), 1);

    // `portsync plan` while the daemon runs is answered by the daemon, the same as without one.
    const viaDaemon = await cli(d.repo, ['plan', '--json']);
    assert.equal(viaDaemon.code, 0, viaDaemon.err);
    assert.match(d.out.log, /plan asked for: \d+ ports, 0 to build/);
    const plan = JSON.parse(viaDaemon.out) as { ports: { origin: string; action: string }[] };
    assert.deepEqual(
      plan.ports.filter((p) => p.origin.startsWith('misc/quick')).map((p) => [p.origin, p.action]),
      [
        ['misc/quick-a', 'skip'],
        ['misc/quick-b', 'skip'],
      ],
    );
    const unknown = await cli(d.repo, ['plan', 'misc/nonesuch']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /misc\/nonesuch is not in the closure of builds.yaml's ports/);

    // An edited file: the pass is told about it and re-reads that port only.
    appendFileSync(join(d.tree, 'misc', 'quick-a', 'pkg-descr'), 'described better\n');
    const edited = await d.passAfter('a pass after editing quick-a', first.passes);
    assert.equal(edited.lastPass!.trigger, 'watch');
    assert.ok(
      typeof edited.lastPass!.scan.changed === 'number' && edited.lastPass!.scan.changed >= 1,
      JSON.stringify(edited.lastPass!.scan),
    );
    assert.equal(edited.lastPass!.scan.dirsRehashed, 1, `only quick-a is re-read: ${JSON.stringify(edited.lastPass!.scan)}`);
    assert.equal(edited.lastPass!.scan.makeCalls, 1, 'one make call: quick-a');
    await waitFor('quick-a rebuilt', async () => (await d.builds('misc/quick-a')) === 2);
    assert.equal(await d.builds('misc/quick-b'), 1);

    // A new port directory matching the glob: watched from now on, built unasked.
    addPort(d.tree, 'quick-new');
    await waitFor('quick-new built', async () => (await d.builds('misc/quick-new')) >= 1, 60_000).catch((e) =>
      assert.fail(`${e.message}\n${d.out.log}`),
    );
    await d.passAfter('idle after quick-new', 0);
    // ...and a file in it edited after it appeared: its directory is watched too.
    const n = await d.builds('misc/quick-new');
    writeFileSync(join(d.tree, 'misc', 'quick-new', 'Makefile'), QUICK_PORT('quick-new', '2.0'));
    await waitFor('quick-new 2.0 built', async () => (await d.builds('misc/quick-new')) === n + 1, 60_000).catch((e) =>
      assert.fail(`${e.message}\n${d.out.log}`),
    );

    // A new directory two levels below a port, with a file: part of the port's content.
    mkdirSync(join(d.tree, 'misc', 'quick-b', 'files', 'extra'), { recursive: true });
    writeFileSync(join(d.tree, 'misc', 'quick-b', 'files', 'extra', 'notes.txt'), 'deep\n');
    await waitFor('quick-b rebuilt after a nested file appeared', async () => (await d.builds('misc/quick-b')) >= 2, 60_000).catch((e) =>
      assert.fail(`${e.message}\n${d.out.log}`),
    );
    // The same nested file edited: its new directory is watched.
    await d.passAfter('idle', 0);
    const m = await d.builds('misc/quick-b');
    appendFileSync(join(d.tree, 'misc', 'quick-b', 'files', 'extra', 'notes.txt'), 'deeper\n');
    await waitFor('quick-b rebuilt after the nested file changed', async () => (await d.builds('misc/quick-b')) === m + 1, 60_000).catch(
      (e) => assert.fail(`${e.message}\n${d.out.log}`),
    );
    await d.stop();
  },
);

test(
  'a watcher error (the inotify limit) falls back to polling; the daemon keeps running and sees changes',
  { skip: bmakeMissing(), timeout: 120_000 },
  async (t) => {
    const d = await startOn(t, 'worktree', { PORTSYNC_MAX_WATCHES: '3' });
    const first = await d.passAfter('the startup pass', 0);
    assert.match(d.out.log, /warning: watching .* failed after 3 directories: ENOSPC.*polling the tree instead/);
    assert.equal(d.daemon().exitCode, null, 'the daemon runs on');
    appendFileSync(join(d.tree, 'misc', 'quick-b', 'pkg-descr'), 'polled\n');
    await waitFor('quick-b rebuilt, seen by polling', async () => (await d.builds('misc/quick-b')) === 2, 60_000).catch((e) =>
      assert.fail(`${e.message}\n${d.out.log}`),
    );
    const polled = await d.passAfter('idle after the polled change', first.passes);
    assert.notEqual(polled.lastPass!.scan.changed, 0);
    await d.stop();
  },
);

test(
  'a watcher error at run time (a new directory over the limit): polling takes over and reports what changes',
  { timeout: 60_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portsync-watch-limit-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const tree = join(dir, 'ports');
    addPort(tree, 'one');
    addPort(tree, 'two');
    writeFileSync(join(dir, 'builds.yaml'), 'portsTree: { path: ports }\nports: ["misc/*"]\n');
    const state = await loadDesiredState(join(dir, 'builds.yaml'));
    const changed: string[] = [];
    const lost: string[] = [];
    const lines: string[] = [];
    const opts = {
      onChange: (_k: string, p: string) => changed.push(p),
      onLostTrack: (r: string) => lost.push(r),
      log: (l: string) => lines.push(l),
      pollIntervalMs: 200,
    };
    // Exactly the limit: ports, misc, misc/one, misc/two.
    const w = await startWatching(state, { ...opts, maxWatches: 4 });
    t.after(() => w.close());
    assert.equal(w.treeMode(), 'inotify');
    writeFileSync(join(tree, 'misc', 'one', 'pkg-descr'), 'changed\n');
    await waitFor('the edit', () => changed.includes(join(tree, 'misc', 'one', 'pkg-descr')));
    addPort(tree, 'three'); // a fifth directory: over the limit
    await waitFor('the fallback', () => w.treeMode() === 'polling' && lost.length > 0);
    assert.match(lines.join('\n'), /ENOSPC.*polling the tree instead/);
    changed.length = 0;
    await new Promise((r) => setTimeout(r, 300)); // the first poll's snapshot
    appendFileSync(join(tree, 'misc', 'two', 'Makefile'), '# polled\n');
    await waitFor('the polled change', () => changed.includes(join(tree, 'misc', 'two', 'Makefile')), 10_000);
    rmSync(join(tree, 'misc', 'one'), { recursive: true });
    await waitFor('the polled removal', () => changed.includes(join(tree, 'misc', 'one')), 10_000);
  },
);

test('commit mode: the pass after a one-port commit re-reads only that port', { skip: bmakeMissing(), timeout: 120_000 }, async (t) => {
  const d = await startOn(t, 'commit');
  const first = await d.passAfter('the startup pass', 0, (s) => s.lastPass!.trigger === 'startup');
  assert.equal(first.lastPass!.scan.changed, 'all');
  assert.match(d.out.log, /tree none\)/, 'nothing under the tree is watched in commit mode');
  // Not committed: the working copy is not what commit mode reads.
  appendFileSync(join(d.tree, 'misc', 'quick-b', 'pkg-descr'), 'uncommitted\n');
  d.git('checkout', '-q', '--', 'ports/misc/quick-b/pkg-descr');
  appendFileSync(join(d.tree, 'misc', 'quick-a', 'pkg-descr'), 'committed\n');
  d.git('commit', '-qam', 'quick-a: new description');
  const head = d.git('rev-parse', 'HEAD');
  const s = await d.passAfter('the pass at the new commit', first.passes, (x) => x.lastPass!.gitCommit === head);
  assert.equal(s.lastPass!.scan.changed, 1, `the checkout rewrote one file: ${JSON.stringify(s.lastPass!.scan)}`);
  assert.equal(s.lastPass!.scan.dirsRehashed, 1, 'only quick-a is re-read');
  assert.equal(s.lastPass!.scan.makeCalls, 1);
  assert.equal(await d.builds('misc/quick-a'), 2);
  assert.equal(await d.builds('misc/quick-b'), 1);
  await d.stop();
});

const prlimitMissing = () =>
  spawnSync('prlimit', ['--version']).status === 0 ? false : 'needs prlimit (util-linux) to run the daemon with few file descriptors';

test(
  'file descriptors exhausted (EMFILE): the pass fails as transient, the daemon stays up and converges once they are free',
  { skip: bmakeMissing() || prlimitMissing(), timeout: 180_000 },
  async (t) => {
    // prlimit execs the daemon with at most 160 descriptors (the test's own limit is untouched).
    const d = await startOn(t, 'worktree', {}, ['prlimit', '--nofile=160:160', '--']);
    const first = await d.passAfter('the startup pass', 0);
    const pid = d.daemon().pid!;
    const openFds = () => readdirSync(`/proc/${pid}/fd`).length;
    // Idle connections hold the daemon's descriptors until none is left (it accepts below its connection cap).
    const held: Socket[] = [];
    t.after(() => held.forEach((c) => c.destroy()));
    for (let i = 0; i < 200 && openFds() < 158; i++) {
      const c = connect(d.socket);
      c.on('error', () => undefined);
      held.push(c);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor('the daemon out of descriptors', () => openFds() >= 158, 20_000).catch((e) =>
      assert.fail(`${e.message}: ${openFds()} open\n${d.out.log}`),
    );

    appendFileSync(join(d.tree, 'misc', 'quick-a', 'pkg-descr'), 'needs descriptors to read\n');
    await waitFor('the pass failing for want of descriptors, to be retried', () => /retrying in \d+s/.test(d.out.log), 60_000).catch((e) =>
      assert.fail(`${e.message}\n${d.out.log}`),
    );
    assert.match(d.out.log, /EMFILE/, 'the failure names its cause');
    assert.equal(d.daemon().exitCode, null, 'the daemon is still running');
    assert.doesNotMatch(d.out.log, /^\s+at .*\(.*:\d+:\d+\)$/m, 'no stack trace in the log');

    // Descriptors free again: the retry rebuilds quick-a, and the daemon answers.
    held.forEach((c) => c.destroy());
    await waitFor('quick-a rebuilt by the retry', async () => (await d.builds('misc/quick-a')) === 2, 90_000).catch((e) =>
      assert.fail(`${e.message}\n${d.out.log}`),
    );
    const after = await d.passAfter('a clean pass after the retry', first.passes, (s) => s.lastPass!.status === 'success');
    assert.equal(after.lastPass!.status, 'success');
    await d.stop();
  },
);
