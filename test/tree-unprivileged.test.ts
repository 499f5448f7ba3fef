/**
 * Reading a tree runs its Makefiles' `!=` commands: as root, portsync runs them as the
 * unprivileged reader (make.readAs, default uid/gid 65533 — not the build user's 65534 — no
 * capabilities, no_new_privs, clean environment, own PID namespace); a tree that user cannot
 * enter is read as root with a warning naming the directory; answers read as one identity are
 * not reused for another; SIGTERM stops a read stuck in a hanging `!=` at once. Real bmake, real
 * processes, real permissions (test/fixtures/ports-parsetime).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readerFor, readerIdentity, type MakeSettings } from '../src/ports/make.js';
import { ReadAsError, parseReadAs } from '../src/config/readAs.js';
import {
  DEFAULT_READ_AS,
  DROP_TO_READER,
  READER_UID,
  chooseReader,
  chooseReaderAsync,
  deniedToReader,
  onPath,
} from '../src/ports/make-user.js';
import { BUILD_GID, BUILD_UID } from '../src/config/buildUser.js';
import { environmentBackend } from '../src/builder/sandbox/index.js';
import { ConfigError } from '../src/config/errors.js';
import { loadDesiredState } from '../src/config/load.js';
import { applyMakeProfile, lastProbeCache } from '../src/ports/profile.js';
import { scanPorts, type ScanOptions } from '../src/ports/scanner.js';
import { bmakeMissing } from './helpers/minitree.js';
import { BIN } from './helpers/wait.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ports-parsetime');
const noBmake = bmakeMissing();
/** Why the unprivileged reader cannot be tested here, or undefined. */
const noReader =
  noBmake ??
  (process.platform !== 'linux'
    ? `the unprivileged reader needs Linux (this is ${process.platform})`
    : process.getuid?.() !== 0
      ? 'the unprivileged reader is used only when portsync runs as root (CI runs as root; run this file with sudo to include it)'
      : onPath('setpriv')
        ? undefined
        : 'setpriv is not installed (util-linux)');
for (const [what, why] of [
  ['bmake tests', noBmake],
  ['unprivileged-reader tests', noReader],
] as const) {
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

const settingsFor = (tree: string, vars: Record<string, string> = {}): MakeSettings => ({
  command: 'bmake',
  env: {},
  vars,
  portsTree: tree,
  emptyLocalbase: join(root, 'empty'),
});
const scan = (roots: string[], settings: MakeSettings, extra: Partial<ScanOptions> = {}) =>
  scanPorts(roots, { settings, cacheFile: null, concurrency: 2, ...extra });

/** whoami's report: `key=value` words of its IGNORE. */
function report(ignore: string): Record<string, string> {
  return Object.fromEntries(
    ignore
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => w.split('=', 2) as [string, string]),
  );
}

/** Pids of processes whose command line is exactly these arguments. */
function processesRunning(...argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Pids of processes whose command line contains `text`. */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
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

test(
  "as root, a Makefile's `!=` runs as the reader (uid 65533) without capabilities, no_new_privs, secrets or write access",
  { skip: noReader },
  async () => {
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
        {
          uid: got.uid,
          gid: got.gid,
          groups: got.groups,
          CapInh: got.CapInh,
          CapPrm: got.CapPrm,
          CapEff: got.CapEff,
          CapBnd: got.CapBnd,
          CapAmb: got.CapAmb,
          NoNewPrivs: got.NoNewPrivs,
        },
        {
          uid: String(READER_UID),
          gid: String(READER_UID),
          groups: String(READER_UID),
          CapInh: none,
          CapPrm: none,
          CapEff: none,
          CapBnd: none,
          CapAmb: none,
          NoNewPrivs: '1',
        },
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
      const runners = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((pid) => {
          try {
            return (
              readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('make-runner.mjs') &&
              new RegExp(`^Uid:\\s+${READER_UID}\\b`, 'm').test(readFileSync(`/proc/${pid}/status`, 'utf8'))
            );
          } catch {
            return false;
          }
        });
      assert.ok(runners.length >= 1, 'a make runner running as the reader');
      for (const pid of runners) {
        const names = readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => kv.split('=')[0])
          .sort();
        // (PWD: set by the shell that is the namespace's init.)
        assert.deepEqual(
          names.filter((n) => n !== 'PWD'),
          ['LANG', 'PATH'],
        );
      }
    } finally {
      delete process.env.PORTSYNC_TEST_SECRET;
    }
  },
);

test(
  "what a Makefile leaves running (setsid, even holding make's stderr) neither delays the read nor outlives it",
  { skip: noReader },
  async (t) => {
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
  },
);

test('a reader that cannot use a path is told which directory stops it', { skip: noReader }, () => {
  const deep = join(root, 'closed', 'inner', 'ports');
  mkdirSync(deep, { recursive: true });
  chmodSync(join(root, 'closed'), 0o700);
  writeFileSync(join(root, 'secret.mk'), '');
  chmodSync(join(root, 'secret.mk'), 0o600);
  const denied = deniedToReader(
    ['setpriv', ...DROP_TO_READER, '--'],
    [
      { path: deep, need: 'rx' },
      { path: open, need: 'rx' },
      { path: join(root, 'secret.mk'), need: 'r' },
    ],
  );
  assert.deepEqual(
    denied.map((d) => [d.path, d.blocker]),
    [
      [deep, join(root, 'closed')],
      [join(root, 'secret.mk'), join(root, 'secret.mk')],
    ],
  );
});

test(
  'who reads the tree is chosen the same while this thread goes on (chooseReaderAsync) as when it waits',
  { skip: noReader },
  async () => {
    const closed = join(root, 'closed-async', 'ports');
    mkdirSync(closed, { recursive: true });
    chmodSync(join(root, 'closed-async'), 0o700);
    for (const tree of [open, closed]) {
      const needs = [{ path: tree, need: 'rx' as const }];
      const waited = chooseReader(`reading ${tree}`, needs);
      const later = await chooseReaderAsync(`reading ${tree}`, needs);
      assert.deepEqual(later, waited, `${tree}: the same reader, wrapper and HOME`);
      assert.equal(waited.unprivileged, tree === open, tree === open ? 'an open tree is read as the reader' : 'a closed one as root');
    }
  },
);

test(
  "as root, a make profile's probe cache is generated by the reader too, and the tree then reads with it",
  { skip: noReader },
  async () => {
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
    const settings = applyMakeProfile(
      { ...settingsFor(tree), env: { PROBE_COUNTER: counter } },
      join(bsd, 'profile'),
      join(root, 'bsdlike', 'build'),
    );
    assert.equal(lastProbeCache.get(join(bsd, 'profile'))!.generated, true);
    assert.equal(statSync(counter).uid, READER_UID, 'the probe ran as the reader');
    assert.equal(readFileSync(counter, 'utf8').split('\n').filter(Boolean).length, 1);
    assert.equal(readerFor(settings).unprivileged, true);
    const r = await scan(['devel/liba', 'misc/osname', 'misc/tool'], settings);
    assert.deepEqual([...r.problems.values()], []);
    assert.equal(r.ports.get('misc/osname')!.meta.pkgname, 'osname-1.0-bsdlike1400000');
    assert.equal(readFileSync(counter, 'utf8').split('\n').filter(Boolean).length, 1, 'reading forks no probe: the cache answers');
  },
);

test(
  'the reader has an identity of its own (default 65533:65533): a Makefile read cannot write what the build user owns',
  { skip: noReader },
  async () => {
    assert.deepEqual({ ...DEFAULT_READ_AS }, { uid: 65533, gid: 65533 });
    assert.notEqual(READER_UID, BUILD_UID);
    // A directory of the build user's, 0755 as its private /output and DISTDIR are: that user can write it ...
    const owned = join(root, 'build-owned');
    mkdirSync(owned, { mode: 0o755 });
    chownSync(owned, BUILD_UID, BUILD_GID);
    const asBuildUser = spawnSync('setpriv', [
      `--reuid=${BUILD_UID}`,
      `--regid=${BUILD_GID}`,
      '--clear-groups',
      'touch',
      join(owned, 'by-build-user'),
    ]);
    assert.equal(asBuildUser.status, 0, asBuildUser.stderr?.toString());
    // ... and so are a real chroot environment's private DISTDIR and /output.
    const base = join(root, 'env-base');
    const env = await environmentBackend('chroot').create(9, {
      portsTree: open,
      distfiles: join(base, 'distfiles'),
      packages: join(base, 'packages'),
      buildBase: join(base, 'build'),
    });
    try {
      for (const place of [owned, env.privateDistfiles!, env.hostPath('/output')]) {
        const r = await scan(['parse/whoami'], settingsFor(open, { PROBE_TARGET: place }));
        assert.deepEqual([...r.problems.values()], []);
        const got = report(r.ports.get('parse/whoami')!.meta.ignore);
        assert.deepEqual([got.uid, got.gid, got.groups], [String(READER_UID), String(READER_UID), String(READER_UID)]);
        assert.equal(got.write, 'no', `a Makefile read wrote into ${place}`);
        assert.equal(existsSync(join(place, 'written-at-parse-time')), false);
      }
    } finally {
      await env.destroy();
    }
  },
);

test('make.readAs picks who reads: uid:gid, a lone uid, a user[:group]; never root, never the build user', { skip: noReader }, async () => {
  const settings: MakeSettings = { ...settingsFor(open), readAs: { uid: 4242, gid: 4243 } };
  assert.equal(readerIdentity(settings), '4242:4243');
  const r = await scan(['parse/whoami'], settings);
  assert.deepEqual([...r.problems.values()], []);
  const got = report(r.ports.get('parse/whoami')!.meta.ignore);
  assert.deepEqual([got.uid, got.gid, got.groups, got.CapEff, got.NoNewPrivs], ['4242', '4243', '4243', '0000000000000000', '1']);

  assert.deepEqual(parseReadAs('4242'), { uid: 4242, gid: 4242 });
  assert.deepEqual(parseReadAs(4242), { uid: 4242, gid: 4242 });
  assert.deepEqual(parseReadAs('4242:7'), { uid: 4242, gid: 7 });
  const daemon = spawnSync('getent', ['passwd', 'daemon'], { encoding: 'utf8' }).stdout.split(':');
  assert.deepEqual(parseReadAs('daemon'), { uid: Number(daemon[2]), gid: Number(daemon[3]) }, 'a user name: its uid and its own group');
  for (const [spec, why] of [
    ['0', /root's uid \(0\)/],
    ['root', /root's uid \(0\)/],
    ['4242:0', /root's gid \(0\)/],
    ['65534', /uid 65534 is the chroot build user's/],
    ['nobody', /uid 65534 is the chroot build user's/],
    ['4242:65534', /gid 65534 is the chroot build user's/],
    ['no-such-user-portsync', /there is no user no-such-user-portsync on this machine/],
    ['4242:no-such-group-portsync', /there is no group no-such-group-portsync/],
    ['1:2:3', /expected uid\[:gid\] or user\[:group\]/],
    ['4294967295', /not a valid uid/],
  ] as const) {
    assert.throws(
      () => parseReadAs(spec),
      (e: unknown) => e instanceof ReadAsError && why.test(e.message) && e.message.startsWith(`make.readAs "${spec}": `),
      spec,
    );
  }
});

test(
  'builds.yaml make.readAs: resolved at load (default 65533:65533), refused at its FILE:LINE:COL',
  { skip: process.platform === 'linux' ? undefined : 'user names are resolved with getent (Linux)' },
  async () => {
    const dir = join(root, 'readas-config');
    mkdirSync(join(dir, 'ports'), { recursive: true });
    const file = join(dir, 'builds.yaml');
    const load = (make: string) => {
      writeFileSync(file, `portsTree: { path: ports }\nmake:\n  command: bmake\n${make}ports: []\n`);
      return loadDesiredState(file);
    };
    assert.deepEqual((await load('')).make.readAs, { uid: 65533, gid: 65533 });
    assert.deepEqual((await load('  readAs: "4242:4243"\n')).make.readAs, { uid: 4242, gid: 4243 });
    assert.deepEqual((await load('  readAs: 4242\n')).make.readAs, { uid: 4242, gid: 4242 });
    for (const [value, message] of [
      [
        'nobody',
        'make.readAs "nobody": uid 65534 is the chroot build user\'s: a Makefile read would then be able to write into a build\'s private /output and distfiles; give an identity of its own (default 65533:65533)',
      ],
      [
        '0',
        'make.readAs "0": that is root\'s uid (0): reading the tree as root is what make.readAs protects against; give an unprivileged identity (default 65533:65533)',
      ],
    ]) {
      const err = await load(`  readAs: ${value}\n`).then(
        () => assert.fail(`readAs ${value} was accepted`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(
        err.issues.map((i) => [i.line, i.col, i.message]),
        [[4, 11, message]],
      );
    }
    const bad = await load('  readAs: "a b"\n').then(
      () => assert.fail('"a b" was accepted'),
      (e: unknown) => e,
    );
    assert.ok(bad instanceof ConfigError);
    assert.equal(bad.issues[0]!.line, 4);
  },
);

test(
  'answers read as one identity are not reused for another: switching the reader re-reads the tree (metadata cache)',
  { skip: noReader },
  async () => {
    const dir = join(root, 'switch');
    const tree = join(dir, 'ports');
    cpSync(FIXTURE, tree, { recursive: true });
    chmodSync(dir, 0o700);
    const cacheFile = join(root, 'switch-metadata-cache.bin');
    const read = async (extra: Partial<MakeSettings> = {}) => {
      const settings: MakeSettings = { ...settingsFor(tree), ...extra };
      const r = await scan(['parse/whoami'], settings, { cacheFile });
      assert.deepEqual([...r.problems.values()], []);
      return {
        uid: report(r.ports.get('parse/whoami')!.meta.ignore).uid,
        makeCalls: r.stats.makeCalls,
        identity: readerIdentity(settings),
      };
    };
    // A 0700 project: the reader cannot enter it, make runs as root (with a warning).
    assert.deepEqual(await read(), { uid: '0', makeCalls: 1, identity: 'self:0:0' });
    assert.deepEqual(await read(), { uid: '0', makeCalls: 0, identity: 'self:0:0' }, 'unchanged: answered from the cache');
    // Opened to the reader: root's answers are not the reader's.
    chmodSync(dir, 0o755);
    assert.deepEqual(await read(), { uid: String(READER_UID), makeCalls: 1, identity: `${READER_UID}:${READER_UID}` });
    assert.deepEqual(await read(), { uid: String(READER_UID), makeCalls: 0, identity: `${READER_UID}:${READER_UID}` });
    // Another make.readAs, then root again: each reads for itself.
    assert.deepEqual(await read({ readAs: { uid: 4242, gid: 4242 } }), { uid: '4242', makeCalls: 1, identity: '4242:4242' });
    chmodSync(dir, 0o700);
    assert.deepEqual(await read(), { uid: '0', makeCalls: 1, identity: 'self:0:0' });
  },
);

test("`portsync plan` reads the tree as builds.yaml's make.readAs", { skip: noReader }, async () => {
  const dir = project('readas-plan', 0o755, ['parse/whoami']);
  writeFileSync(
    join(dir, 'builds.yaml'),
    readFileSync(join(dir, 'builds.yaml'), 'utf8').replace('make: { command: bmake,', 'make: { command: bmake, readAs: "4242:4243",'),
  );
  const p = spawnSync(process.execPath, [BIN, '--config', join(dir, 'builds.yaml'), 'plan', '--json'], { cwd: dir, encoding: 'utf8' });
  assert.equal(p.status, 0, p.stderr);
  const plan = JSON.parse(p.stdout) as { ports: { origin: string; reasons: { detail: string }[] }[] };
  const got = report(plan.ports.find((x) => x.origin === 'parse/whoami')!.reasons[0]!.detail);
  assert.deepEqual([got.uid, got.gid], ['4242', '4243']);
});

/** A project directory (builds.yaml + a copy of the fixture tree) whose own mode is `mode`. */
function project(name: string, mode: number, ports: string[]): string {
  const dir = join(root, name);
  cpSync(FIXTURE, join(dir, 'ports'), { recursive: true });
  chmodSync(dir, mode);
  writeFileSync(
    join(dir, 'builds.yaml'),
    [
      'portsTree: { path: ports }',
      `make: { command: bmake, vars: { PROBE_TARGET: "${target}" } }`,
      'environment: { backend: host }',
      `ports:\n${ports.map((p) => `  - ${p}`).join('\n')}`,
      '',
    ].join('\n'),
  );
  return dir;
}

test(
  'a tree the reader cannot enter (a 0700 project directory) is read as root, with one warning naming the directory and the chmod',
  { skip: noReader },
  async () => {
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
    assert.equal(
      lines[0],
      `portsync: warning: reading the ports tree ${join(dir, 'ports')} runs as root, Makefile shell commands included, because uid ${READER_UID} cannot use ${join(dir, 'ports')}: it cannot enter ${dir} (mode 0700): chmod o+x ${dir} — or run portsync as a non-root user`,
    );
    const plan = JSON.parse(out) as { ports: { origin: string; reasons: { detail: string }[] }[] };
    assert.equal(report(plan.ports.find((p) => p.origin === 'parse/whoami')!.reasons[0]!.detail).uid, '0');
  },
);

/**
 * Starts `portsync <command>` on a project reading parse/hang; once its `sleep 2741` runs, sends
 * SIGTERM and returns how the process ended and how long that took.
 */
async function termWhileReading(
  command: string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; err: string; tree: string }> {
  const dir = project(`term-${command[0]}`, 0o755, ['parse/hang']);
  assert.deepEqual(processesRunning('sleep', '2741'), [], 'a sleep 2741 of an earlier run is still there');
  const p = spawn(process.execPath, [BIN, '--config', join(dir, 'builds.yaml'), ...command], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  p.stdout.resume();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    p.on('close', (code, signal) => res({ code, signal })),
  );
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
