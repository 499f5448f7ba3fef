/** A package's identity is its normalized content: archive timestamps, owners and entry order do not count. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageIdentity, PackageUnreadableError } from '../src/fingerprint/packageIdentity.js';

const dir = mkdtempSync(join(tmpdir(), 'portsync-pkgid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Stages a package tree and archives it with tar (extra flags vary how the archive is written). */
function pkg(name: string, files: Record<string, string>, tarFlags: string[], order: string[] = ['+MANIFEST', 'lib', 'bin']): string {
  const root = join(dir, `${name}.d`);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  symlinkSync('libx.so.1', join(root, 'lib/libx.so'));
  chmodSync(join(root, 'bin/x'), 0o755);
  const out = join(dir, `${name}.tgz`);
  const r = spawnSync('tar', ['-czf', out, ...tarFlags, '-C', root, ...order], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const FILES = { '+MANIFEST': 'name: x\nversion: 1.0\n', 'bin/x': '#!/bin/sh\necho x\n', 'lib/libx.so.1': 'ELF...' };

test('the same files give the same identity, however the archive was written; the checksum is of the bytes', () => {
  const a = pkg('a', FILES, ['--mtime=@0', '--owner=0', '--group=0']);
  const b = pkg('b', FILES, ['--mtime=@1700000000', '--owner=1234', '--group=99'], ['bin', 'lib', '+MANIFEST']);
  const ia = packageIdentity(a);
  const ib = packageIdentity(b);
  assert.match(ia.identity, /^[0-9a-f]{64}$/);
  assert.equal(ia.identity, ib.identity);
  assert.notEqual(ia.checksum, ib.checksum);
  assert.deepEqual(ia.shlibs, ['libx.so', 'libx.so.1']);
});

test('content, permission bits, the manifest and an added file each change the identity', () => {
  const base = packageIdentity(pkg('base', FILES, [])).identity;
  const variants = [
    packageIdentity(pkg('content', { ...FILES, 'bin/x': '#!/bin/sh\necho y\n' }, [])).identity,
    packageIdentity(pkg('manifest', { ...FILES, '+MANIFEST': 'name: x\nversion: 1.1\n' }, [])).identity,
    packageIdentity(pkg('extra', { ...FILES, 'share/doc/x': 'doc' }, [], ['+MANIFEST', 'lib', 'bin', 'share'])).identity,
  ];
  const mode = join(dir, 'mode.d');
  const modePkg = pkg('mode', FILES, []);
  chmodSync(join(mode, 'bin/x'), 0o700);
  utimesSync(join(mode, 'bin/x'), new Date(0), new Date(0));
  spawnSync('tar', ['-czf', modePkg, '-C', mode, '+MANIFEST', 'lib', 'bin']);
  variants.push(packageIdentity(modePkg).identity);
  assert.equal(new Set([base, ...variants]).size, 1 + variants.length);
});

test('a file that is not a package is a PackageUnreadableError naming it', () => {
  const bad = join(dir, 'bad.tgz');
  writeFileSync(bad, 'TROJAN');
  assert.throws(
    () => packageIdentity(bad),
    (e) => e instanceof PackageUnreadableError && e.file === bad && /remove it so the port is rebuilt/.test(e.message),
  );
  assert.throws(
    () => packageIdentity(join(dir, 'missing.tgz')),
    (e) => e instanceof PackageUnreadableError,
  );
});
