/**
 * The example ports tree, its bmake framework (examples/ports/Mk), the broken-port fixtures and
 * the synthetic tree generator, exercised with real bmake, cc, tar and patch on the host.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateTree, TreeOutputNotEmptyError } from '../bench/gen-tree.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TREE = join(ROOT, 'examples/ports');
const BROKEN = join(ROOT, 'test/fixtures/ports-broken');

const BMAKE_MISSING =
  spawnSync('bmake', ['-f', '/dev/null', '-V', 'MAKE_VERSION'], { stdio: 'ignore' }).status !== 0
    ? 'bmake is not on PATH (Debian: apt-get install bmake; or npm run setup)'
    : '';

/** Skips the test with the reason printed when bmake is missing. Returns true when skipped. */
function needBmake(t: TestContext): boolean {
  if (BMAKE_MISSING) t.skip(BMAKE_MISSING);
  return BMAKE_MISSING !== '';
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LANG: 'C', ...env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** The variables portsync reads, in its order. */
const METADATA = [
  'PKGNAME',
  'PKGVERSION',
  'PKGFILE:T',
  'DISTFILES',
  'DIST_SUBDIR',
  'IGNORE',
  'FETCH_DEPENDS',
  'EXTRACT_DEPENDS',
  'PATCH_DEPENDS',
  'BUILD_DEPENDS',
  'LIB_DEPENDS',
  'RUN_DEPENDS',
  'FLAVORS',
  'FLAVOR',
  'SELECTED_OPTIONS',
  'DESELECTED_OPTIONS',
  '.MAKE.MAKEFILES',
] as const;
type Meta = Record<(typeof METADATA)[number], string>;

const EMPTY_LOCALBASE = mkdtempSync(join(tmpdir(), 'portsync-empty-lb-'));
process.on('exit', () => rmSync(EMPTY_LOCALBASE, { recursive: true, force: true }));

/** Exactly the metadata call portsync makes. */
async function metadata(tree: string, dir: string, vars: string[] = []): Promise<Run & { meta: Meta }> {
  const args = ['-C', join(tree, dir), `PORTSDIR=${tree}`, 'BATCH=yes', 'PACKAGE_BUILDING=yes', `LOCALBASE=${EMPTY_LOCALBASE}`, ...vars];
  for (const v of METADATA) args.push('-V', `\${${v}}`);
  const r = await run('bmake', args, { MAKESYSPATH: join(tree, 'Mk') });
  const lines = r.stdout.split('\n');
  const meta = Object.fromEntries(METADATA.map((v, i) => [v, (lines[i] ?? '').trim()])) as Meta;
  return { ...r, meta };
}

const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** Temp build area: WRKDIRPREFIX, DISTDIR, PACKAGES and LOCALBASE, as the engine passes them. */
function buildArea(): { root: string; vars: string[]; localbase: string; packages: string; distdir: string } {
  const root = mkdtempSync(join(tmpdir(), 'portsync-example-build-'));
  const d = (n: string) => {
    mkdirSync(join(root, n));
    return join(root, n);
  };
  const [wrk, distdir, packages, localbase] = [d('wrk'), d('distfiles'), d('packages'), d('localbase')];
  return {
    root,
    localbase,
    packages,
    distdir,
    vars: [
      `WRKDIRPREFIX=${wrk}`,
      `DISTDIR=${distdir}`,
      `PACKAGES=${packages}`,
      `LOCALBASE=${localbase}`,
      'BATCH=yes',
      'PACKAGE_BUILDING=yes',
      'MAKE_JOBS_NUMBER=2',
    ],
  };
}

function make(tree: string, dir: string, target: string, vars: string[]): Promise<Run> {
  return run('bmake', ['-C', join(tree, dir), `PORTSDIR=${tree}`, ...vars, target], { MAKESYSPATH: join(tree, 'Mk') });
}

const PHASES = ['fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package'];

/** Runs the phases one make call at a time (as the engine does), then install-package. */
async function buildAndInstall(tree: string, dir: string, vars: string[]): Promise<void> {
  for (const phase of [...PHASES, 'install-package']) {
    const r = await make(tree, dir, phase, vars);
    assert.equal(r.code, 0, `${dir}: make ${phase} failed:\n${r.stdout}\n${r.stderr}`);
  }
}

function portDirs(tree: string): string[] {
  return readdirSync(tree)
    .filter((c) => c !== 'Mk' && c !== 'Sites' && statSync(join(tree, c)).isDirectory())
    .flatMap((c) =>
      readdirSync(join(tree, c))
        .filter((p) => existsSync(join(tree, c, p, 'Makefile')))
        .map((p) => `${c}/${p}`),
    )
    .sort();
}

function tarList(file: string): string[] {
  const r = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tar -tzf ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

function manifestOf(file: string): string {
  const r = spawnSync('tar', ['-xzOf', file, '+MANIFEST'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `no +MANIFEST in ${file}: ${r.stderr}`);
  return r.stdout;
}

test('every example port and flavor evaluates with exit 0, one line per variable and nothing on stderr', async (t) => {
  if (needBmake(t)) return;
  const dirs = portDirs(TREE);
  assert.ok(dirs.length >= 14, `only ${dirs.length} ports in ${TREE}`);
  const started = performance.now();
  let evaluations = 0;
  for (const dir of dirs) {
    const base = await metadata(TREE, dir);
    evaluations++;
    assert.equal(base.code, 0, `${dir}: ${base.stderr}`);
    assert.equal(base.stderr, '', `${dir} printed on stderr`);
    assert.equal(base.stdout.split('\n').length, METADATA.length + 1, `${dir}: wrong number of lines:\n${base.stdout}`);
    assert.match(base.meta.PKGNAME, /^[\w.+-]+-\d[\w.]*$/, dir);
    assert.equal(base.meta['PKGFILE:T'], `${base.meta.PKGNAME}.tgz`, dir);
    for (const flavor of words(base.meta.FLAVORS).slice(1)) {
      const f = await metadata(TREE, dir, [`FLAVOR=${flavor}`]);
      evaluations++;
      assert.equal(f.code, 0, `${dir}@${flavor}: ${f.stderr}`);
      assert.equal(f.stderr, '', `${dir}@${flavor} printed on stderr`);
      assert.equal(f.meta.FLAVOR, flavor);
    }
  }
  t.diagnostic(`${evaluations} evaluations, ${((performance.now() - started) / evaluations).toFixed(1)} ms each (process start included)`);
});

test('flavors: the first is the default, another one changes the package name, an unknown one is an error', async (t) => {
  if (needBmake(t)) return;
  const def = await metadata(TREE, 'lang/pyish');
  assert.equal(def.meta.FLAVORS, 'py311 py312');
  assert.equal(def.meta.FLAVOR, 'py311');
  assert.equal(def.meta.PKGNAME, 'py311-pyish-1.0');
  assert.equal(def.meta.DIST_SUBDIR, 'pyish');
  const py312 = await metadata(TREE, 'lang/pyish', ['FLAVOR=py312']);
  assert.equal(py312.meta.PKGNAME, 'py312-pyish-1.0');
  assert.equal(py312.meta['PKGFILE:T'], 'py312-pyish-1.0.tgz');
  const bad = await metadata(TREE, 'lang/pyish', ['FLAVOR=py399']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /lang\/pyish: unknown FLAVOR 'py399'; this port's FLAVORS are: py311 py312/);
  const unflavored = await metadata(TREE, 'misc/greet', ['FLAVOR=py312']);
  assert.notEqual(unflavored.code, 0);
  assert.match(unflavored.stderr, /FLAVOR is set to 'py312' but this port has no FLAVORS/);
  const user = await metadata(TREE, 'textproc/pyfmt');
  assert.equal(user.meta.BUILD_DEPENDS, 'pyish3.12:lang/pyish@py312');
  assert.equal(user.meta.RUN_DEPENDS, 'pyish3.12:lang/pyish@py312');
});

test('IGNORE and BROKEN: reported by metadata, and every build target refuses with the reason', async (t) => {
  if (needBmake(t)) return;
  const ancient = await metadata(TREE, 'misc/ancient');
  assert.equal(ancient.meta.IGNORE, 'is obsolete: its K&R C does not build with modern compilers');
  const fine = await metadata(TREE, 'misc/greet');
  assert.equal(fine.meta.IGNORE, '');
  const broken = await metadata(TREE, 'misc/greet', ['BROKEN=fails on this box']);
  assert.equal(broken.meta.IGNORE, 'is marked as broken: fails on this box');
  const area = buildArea();
  try {
    const r = await make(TREE, 'misc/ancient', 'fetch', area.vars);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ancient-0\.1 is obsolete/);
    assert.deepEqual(readdirSync(area.distdir), [], 'an IGNOREd port fetched something');
  } finally {
    rmSync(area.root, { recursive: true, force: true });
  }
});

test('options: OPTIONS_DEFAULT, WITH_<OPT>=yes and WITHOUT_<OPT>=yes give sorted SELECTED/DESELECTED_OPTIONS', async (t) => {
  if (needBmake(t)) return;
  const def = await metadata(TREE, 'misc/help2man');
  assert.equal(def.meta.PKGNAME, 'help2man-1.49.3');
  assert.equal(def.meta.SELECTED_OPTIONS, 'NLS');
  assert.equal(def.meta.DESELECTED_OPTIONS, 'DOCS');
  const docs = await metadata(TREE, 'misc/help2man', ['WITH_DOCS=yes']);
  assert.equal(docs.meta.SELECTED_OPTIONS, 'DOCS NLS');
  assert.equal(docs.meta.DESELECTED_OPTIONS, '');
  const none = await metadata(TREE, 'misc/help2man', ['WITHOUT_NLS=yes']);
  assert.equal(none.meta.SELECTED_OPTIONS, '');
  assert.equal(none.meta.DESELECTED_OPTIONS, 'DOCS NLS');
  // An option a port does not define is ignored.
  const other = await metadata(TREE, 'misc/greet', ['WITH_DOCS=yes']);
  assert.equal(other.meta.SELECTED_OPTIONS, '');
});

test('slave port: its own name, the master distfile, and .MAKE.MAKEFILES lists the master Makefile', async (t) => {
  if (needBmake(t)) return;
  const slave = await metadata(TREE, 'misc/greet-fr');
  assert.equal(slave.meta.PKGNAME, 'greet-fr-1.0');
  assert.equal(slave.meta.DISTFILES, 'greet-1.0.tar.gz');
  const files = words(slave.meta['.MAKE.MAKEFILES']).map((f) => resolve(TREE, 'misc/greet-fr', f));
  for (const want of ['misc/greet-fr/Makefile', 'misc/greet/Makefile', 'Mk/sys.mk', 'Mk/bsd.port.mk', 'Mk/bsd.port.options.mk']) {
    assert.ok(files.includes(join(TREE, want)), `${want} missing from ${slave.meta['.MAKE.MAKEFILES']}`);
  }
  const master = await metadata(TREE, 'misc/greet');
  assert.ok(!words(master.meta['.MAKE.MAKEFILES']).some((f) => f.includes('greet-fr')));
});

test('dependency strings: absolute ${PORTSDIR}/ origin, :tag, pkg>=version, LIB/RUN lists, PORTREVISION, meta port', async (t) => {
  if (needBmake(t)) return;
  const beta = await metadata(TREE, 'devel/libbeta');
  assert.equal(beta.meta.LIB_DEPENDS, `libalpha.so:${TREE}/devel/libalpha`);
  assert.equal(beta.meta.PKGNAME, 'libbeta-0.9_1');
  assert.equal(beta.meta.PKGVERSION, '0.9_1');
  const gamma = await metadata(TREE, 'textproc/gamma');
  assert.equal(gamma.meta.LIB_DEPENDS, 'libbeta.so:devel/libbeta');
  const mul = await metadata(TREE, 'math/nummul');
  assert.equal(mul.meta.BUILD_DEPENDS, `${EMPTY_LOCALBASE}/include/numbase.h:math/numbase:stage`);
  const calc = await metadata(TREE, 'math/numcalc');
  assert.equal(calc.meta.BUILD_DEPENDS, 'numbase>=1.0:math/numbase');
  assert.deepEqual(words(calc.meta.LIB_DEPENDS), ['libnumadd.so:math/numadd', 'libnummul.so:math/nummul']);
  const meta = await metadata(TREE, 'misc/examples-meta');
  assert.equal(meta.meta.DISTFILES, '');
  assert.deepEqual(
    words(meta.meta.RUN_DEPENDS).map((e) => e.split(':')[1]),
    ['misc/help2man', 'textproc/gamma', 'math/numcalc', 'textproc/pyfmt', 'misc/greet-fr'],
  );
});

test('host build of the three-deep chain libalpha <- libbeta <- gamma through install-package', async (t) => {
  if (needBmake(t)) return;
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));

  // Nothing installed yet: libbeta stops before building, naming what is missing.
  const early = await make(TREE, 'devel/libbeta', 'build', area.vars);
  assert.notEqual(early.code, 0);
  assert.match(early.stderr, new RegExp(`missing dependency libalpha\\.so \\(${TREE}/devel/libalpha\\)`));

  const chain = [
    ['devel/libalpha', 'libalpha-1.2.0'],
    ['devel/libbeta', 'libbeta-0.9_1'],
    ['textproc/gamma', 'gamma-2.1'],
  ] as const;
  for (const [dir] of chain) await buildAndInstall(TREE, dir, area.vars);

  for (const [dir, pkgname] of chain) {
    const pkgfile = join(area.packages, 'All', `${pkgname}.tgz`);
    assert.ok(existsSync(pkgfile), `${pkgfile} missing`);
    assert.equal(tarList(pkgfile)[0], '+MANIFEST', `${pkgfile} does not start with +MANIFEST`);
    const manifest = manifestOf(pkgfile);
    assert.match(manifest, new RegExp(`^pkgname: ${pkgname.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(manifest, new RegExp(`^origin: ${dir}$`, 'm'));
    assert.match(manifest, new RegExp(`^prefix: ${area.localbase}$`, 'm'));
    assert.equal(readFileSync(join(area.localbase, 'var/db/pkg', pkgname, '+MANIFEST'), 'utf8'), manifest);
  }
  assert.match(manifestOf(join(area.packages, 'All/gamma-2.1.tgz')), /^dep: devel\/libbeta libbeta-0\.9_1$/m);
  // The absolute ${PORTSDIR}/ origin is recorded as a plain origin.
  assert.match(manifestOf(join(area.packages, 'All/libbeta-0.9_1.tgz')), /^dep: devel\/libalpha libalpha-1\.2\.0$/m);
  assert.deepEqual(tarList(join(area.packages, 'All/libalpha-1.2.0.tgz')), [
    '+MANIFEST',
    'include/',
    'include/alpha.h',
    'lib/',
    'lib/libalpha.so',
  ]);
  assert.ok(!existsSync(join(area.localbase, '+MANIFEST')), '+MANIFEST was extracted into LOCALBASE');

  // beta=84 proves the whole chain links and runs, and libalpha's patch (41 -> 42) was applied.
  const gamma = spawnSync(join(area.localbase, 'bin/gamma'), { encoding: 'utf8' });
  assert.equal(gamma.stdout, `gamma 2.1 (prefix ${area.localbase}): beta=84\n`);

  // Phases are cookie-guarded: asking again does nothing and leaves the package alone.
  const pkgfile = join(area.packages, 'All/gamma-2.1.tgz');
  const before = statSync(pkgfile).mtimeMs;
  const again = await make(TREE, 'textproc/gamma', 'package', area.vars);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /Created|gamma\.c/);
  assert.equal(statSync(pkgfile).mtimeMs, before);
});

test('builds work from a read-only ports tree, and a port writing into its own directory fails (root)', async (t) => {
  if (needBmake(t)) return;
  if (process.getuid?.() !== 0) return t.skip(`needs root for a read-only bind mount (running as uid ${process.getuid?.()})`);
  if (spawnSync('unshare', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('unshare (util-linux) is not installed');
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));
  const mnt = join(area.root, 'xports');
  const brokenMnt = join(area.root, 'xbroken');
  // The broken tree shares the example framework through symlinks, which would point outside a
  // bind mount: mount a dereferenced copy, as portsync's own tests and users' trees are.
  const brokenCopy = join(area.root, 'broken-tree');
  cpSync(BROKEN, brokenCopy, { recursive: true, dereference: true });
  mkdirSync(mnt);
  mkdirSync(brokenMnt);
  const vars = area.vars.map((v) => `'${v}'`).join(' ');
  const steps = (tree: string, dir: string) =>
    [...PHASES, 'install-package'].map((p) => `bmake -C ${tree}/${dir} PORTSDIR=${tree} ${vars} ${p} >/dev/null || exit 1`).join('\n');
  // A private mount namespace: the read-only bind mounts vanish with the shell.
  const script = [
    'set -e',
    `mount --bind ${TREE} ${mnt} && mount -o remount,bind,ro ${mnt}`,
    `mount --bind ${brokenCopy} ${brokenMnt} && mount -o remount,bind,ro ${brokenMnt}`,
    `export MAKESYSPATH=${mnt}/Mk`,
    steps(mnt, 'misc/greet'),
    steps(mnt, 'misc/greet-fr'),
    `export MAKESYSPATH=${brokenMnt}/Mk`,
    `if bmake -C ${brokenMnt}/broken/dirty PORTSDIR=${brokenMnt} ${vars} build; then echo 'dirty built' >&2; exit 3; fi`,
  ].join('\n');
  const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /built-here: Read-only file system/);
  assert.deepEqual(readdirSync(join(area.packages, 'All')).sort(), ['greet-1.0.tgz', 'greet-fr-1.0.tgz']);
  assert.equal(spawnSync(join(area.localbase, 'bin/greet-fr'), { encoding: 'utf8' }).stdout, 'Bonjour, world!\n');
});

test('a port using a library it did not declare compiles only when that library is in LOCALBASE', async (t) => {
  if (needBmake(t)) return;
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));
  const without = await make(BROKEN, 'broken/sneaky', 'build', area.vars);
  assert.notEqual(without.code, 0);
  assert.match(without.stderr, /alpha\.h/);
  await buildAndInstall(BROKEN, 'devel/libalpha', area.vars);
  await make(BROKEN, 'broken/sneaky', 'clean', area.vars);
  const withLib = await make(BROKEN, 'broken/sneaky', 'package', area.vars);
  assert.equal(withLib.code, 0, withLib.stderr);
});

test('a package-version dependency (numbase>=1.0) is satisfied by the installed package database', async (t) => {
  if (needBmake(t)) return;
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));
  const check = (entry: string) => run('sh', [join(TREE, 'Mk/Scripts/check-depends.sh'), 'test-1.0', area.localbase, 'build', entry]);
  assert.match((await check('numbase>=1.0:math/numbase')).stderr, /missing dependency numbase>=1\.0 \(math\/numbase\)/);
  mkdirSync(join(area.localbase, 'var/db/pkg/numbase-1.0'), { recursive: true });
  assert.equal((await check('numbase>=1.0:math/numbase')).code, 0);
  assert.equal((await check('numbase<1.0:math/numbase')).code, 1);
  assert.equal((await check('numbase>=1.10:math/numbase')).code, 1, '1.10 is newer than 1.0');
  assert.equal((await check('/nonexistent:math/numbase')).code, 0, '/nonexistent entries are skipped');
  assert.equal((await check('sh:shells/sh')).code, 0, 'a program on PATH satisfies a bare name');
});

test('checksum: a corrupted distfile and a wrong distinfo both fail with a clear message', async (t) => {
  if (needBmake(t)) return;
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));
  const good = readFileSync(join(TREE, 'Sites/numbase-1.0.tar.gz'));
  const bad = Buffer.from(good);
  bad[bad.length - 5] = bad[bad.length - 5]! ^ 0xff;
  writeFileSync(join(area.distdir, 'numbase-1.0.tar.gz'), bad);
  const r = await make(TREE, 'math/numbase', 'checksum', area.vars);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /numbase-1\.0: checksum mismatch for .*numbase-1\.0\.tar\.gz/);
  assert.match(r.stderr, new RegExp(join(TREE, 'math/numbase/distinfo')));
  // A later phase refuses too.
  assert.notEqual((await make(TREE, 'math/numbase', 'extract', area.vars)).code, 0);

  writeFileSync(join(area.distdir, 'numbase-1.0.tar.gz'), good);
  assert.equal((await make(TREE, 'math/numbase', 'checksum', area.vars)).code, 0);
  const wrong = await make(BROKEN, 'broken/badsum', 'checksum', area.vars);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /badsum-1\.0: checksum mismatch/);
});

test('broken fixtures: bad patch, failing build, noisy and unparsable Makefiles, cycle and missing origin', async (t) => {
  if (needBmake(t)) return;
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));
  const patch = await make(BROKEN, 'broken/badpatch', 'patch', area.vars);
  assert.notEqual(patch.code, 0);
  assert.match(patch.stderr, /badpatch-1\.0: patch .*patch-numbase\.c does not apply cleanly/);
  const build = await make(BROKEN, 'broken/buildfail', 'build', area.vars);
  assert.notEqual(build.code, 0);
  assert.match(build.stderr, /broken\.c:\d+:\d+: error/);

  const noisy = await metadata(BROKEN, 'broken/noisy');
  assert.equal(noisy.code, 0);
  assert.equal(noisy.stderr.trim(), 'oops');
  assert.equal(noisy.meta.PKGNAME, 'noisy-1.0');
  const syntax = await metadata(BROKEN, 'broken/syntax');
  assert.notEqual(syntax.code, 0);
  assert.match(syntax.stderr, /syntax\/Makefile" line \d+/);

  assert.equal((await metadata(BROKEN, 'broken/cyca')).meta.BUILD_DEPENDS, 'cycb:broken/cycb');
  assert.equal((await metadata(BROKEN, 'broken/cycb')).meta.BUILD_DEPENDS, 'cyca:broken/cyca');
  assert.equal((await metadata(BROKEN, 'broken/needsghost')).meta.BUILD_DEPENDS, 'ghost:broken/ghost');
  assert.ok(!existsSync(join(BROKEN, 'broken/ghost')));
});

test('the broken tree reuses the example framework, distfiles and libalpha (symlinks: no copy to drift)', () => {
  for (const shared of ['Mk', 'Sites', 'devel/libalpha']) {
    assert.equal(realpathSync(join(BROKEN, shared)), realpathSync(join(TREE, shared)), `${shared} must link to examples/ports/${shared}`);
  }
});

test('make-distfiles.sh reproduces the committed distfiles and distinfo byte for byte', async (t) => {
  if (needBmake(t)) return;
  const copy = mkdtempSync(join(tmpdir(), 'portsync-distfiles-'));
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(join(ROOT, 'examples'), copy, { recursive: true });
  rmSync(join(copy, 'ports/Sites'), { recursive: true });
  for (const dir of portDirs(join(copy, 'ports'))) rmSync(join(copy, 'ports', dir, 'distinfo'), { force: true });
  const r = await run('sh', [join(copy, 'make-distfiles.sh')]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of readdirSync(join(TREE, 'Sites'))) {
    assert.ok(readFileSync(join(copy, 'ports/Sites', f)).equals(readFileSync(join(TREE, 'Sites', f))), `Sites/${f} is not reproducible`);
  }
  for (const dir of portDirs(TREE)) {
    const committed = join(TREE, dir, 'distinfo');
    if (!existsSync(committed)) continue;
    assert.equal(readFileSync(join(copy, 'ports', dir, 'distinfo'), 'utf8'), readFileSync(committed, 'utf8'), `${dir}/distinfo`);
  }
});

test('generateTree: deterministic, acyclic, hub-shaped, and every port evaluates cleanly with bmake', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'portsync-gentree-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const a = generateTree({ ports: 250, out: join(base, 'a'), seed: 42 });
  const b = generateTree({ ports: 250, out: join(base, 'b'), seed: 42 });
  const c = generateTree({ ports: 250, out: join(base, 'c'), seed: 43 });
  assert.deepEqual(a.portList, b.portList);
  assert.notDeepEqual(a.portList, c.portList);
  const sample = a.portList[201]!.origin;
  assert.equal(readFileSync(join(a.out, sample, 'Makefile'), 'utf8'), readFileSync(join(b.out, sample, 'Makefile'), 'utf8'));
  assert.throws(
    () => generateTree({ ports: 10, out: a.out }),
    (e: unknown) => e instanceof TreeOutputNotEmptyError && e.dir === a.out,
  );

  assert.equal(a.ports, 250);
  const seen = new Set<string>();
  for (const p of a.portList) {
    for (const d of p.depends) assert.ok(seen.has(d.origin), `${p.origin} depends on later or unknown ${d.origin}`);
    seen.add(p.origin);
  }
  const perPort = a.edges / a.ports;
  assert.ok(perPort >= 5 && perPort <= 16, `${perPort} dependencies per port`);
  assert.ok(a.flavored / a.ports > 0.08 && a.flavored / a.ports < 0.25, `${a.flavored} flavored`);
  assert.ok(a.maxDependents > a.ports * 0.4, `busiest hub has only ${a.maxDependents} dependents`);
  assert.ok(a.flavorEdges > 0 && a.ignored > 0 && a.categories >= 25);
  t.diagnostic(`250 ports: ${a.edges} edges, ${a.flavored} flavored, ${a.ignored} ignored, hub ${a.maxDependents}, ${a.durationMs} ms`);

  if (needBmake(t)) return;
  let ignored = 0;
  for (const p of a.portList) {
    for (const flavor of ['', ...p.flavors.slice(1)]) {
      const r = await metadata(a.out, p.origin, flavor ? [`FLAVOR=${flavor}`] : []);
      assert.equal(r.code, 0, `${p.origin}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${p.origin} printed on stderr`);
      if (!flavor && r.meta.IGNORE) ignored++;
      if (flavor && p.origin !== 'lang/python') assert.match(r.meta.BUILD_DEPENDS, new RegExp(`lang/python@${flavor}`));
    }
  }
  assert.equal(ignored, a.ignored);
});

test('generated ports build: a small dependency closure, in order, through install-package', async (t) => {
  if (needBmake(t)) return;
  const base = mkdtempSync(join(tmpdir(), 'portsync-gentree-build-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const s = generateTree({ ports: 60, out: join(base, 'tree'), seed: 5 });
  const byOrigin = new Map(s.portList.map((p) => [p.origin, p]));
  const closure = (origin: string, acc = new Set<string>()): Set<string> => {
    for (const d of byOrigin.get(origin)!.depends) if (!acc.has(d.origin)) closure(d.origin, acc);
    acc.add(origin);
    return acc;
  };
  // The smallest closure of at least three ports with nothing ignored or flavored in it.
  const pick = s.portList
    .map((p) => closure(p.origin))
    .filter((c) => c.size >= 3 && [...c].every((o) => !byOrigin.get(o)!.ignored && byOrigin.get(o)!.flavors.length === 0))
    .sort((x, y) => x.size - y.size)[0];
  assert.ok(pick, 'no buildable closure in the generated tree');
  const area = buildArea();
  t.after(() => rmSync(area.root, { recursive: true, force: true }));
  const order = s.portList.map((p) => p.origin).filter((o) => pick.has(o));
  for (const origin of order) await buildAndInstall(s.out, origin, area.vars);
  assert.equal(readdirSync(join(area.packages, 'All')).length, order.length);
  t.diagnostic(`built ${order.join(' ')}`);
});
