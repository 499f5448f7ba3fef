/**
 * Reading a tree runs its Makefiles' `!=` commands: as root, portsync runs them as the
 * unprivileged reader (uid 65534, no capabilities, no_new_privs, clean environment, own PID
 * namespace); a tree that user cannot enter is read as root with a warning naming the directory;
 * SIGTERM stops a read stuck in a hanging `!=` at once. Real bmake, real processes, real
 * permissions (test/fixtures/ports-parsetime).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readerFor, type MakeSettings } from '../src/ports/make.js';
import { DROP_TO_READER, READER_UID, deniedToReader, onPath } from '../src/ports/make-user.js';
import { applyMakeProfile, lastProbeCache } from '../src/ports/profile.js';
import { scanPorts, type ScanOptions } from '../src/ports/scanner.js';
import { bmakeMissing } from './helpers/minitree.js';
import { BIN } from './helpers/wait.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ports-parsetime');
const noBmake = bmakeMissing();
/** Why the unprivileged reader cannot be tested here, or undefined. */
const noReader = noBmake ?? (process.platform !== 'linux'
  ? `the unprivileged reader needs Linux (this is ${process.platform})`
  : process.getuid?.() !== 0
    ? 'the unprivileged reader is used only when portsync runs as root (CI runs as root; run this file with sudo to include it)'
    : onPath('setpriv') ? undefined : 'setpriv is not installed (util-linux)');
for (const [what, why] of [['bmake tests', noBmake], ['unprivileged-reader tests', noReader]] as const) {
  if (why) console.log(`# tree-unprivileged.test.ts: ${what} skipped: ${why}`);
}

let root: string;
/** A copy of the fixture tree under a 0755 directory: the reader can enter it. */
let open: string;
/** A root-owned 0755 directory: the reader may look, not write. */
let target: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'portsync-unpriv-'));
  chmodSync(root, 0o755);
  open = join(root, 'open', 'ports');
  cpSync(FIXTURE, open, { recursive: true });
  chmodSync(join(root, 'open'), 0o755);
  target = join(root, 'target');
  mkdirSync(target, { mode: 0o755 });
});
after(() => rmSync(root, { recursive: true, force: true }));

const settingsFor = (tree: string, vars: Record<string, string> = {}): MakeSettings =>
  ({ command: 'bmake', env: {}, vars, portsTree: tree, emptyLocalbase: join(root, 'empty') });
const scan = (roots: string[], settings: MakeSettings, extra: Partial<ScanOptions> = {}) =>
  scanPorts(roots, { settings, cacheFile: null, concurrency: 2, ...extra });

/** whoami's report: `key=value` words of its IGNORE. */
function report(ignore: string): Record<string, string> {
  return Object.fromEntries(ignore.split(/\s+/).filter(Boolean).map((w) => w.split('=', 2) as [string, string]));
}

/** Pids of processes whose command line is exactly these arguments. */
function processesRunning(...argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want;
    } catch {
      return false;
    }
  }).map(Number);
}

/** Pids of processes whose command line contains `text`. */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Waits until `find` finds nothing (kills are asynchronous), at most `ms`; returns the survivors. */
async function noneWithin(ms: number, find: () => number[]): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = find();
    if (!left.length || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until no process runs `argv`, at most `ms`; returns the survivors. */
async function goneWithin(ms: number, ...argv: string[]): Promise<number[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = processesRunning(...argv);
    if (!left.length || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('as root, a Makefile\'s `!=` runs as uid 65534 without capabilities, no_new_privs, secrets or write access', { skip: noReader }, async () => {
  process.env.PORTSYNC_TEST_SECRET = 'hunter2';
  try {
    const settings = settingsFor(open, { PROBE_TARGET: target, PROBE_MAIN_PID: String(process.pid) });
    const reader = readerFor(settings);
    assert.equal(reader.unprivileged, true, 'the tree is readable by the reader: it must be used');
    const r = await scan(['parse/whoami'], settings);
    assert.deepEqual([...r.problems.values()], []);
    const got = report(r.ports.get('parse/whoami')!.meta.ignore);
    const none = '0000000000000000';
    assert.deepEqual(
      { uid: got.uid, gid: got.gid, groups: got.groups, CapInh: got.CapInh, CapPrm: got.CapPrm, CapEff: got.CapEff, CapBnd: got.CapBnd, CapAmb: got.CapAmb, NoNewPrivs: got.NoNewPrivs },
      { uid: String(READER_UID), gid: String(READER_UID), groups: String(READER_UID), CapInh: none, CapPrm: none, CapEff: none, CapBnd: none, CapAmb: none, NoNewPrivs: '1' },
    );
    // Not into a root-owned 0755 directory, not into HOME (which exists: an empty directory).
    assert.equal(got.write, 'no');
    assert.ok(!existsSync(join(target, 'written-at-parse-time')));
    assert.equal(got.homedir, 'yes');
    assert.equal(got.homewrite, 'no');
    assert.deepEqual(readdirSync(reader.home), []);
    // No secret of portsync's environment: not in make's, and portsync's own is out of reach.
    assert.equal(got.secret, 'none');
    assert.equal(got.mainenv, 'no');
    if (reader.pidNamespace) {
      // Its own PID namespace and /proc: pid 1 is the reader's init, and no host process is in sight.
      assert.equal(got.init, '1');
      const hostProcesses = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).length;
      assert.ok(Number(got.processes) < hostProcesses, `it sees ${got.processes} processes (the host: ${hostProcesses})`);
    }
    // The runner process (the reader's too) was not handed portsync's environment either.
    const runners = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('make-runner.mjs') && /^Uid:\s+65534\b/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return false;
      }
    });
    assert.ok(runners.length >= 1, 'a make runner running as the reader');
    for (const pid of runners) {
      const names = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => kv.split('=')[0]).sort();
      // (PWD: set by the shell that is the namespace's init.)
      assert.deepEqual(names.filter((n) => n !== 'PWD'), ['LANG', 'PATH']);
    }
  } finally {
    delete process.env.PORTSYNC_TEST_SECRET;
  }
});

test('what a Makefile leaves running (setsid, even holding make\'s stderr) neither delays the read nor outlives it', { skip: noReader }, async (t) => {
  const settings = settingsFor(open);
  if (!readerFor(settings).pidNamespace) {
    // Without a PID namespace (a container refusing unshare --pid) such a process survives: say so rather than leave one behind.
    t.skip('no PID namespace here (unshare --pid refused): a process a Makefile daemonizes is not contained');
    return;
  }
  const marks = join(root, 'marks');
  mkdirSync(marks);
  chownSync(marks, READER_UID, READER_UID);
  const t0 = performance.now();
  const r = await scan(['parse/escape'], { ...settings, vars: { ESCAPE_MARKS: marks } });
  const took = performance.now() - t0;
  assert.deepEqual([...r.problems.values()], []);
  assert.ok(r.ports.has('parse/escape'));
  assert.ok(took < 10_000, `the read waited for a process the Makefile left behind: ${Math.round(took)} ms`);
  // Both had started when make finished (make waits for their marks); both are gone.
  assert.ok(existsSync(join(marks, 'bg')) && existsSync(join(marks, 'bg2')));
  assert.deepEqual(await goneWithin(3000, 'sleep', '2742'), []);
  assert.deepEqual(await goneWithin(3000, 'sleep', '2743'), []);
});

test('a reader that cannot use a path is told which directory stops it', { skip: noReader }, () => {
  const deep = join(root, 'closed', 'inner', 'ports');
  mkdirSync(deep, { recursive: true });
  chmodSync(join(root, 'closed'), 0o700);
  writeFileSync(join(root, 'secret.mk'), '');
  chmodSync(join(root, 'secret.mk'), 0o600);
  const denied = deniedToReader(['setpriv', ...DROP_TO_READER, '--'], [
    { path: deep, need: 'rx' }, { path: open, need: 'rx' }, { path: join(root, 'secret.mk'), need: 'r' },
  ]);
  assert.deepEqual(denied.map((d) => [d.path, d.blocker]), [[deep, join(root, 'closed')], [join(root, 'secret.mk'), join(root, 'secret.mk')]]);
});

test('as root, a make profile\'s probe cache is generated by the reader too, and the tree then reads with it', { skip: noReader }, async () => {
  const bsd = join(dirname(FIXTURE), 'ports-bsdlike');
  const tree = join(root, 'bsdlike', 'tree');
  cpSync(join(bsd, 'tree'), tree, { recursive: true });
  chmodSync(join(root, 'bsdlike'), 0o755);
  // The fixture's compiler appends to PROBE_COUNTER: in a directory only the reader may write,
  // the file is created by whoever ran the probe.
  const probes = join(root, 'probes');
  mkdirSync(probes, { mode: 0o755 });
  chownSync(probes, READER_UID, READER_UID);
  const counter = join(probes, 'probes.log');
  const settings = applyMakeProfile({ ...settingsFor(tree), env: { PROBE_COUNTER: counter } }, join(bsd, 'profile'), join(root, 'bsdlike', 'build'));
  assert.equal(lastProbeCache.get(join(bsd, 'profile'))!.generated, true);
  assert.equal(statSync(counter).uid, READER_UID, 'the probe ran as the reader');
  assert.equal(readFileSync(counter, 'utf8').split('\n').filter(Boolean).length, 1);
  assert.equal(readerFor(settings).unprivileged, true);
  const r = await scan(['devel/liba', 'misc/osname', 'misc/tool'], settings);
  assert.deepEqual([...r.problems.values()], []);
  assert.equal(r.ports.get('misc/osname')!.meta.pkgname, 'osname-1.0-bsdlike1400000');
  assert.equal(readFileSync(counter, 'utf8').split('\n').filter(Boolean).length, 1, 'reading forks no probe: the cache answers');
});

/** A project directory (builds.yaml + a copy of the fixture tree) whose own mode is `mode`. */
function project(name: string, mode: number, ports: string[]): string {
  const dir = join(root, name);
  cpSync(FIXTURE, join(dir, 'ports'), { recursive: true });
  chmodSync(dir, mode);
  writeFileSync(join(dir, 'builds.yaml'), [
    'portsTree: { path: ports }',
    `make: { command: bmake, vars: { PROBE_TARGET: "${target}" } }`,
    'environment: { backend: host }',
    `ports:\n${ports.map((p) => `  - ${p}`).join('\n')}`,
    '',
  ].join('\n'));
  return dir;
}

test('a tree the reader cannot enter (a 0700 project directory) is read as root, with one warning naming the directory and the chmod', { skip: noReader }, async () => {
  const dir = project('private', 0o700, ['parse/whoami']);
  const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>((res) => {
    const p = spawn(process.execPath, [BIN, '--config', join(dir, 'builds.yaml'), 'plan', '--json'], { cwd: dir });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (c) => res({ code: c, out, err }));
  });
  assert.equal(code, 0, err);
  const lines = err.split('\n').filter((l) => l.includes('portsync: warning: reading the ports tree'));
  assert.equal(lines.length, 1, err);
  assert.equal(lines[0], `portsync: warning: reading the ports tree ${join(dir, 'ports')} runs as root, Makefile shell commands included, because uid ${READER_UID} cannot use ${join(dir, 'ports')}: it cannot enter ${dir} (mode 0700): chmod o+x ${dir} — or run portsync as a non-root user`);
  const plan = JSON.parse(out) as { ports: { origin: string; reasons: { detail: string }[] }[] };
  assert.equal(report(plan.ports.find((p) => p.origin === 'parse/whoami')!.reasons[0]!.detail).uid, '0');
});

/**
 * Starts `portsync <command>` on a project reading parse/hang; once its `sleep 2741` runs, sends
 * SIGTERM and returns how the process ended and how long that took.
 */
async function termWhileReading(command: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; err: string; tree: string }> {
  const dir = project(`term-${command[0]}`, 0o755, ['parse/hang']);
  assert.deepEqual(processesRunning('sleep', '2741'), [], 'a sleep 2741 of an earlier run is still there');
  const p = spawn(process.execPath, [BIN, '--config', join(dir, 'builds.yaml'), ...command], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  p.stdout.resume();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => p.on('close', (code, signal) => res({ code, signal })));
  const end = Date.now() + 60_000;
  while (!processesRunning('sleep', '2741').length) {
    if (Date.now() > end || p.exitCode !== null) {
      p.kill('SIGKILL');
      assert.fail(`the hanging \`!=\` never started (${command.join(' ')}):\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const t = performance.now();
  p.kill('SIGTERM');
  const how = await ended;
  return { ...how, ms: performance.now() - t, err, tree: join(dir, 'ports') };
}

test('SIGTERM stops `plan` stuck in a hanging `!=` at once; no make or sleep survives', { skip: noBmake }, async () => {
  const r = await termWhileReading(['plan']);
  assert.ok(r.ms < 5000, `plan took ${Math.round(r.ms)} ms to stop`);
  assert.equal(r.signal, 'SIGTERM', `plan ends by the signal, as without a handler (exit ${r.code}):\n${r.err}`);
  assert.deepEqual(await goneWithin(3000, 'sleep', '2741'), []);
  assert.deepEqual(await noneWithin(3000, () => processesMentioning(r.tree)), [], 'make (or a runner) reading the tree survived');
});

test('SIGTERM stops `reconcile` stuck in a hanging `!=` at once (exit 143); no make or sleep survives', { skip: noBmake }, async () => {
  const r = await termWhileReading(['reconcile']);
  assert.ok(r.ms < 5000, `reconcile took ${Math.round(r.ms)} ms to stop`);
  assert.equal(r.code, 143, r.err);
  assert.match(r.err, /parse\/hang: not read: portsync received SIGTERM/);
  assert.deepEqual(await goneWithin(3000, 'sleep', '2741'), []);
  assert.deepEqual(await noneWithin(3000, () => processesMentioning(r.tree)), [], 'make (or a runner) reading the tree survived');
});
