import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanPorts, type ScanOptions } from '../src/ports/scanner.js';
import { listPortDirs } from '../src/ports/tree.js';
import { bmakeMissing, writeMiniPort, writeMiniTree } from './helpers/minitree.js';

const skip = bmakeMissing();
let root: string;
let tree: string;
let opts: ScanOptions;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'portsync-scan-'));
  tree = writeMiniTree(join(root, 'ports'), {
    'misc/app': { build: ['lib:devel/lib', 'py:lang/py@py312'], run: ['tool:${PORTSDIR}/devel/tool'] },
    'devel/lib': { lib: ['libbase.so:devel/base'], build: ['py:lang/py@py311'] },
    'devel/base': {},
    'devel/tool': { extra: '_NOISE!= echo "make: warning: something odd" >&2; echo' },
    'lang/py': { flavors: ['py311', 'py312'] },
    'misc/broken': { extra: '.error this port is broken on purpose' },
    'misc/needsghost': { build: ['ghost:devel/ghost'] },
    'misc/badflavor': { build: ['py:lang/py@py27'] },
  });
  opts = {
    settings: { command: 'bmake', env: {}, vars: {}, portsTree: tree, emptyLocalbase: join(root, 'empty') },
    cacheFile: join(root, 'cache.json'),
    concurrency: 2,
  };
});
after(() => rmSync(root, { recursive: true, force: true }));

test('lists port directories, skipping Mk and dot-dirs; a glob-matched directory without a Makefile is no port', { skip }, async () => {
  mkdirSync(join(tree, 'misc', 'notaport'));
  assert.deepEqual(listPortDirs(tree), [
    'devel/base',
    'devel/lib',
    'devel/tool',
    'lang/py',
    'misc/app',
    'misc/badflavor',
    'misc/broken',
    'misc/needsghost',
    'misc/notaport',
  ]);
  const r = await scanPorts(['devel/base', 'misc/notaport'], { ...opts, cacheFile: null, optional: new Set(['misc/notaport']) });
  assert.deepEqual(r.roots, ['devel/base']);
  assert.equal(r.problems.size, 0);
  const exact = await scanPorts(['misc/notaport'], { ...opts, cacheFile: null });
  assert.equal(exact.problems.get('misc/notaport')!.kind, 'no-such-port');
  rmSync(join(tree, 'misc', 'notaport'), { recursive: true });
});

test('reads the closure with real bmake: flavors, dependency kinds, warnings', { skip }, async () => {
  const r = await scanPorts(['misc/app'], opts);
  assert.deepEqual([...r.ports.keys()].sort(), ['devel/base', 'devel/lib', 'devel/tool', 'lang/py', 'lang/py@py312', 'misc/app']);
  const app = r.ports.get('misc/app')!.meta;
  assert.equal(app.pkgname, 'app-1.0');
  assert.deepEqual(
    app.depends.map((d) => `${d.kind}:${d.origin}`),
    ['BUILD:devel/lib', 'BUILD:lang/py@py312', 'RUN:devel/tool'],
  );
  // lang/py@py311 is the default flavor: the same node as lang/py.
  assert.equal(r.resolve('lang/py@py311'), 'lang/py');
  assert.equal(r.resolve('lang/py@py312'), 'lang/py@py312');
  assert.equal(r.ports.get('lang/py')!.meta.pkgname, 'py311-py-1.0');
  assert.equal(r.ports.get('lang/py@py312')!.meta.pkgname, 'py312-py-1.0');
  assert.equal(r.ports.get('lang/py@py312')!.meta.flavor, 'py312');
  // make exited 0 but printed on stderr: kept as a warning.
  assert.deepEqual(r.ports.get('devel/tool')!.meta.warnings, ['make: warning: something odd']);
  // The framework file is an input of every port, by tree-relative path.
  assert.ok(/^[0-9a-f]{8}$/.test(r.ports.get('devel/base')!.inputs['Mk/mini.mk']!));
  assert.ok(r.ports.get('misc/app')!.makefiles().includes(join(tree, 'misc/app/Makefile')));
  assert.equal(r.problems.size, 0);
});

test('a port directory asked for as itself and for one of its flavors at once is read by one make call', { skip }, async () => {
  // lang/py as a node (its default flavor) and lang/py@py312 (which reads lang/py's flavors first), both asked at once.
  const r = await scanPorts(['lang/py', 'lang/py@py312'], { ...opts, cacheFile: null });
  assert.deepEqual([...r.ports.keys()].sort(), ['lang/py', 'lang/py@py312']);
  assert.equal(r.stats.makeCalls, 2, 'lang/py once (as a node and for its flavors), lang/py@py312 once');
});

test('failures: make error with its stderr, unknown flavor, missing port', { skip }, async () => {
  const r = await scanPorts(['misc/broken', 'misc/badflavor', 'misc/needsghost'], { ...opts, cacheFile: null });
  const broken = r.problems.get('misc/broken')!;
  assert.equal(broken.kind, 'make-failed');
  assert.match(broken.message, /this port is broken on purpose/);
  const flavor = r.problems.get('lang/py@py27')!;
  assert.equal(flavor.kind, 'unknown-flavor');
  assert.match(flavor.message, /lang\/py has no flavor "py27" \(its flavors are py311, py312\)/);
  const ghost = r.problems.get('devel/ghost')!;
  assert.equal(ghost.kind, 'no-such-port');
  assert.match(ghost.message, /no such port: devel\/ghost/);
  assert.ok(r.ports.has('misc/badflavor') && r.ports.has('misc/needsghost'));
});

test('metadata cache: no make call for an unchanged tree, one for a changed port, all for a framework change', { skip }, async () => {
  const cacheFile = join(root, 'cache2.json');
  const o = { ...opts, cacheFile };
  const cold = await scanPorts(['misc/app'], o);
  assert.equal(cold.stats.makeCalls, 6);
  const warm = await scanPorts(['misc/app'], o);
  assert.equal(warm.stats.makeCalls, 0, 'unchanged tree: zero make calls');
  assert.equal(warm.ports.size, 6);
  assert.deepEqual(warm.ports.get('misc/app')!.meta, cold.ports.get('misc/app')!.meta);

  // Same content, new mtime: the CRC is recomputed, equal, and the answer reused.
  const baseMk = join(tree, 'devel/base/Makefile');
  utimesSync(baseMk, new Date(), new Date(Date.now() + 5000));
  assert.equal((await scanPorts(['misc/app'], o)).stats.makeCalls, 0);

  appendFileSync(baseMk, '# a comment\n');
  const one = await scanPorts(['misc/app'], o);
  assert.equal(one.stats.makeCalls, 1, 'one port changed: one make call');
  assert.notEqual(one.ports.get('devel/base')!.portCrc, cold.ports.get('devel/base')!.portCrc);

  // A file added to the port directory changes its CRC too.
  writeFileSync(join(tree, 'devel/lib/pkg-descr'), 'a library\n');
  assert.equal((await scanPorts(['misc/app'], o)).stats.makeCalls, 1);

  appendFileSync(join(tree, 'Mk/mini.mk'), '# framework change\n');
  assert.equal((await scanPorts(['misc/app'], o)).stats.makeCalls, 6, 'framework changed: every port re-read');

  // Other make settings: the cache is not reused.
  const other = await scanPorts(['misc/app'], { ...o, settings: { ...o.settings, vars: { WITH_DOCS: 'yes' } } });
  assert.equal(other.stats.makeCalls, 6);
  assert.deepEqual(other.ports.get('misc/app')!.meta.selectedOptions, ['DOCS']);
});

test('a dependency cycle does not hang the reader', { skip }, async () => {
  writeMiniPort(tree, 'cyc/a', { build: ['b:cyc/b'] });
  writeMiniPort(tree, 'cyc/b', { run: ['a:cyc/a'] });
  const r = await scanPorts(['cyc/a'], { ...opts, cacheFile: null });
  assert.deepEqual([...r.ports.keys()].sort(), ['cyc/a', 'cyc/b']);
});
