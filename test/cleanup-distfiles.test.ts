/**
 * `portsync cleanup --distfiles` (dsynth's purge-distfiles) on a real tree read with bmake: what
 * no port of the desired state names — in DISTFILES (under DIST_SUBDIR, `:group` dropped) or in
 * its distinfo — goes, with its size and the bytes freed; --dry-run only lists.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '../src/builddb/sqlErrors.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { cli } from './helpers/wait.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

/** Every file under `dir`, relative, sorted. */
function files(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .flatMap((e) => {
      const name = rel ? `${rel}/${e.name}` : e.name;
      return e.isDirectory() ? files(dir, name) : [name];
    })
    .sort();
}

test('cleanup --distfiles removes what no desired port uses, says what and how many bytes; --dry-run lists only', { skip }, async () => {
  const p = new TestProject({ ports: ['misc/greet', 'lang/pyish@py312', 'misc/subby'], backend: 'host' });
  projects.push(p);
  // A port whose DISTFILES carry a :group and whose distinfo also lists a patch.
  mkdirSync(p.file('misc/subby'));
  writeFileSync(
    p.file('misc/subby/Makefile'),
    'PORTNAME=\tsubby\nPORTVERSION=\t1.0\nCATEGORIES=\tmisc\nCOMMENT=\tx\nDIST_SUBDIR=\tsubby\nDISTFILES=\tsubby-1.0.tar.gz:src\n\n.include <bsd.port.mk>\n',
  );
  writeFileSync(
    p.file('misc/subby/distinfo'),
    `SHA256 (subby/subby-1.0.tar.gz) = ${'a'.repeat(64)}\nSIZE (subby/subby-1.0.tar.gz) = 3\nSHA256 (subby/fix-1.patch) = ${'b'.repeat(64)}\nSIZE (subby/fix-1.patch) = 3\n`,
  );

  const cache = join(p.dir, '.portsync', 'distfiles');
  mkdirSync(join(cache, 'pyish'), { recursive: true });
  mkdirSync(join(cache, 'subby'));
  mkdirSync(join(cache, 'gone'));
  copyFileSync(p.file('Sites/greet-1.0.tar.gz'), join(cache, 'greet-1.0.tar.gz'));
  copyFileSync(p.file('Sites/pyish-1.0.tar.gz'), join(cache, 'pyish/pyish-1.0.tar.gz'));
  writeFileSync(join(cache, 'subby/subby-1.0.tar.gz'), 'src');
  writeFileSync(join(cache, 'subby/fix-1.patch'), 'fix');
  // Not used by any desired port: a port of the tree that is not desired, an old version, a whole old subdirectory.
  copyFileSync(p.file('Sites/ancient-0.1.tar.gz'), join(cache, 'ancient-0.1.tar.gz'));
  writeFileSync(join(cache, 'greet-0.9.tar.gz'), 'x'.repeat(1000));
  writeFileSync(join(cache, 'gone/old-1.0.tar.gz'), 'y'.repeat(2000));
  // A download being published right now (distfiles.ts's temporary name): left alone.
  writeFileSync(join(cache, '.greet-1.1.tar.gz.portsync-0123456789ab'), 'partial');
  const unused = ['ancient-0.1.tar.gz', 'gone/old-1.0.tar.gz', 'greet-0.9.tar.gz'];
  const bytes = unused.reduce((n, f) => n + statSync(join(cache, f)).size, 0);
  const before = files(cache);

  const dry = await cli(p.dir, ['cleanup', '--distfiles', '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  for (const f of unused)
    assert.ok(dry.out.includes(`would remove ${cache}/${f} (${formatBytes(statSync(join(cache, f)).size)})`), `${f} listed:\n${dry.out}`);
  assert.match(
    dry.out,
    new RegExp(`cleanup distfiles: 3 files no desired port uses would be removed, ${formatBytes(bytes)} would be freed; 5 kept`),
  );
  assert.deepEqual(files(cache), before, '--dry-run removes nothing');

  const r = await cli(p.dir, ['cleanup', '--distfiles']);
  assert.equal(r.code, 0, r.err);
  for (const f of unused) assert.ok(r.out.includes(`removed ${cache}/${f} (`), r.out);
  assert.match(r.out, new RegExp(`cleanup distfiles: 3 files no desired port uses removed, ${formatBytes(bytes)} freed; 5 kept`));
  assert.deepEqual(files(cache), [
    '.greet-1.1.tar.gz.portsync-0123456789ab',
    'greet-1.0.tar.gz',
    'pyish/pyish-1.0.tar.gz',
    'subby/fix-1.patch',
    'subby/subby-1.0.tar.gz',
  ]);
  assert.equal(existsSync(join(cache, 'gone')), false, 'a directory left empty goes too');

  // A port no longer desired: its distfiles are no longer used.
  p.writeConfig({ ports: ['misc/greet', 'misc/subby'], backend: 'host' });
  const again = await cli(p.dir, ['cleanup', '--distfiles']);
  assert.match(again.out, /removed .*\/pyish\/pyish-1\.0\.tar\.gz \(\d+ bytes\)\n/);
  assert.equal(existsSync(join(cache, 'pyish')), false);
  assert.ok(existsSync(join(cache, 'greet-1.0.tar.gz')));
});
