/**
 * The make runner (make calls from a small helper process: time limit, clean environment, make
 * missing) and the metadata cache (shared input sets, the daemon's `changed` hint), with real
 * bmake and real files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize } from 'node:v8';
import { MakeNotFoundError } from '../src/ports/errors.js';
import { MakeRunner } from '../src/ports/make.js';
import { CACHE_VERSION } from '../src/ports/cache.js';
import { forgetOpenCaches, scanPorts, type ScanOptions } from '../src/ports/scanner.js';
import { listPortDirs } from '../src/ports/tree.js';
import { generateTree } from '../bench/gen-tree.js';
import { bmakeMissing, writeMiniPort, writeMiniTree } from './helpers/minitree.js';

const skip = bmakeMissing();
let root: string;
let tree: string;
let base: ScanOptions;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'portsync-runner-'));
  tree = writeMiniTree(join(root, 'ports'), {
    'devel/a': {},
    'devel/b': { build: ['a:devel/a'] },
    'devel/c': { extra: '.include "${PORTSDIR}/Mk/extra.mk"' },
    'misc/env': { extra: 'IGNORE=\t${PORTSYNC_TEST_LEAK}${HOME:N/nonexistent}' },
  });
  writeFileSync(join(tree, 'Mk', 'extra.mk'), 'EXTRA=\tyes\n');
  writeFileSync(join(tree, 'Mk', 'helper.sh'), '#!/bin/sh\n');
  base = {
    settings: { command: 'bmake', env: {}, vars: {}, portsTree: tree, emptyLocalbase: join(root, 'empty') },
    cacheFile: null,
    concurrency: 2,
  };
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Processes whose command line is exactly these arguments. */
function processesRunning(...argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

test('runner: exit code, stdout and stderr of a command; usable again after close', async () => {
  const r = new MakeRunner();
  const a = await r.run({
    command: 'sh',
    args: ['-c', 'echo out; echo err >&2; exit 3'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 10_000,
  });
  assert.deepEqual(a, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  r.close();
  const b = await r.run({
    command: 'sh',
    args: ['-c', 'echo again'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 10_000,
  });
  assert.equal(b.stdout, 'again\n');
  r.close();
});

test('runner: a command that cannot start is MakeNotFoundError; the scan fails with it', { skip }, async () => {
  const r = new MakeRunner();
  await assert.rejects(r.run({ command: 'no-such-make-portsync', args: [], env: {}, timeoutMs: 1000 }), MakeNotFoundError);
  r.close();
  await assert.rejects(
    scanPorts(['devel/a'], { ...base, settings: { ...base.settings, command: 'no-such-make-portsync' } }),
    (e: unknown) => {
      assert.ok(e instanceof MakeNotFoundError);
      assert.match(e.message, /cannot run make command "no-such-make-portsync"/);
      return true;
    },
  );
});

test("a Makefile that hangs is killed at the time limit and reported as that port's failure; the scan goes on", { skip }, async () => {
  writeMiniPort(tree, 'misc/hang', { extra: '_X!=\tsleep 137' });
  writeMiniPort(tree, 'misc/fine', { build: ['a:devel/a'] });
  const t = performance.now();
  const r = await scanPorts(['misc/hang', 'misc/fine'], { ...base, makeTimeoutMs: 1500 });
  const took = performance.now() - t;
  assert.ok(took < 20_000, `took ${took} ms`);
  const p = r.problems.get('misc/hang')!;
  assert.equal(p.kind, 'make-failed');
  assert.match(p.message, /misc\/hang: make did not finish reading its metadata within 1\.5 s and was killed/);
  assert.ok(r.ports.has('misc/fine') && r.ports.has('devel/a'));
  // make and the shell of its `!=` command were killed with it (its process group).
  assert.deepEqual(processesRunning('sleep', '137'), []);
  rmSync(join(tree, 'misc/hang'), { recursive: true });
});

test("make runs with a clean environment (not the caller's)", { skip }, async () => {
  process.env.PORTSYNC_TEST_LEAK = 'leaked';
  try {
    const r = await scanPorts(['misc/env'], base);
    assert.equal(r.ports.get('misc/env')!.meta.ignore, '');
  } finally {
    delete process.env.PORTSYNC_TEST_LEAK;
  }
});

test('cache: ports reading the same files share one frozen inputs object; the file stores each set once', { skip }, async () => {
  const cacheFile = join(root, 'sets.json');
  const r = await scanPorts(['devel/b', 'devel/c'], { ...base, cacheFile });
  const a = r.ports.get('devel/a')!,
    b = r.ports.get('devel/b')!,
    c = r.ports.get('devel/c')!;
  assert.equal(a.inputs, b.inputs, 'same files read: one object');
  assert.ok(Object.isFrozen(a.inputs) && Object.isFrozen(r.frameworkFiles));
  // (bmake's own system makefiles, outside the tree, keep their absolute paths.)
  const inTree = (o: object) =>
    Object.keys(o)
      .filter((k) => !k.startsWith('/'))
      .sort();
  assert.deepEqual(inTree(a.inputs), ['Mk/mini.mk']);
  assert.notEqual(c.inputs, a.inputs);
  assert.deepEqual(inTree(c.inputs), ['Mk/extra.mk', 'Mk/mini.mk']);
  assert.deepEqual(r.frameworkFiles, { 'Mk/helper.sh': r.frameworkFiles['Mk/helper.sh'] });
  // makefiles: still every makefile make read, absolute.
  assert.deepEqual(
    c
      .makefiles()
      .filter((f) => f.startsWith(tree))
      .sort(),
    [join(tree, 'Mk/extra.mk'), join(tree, 'Mk/mini.mk'), join(tree, 'devel/c/Makefile')],
  );

  const file = deserialize(readFileSync(cacheFile)) as { version: number; sets: unknown[]; answers: Record<string, unknown> };
  assert.equal(file.version, CACHE_VERSION);
  assert.equal(Object.keys(file.answers).length, 3);
  assert.equal(file.sets.length, 2);

  // A later scan (same process) hands out the same objects while nothing changed.
  const again = await scanPorts(['devel/b', 'devel/c'], { ...base, cacheFile });
  assert.equal(again.stats.makeCalls, 0);
  assert.equal(again.ports.get('devel/b'), b);
  assert.equal(again.frameworkFiles, r.frameworkFiles);
});

test('cache: a cache file of another version is not used', { skip }, async () => {
  const cacheFile = join(root, 'old.json');
  writeFileSync(cacheFile, JSON.stringify({ version: 3, settings: '', snapshotAt: 0, dirs: {}, files: {}, answers: {} }));
  const r = await scanPorts(['devel/a'], { ...base, cacheFile });
  assert.equal(r.stats.makeCalls, 1);
  assert.equal((deserialize(readFileSync(cacheFile)) as { version: number }).version, CACHE_VERSION);
});

test('daemon hint: paths outside `changed` are trusted without a stat; inside, they are checked', { skip }, async () => {
  const cacheFile = join(root, 'daemon.json');
  const o = { ...base, cacheFile };
  // The first scan of this process with this cache checks everything, whatever `changed` says.
  const first = await scanPorts(['devel/b', 'devel/c'], { ...o, changed: new Set<string>() });
  assert.equal(first.stats.makeCalls, 3);

  const nothing = await scanPorts(['devel/b', 'devel/c'], { ...o, changed: new Set<string>() });
  assert.equal(nothing.stats.makeCalls, 0);
  assert.equal(nothing.stats.stats, 0, 'nothing changed: not one stat');

  // The watcher saw devel/a change: only that port is read again.
  appendFileSync(join(tree, 'devel/a/Makefile'), '# changed\n');
  const one = await scanPorts(['devel/b', 'devel/c'], { ...o, changed: new Set([join(tree, 'devel/a/Makefile')]) });
  assert.equal(one.stats.makeCalls, 1);

  // A change the hint does not cover is not looked for (the daemon's watcher vouches)...
  appendFileSync(join(tree, 'devel/b/Makefile'), '# changed\n');
  assert.equal((await scanPorts(['devel/b', 'devel/c'], { ...o, changed: new Set<string>() })).stats.makeCalls, 0);
  // ...and a full check ('all', or no hint) finds it.
  assert.equal((await scanPorts(['devel/b', 'devel/c'], { ...o, changed: 'all' })).stats.makeCalls, 1);

  // A framework change named by directory: every port that read it.
  const fw = first.frameworkFiles;
  appendFileSync(join(tree, 'Mk/extra.mk'), '# changed\n');
  writeFileSync(join(tree, 'Mk/helper.sh'), '#!/bin/sh\necho changed\n');
  const mk = await scanPorts(['devel/b', 'devel/c'], { ...o, changed: new Set([join(tree, 'Mk')]) });
  assert.equal(mk.stats.makeCalls, 1, 'only devel/c reads Mk/extra.mk');
  assert.notEqual(mk.frameworkFiles, fw);
  assert.notEqual(mk.frameworkFiles['Mk/helper.sh'], fw['Mk/helper.sh']);
});

test('cache: a broken port is not re-run while nothing changed, and is after a framework change', { skip }, async () => {
  writeMiniPort(tree, 'misc/broken', { extra: '.error broken on purpose' });
  writeMiniPort(tree, 'misc/baddep', { build: ['nocolon'] });
  const cacheFile = join(root, 'broken.json');
  const o = { ...base, cacheFile };
  const r = await scanPorts(['misc/broken', 'misc/baddep'], o);
  assert.equal(r.problems.get('misc/broken')!.kind, 'make-failed');
  assert.equal(r.problems.get('misc/baddep')!.kind, 'bad-depends');
  const again = await scanPorts(['misc/broken', 'misc/baddep'], o);
  assert.equal(again.stats.makeCalls, 0);
  assert.deepEqual(again.problems, r.problems);
  appendFileSync(join(tree, 'Mk/mini.mk'), '# framework change\n');
  assert.equal((await scanPorts(['misc/broken', 'misc/baddep'], o)).stats.makeCalls, 2);
});

test('a real-shaped generated tree: ~45 framework makefiles per port, few distinct input sets', { skip }, async () => {
  const out = join(root, 'gen');
  generateTree({ ports: 40, out, seed: 3, shape: 'real' });
  const r = await scanPorts(listPortDirs(out), {
    settings: { command: 'bmake', env: { MAKESYSPATH: join(out, 'Mk') }, vars: {}, portsTree: out, emptyLocalbase: join(root, 'empty') },
    cacheFile: join(root, 'gen.json'),
  });
  assert.equal(r.problems.size, 0, [...r.problems.values()].map((p) => p.message).join('\n'));
  const sets = new Set([...r.ports.values()].map((p) => p.inputs));
  const sizes = [...r.ports.values()].map((p) => Object.keys(p.inputs).length);
  assert.ok(Math.min(...sizes) >= 40, `${Math.min(...sizes)} inputs`);
  assert.ok(sets.size > 1 && sets.size < r.ports.size, `${sets.size} sets for ${r.ports.size} ports`);
  const file = deserialize(readFileSync(join(root, 'gen.json'))) as { sets: unknown[] };
  assert.equal(file.sets.length, sets.size);
});

test('cache file: a fresh process gets the same metadata, inputs and problems, with zero make calls', { skip }, async () => {
  writeMiniPort(tree, 'misc/rich', {
    flavors: ['f1', 'f2'],
    build: ['${LOCALBASE}/bin/tool:devel/a', 'x:${PORTSDIR}/devel/c:tagged'],
    lib: ['liba.so:devel/a'],
    extra: 'DISTFILES=\tone.tgz two.tgz\n_W!=\techo "a warning" >&2; echo',
  });
  writeMiniPort(tree, 'misc/baddep2', { run: ['a:b:c:d'] });
  const cacheFile = join(root, 'fresh.json');
  const roots = ['misc/rich', 'misc/rich@f2', 'devel/b', 'misc/baddep2'];
  const o = { ...base, cacheFile };
  const first = await scanPorts(roots, o);
  forgetOpenCaches();
  const fresh = await scanPorts(roots, o);
  assert.equal(fresh.stats.makeCalls, 0);
  assert.deepEqual([...fresh.ports.keys()].sort(), [...first.ports.keys()].sort());
  for (const [k, p] of first.ports) {
    const q = fresh.ports.get(k)!;
    assert.deepEqual(q.meta, p.meta, k);
    assert.deepEqual(q.makefiles().sort(), p.makefiles().sort(), k);
    assert.deepEqual(q.inputs, p.inputs, k);
    assert.equal(q.portCrc, p.portCrc);
  }
  const rich = fresh.ports.get('misc/rich')!.meta;
  assert.deepEqual(rich.distfiles, ['one.tgz', 'two.tgz']);
  assert.deepEqual(rich.warnings, ['a warning']);
  assert.ok(rich.depends.some((d) => d.target === join(root, 'empty', 'bin/tool') && d.origin === 'devel/a'));
  assert.ok(rich.depends.some((d) => d.origin === 'devel/c' && d.tag === 'tagged'));
  assert.equal(fresh.ports.get('devel/a')!.inputs, fresh.ports.get('devel/b')!.inputs);
  assert.deepEqual(fresh.problems, first.problems);
  assert.equal(fresh.problems.get('misc/baddep2')!.kind, 'bad-depends');
});
