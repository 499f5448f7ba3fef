import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { computeFileCRC, computePortCRC } from '../src/fingerprint/portCrc.js';

const root = mkdtempSync(join(tmpdir(), 'portsync-crc-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes the same port files in the given order. */
function port(name: string, order: string[]): string {
  const dir = join(root, name);
  const files: Record<string, string> = {
    Makefile: 'PORTNAME=x\n',
    distinfo: 'SHA256 (x.tgz) = 00\n',
    'files/patch-a': '--- a\n',
    'pkg-descr': 'x\n',
  };
  mkdirSync(join(dir, 'files'), { recursive: true });
  for (const f of order) writeFileSync(join(dir, f), files[f]!);
  return dir;
}

test('same content, same CRC: whatever the mtimes or the order files were created in', async () => {
  const a = port('a', ['Makefile', 'distinfo', 'files/patch-a', 'pkg-descr']);
  const b = port('b', ['pkg-descr', 'files/patch-a', 'distinfo', 'Makefile']);
  utimesSync(join(b, 'Makefile'), new Date(0), new Date(0));
  const crc = await computePortCRC(a);
  assert.match(crc, /^[0-9a-f]{8}$/);
  assert.equal(await computePortCRC(b), crc);
});

test('the CRC is CRC32 over relative path, NUL, content, in sorted path order', async () => {
  const dir = join(root, 'spec');
  mkdirSync(join(dir, 'files'), { recursive: true });
  writeFileSync(join(dir, 'Makefile'), 'M\n');
  writeFileSync(join(dir, 'files', 'patch-z'), 'Z\n');
  let expected = 0;
  for (const [rel, content] of [
    ['Makefile', 'M\n'],
    ['files/patch-z', 'Z\n'],
  ] as const) {
    expected = crc32(Buffer.from(rel), expected);
    expected = crc32(Buffer.from([0]), expected);
    expected = crc32(Buffer.from(content), expected);
  }
  assert.equal(await computePortCRC(dir), expected.toString(16).padStart(8, '0'));
});

test('what changes the CRC, and what does not', async () => {
  const dir = port('c', ['Makefile', 'distinfo', 'files/patch-a', 'pkg-descr']);
  const base = await computePortCRC(dir);
  // Skipped: .git, work, .svn, CVS.
  for (const skipped of ['.git', 'work', '.svn', 'CVS']) {
    mkdirSync(join(dir, skipped), { recursive: true });
    writeFileSync(join(dir, skipped, 'junk'), String(Math.random()));
  }
  assert.equal(await computePortCRC(dir), base);
  // A changed byte, a renamed file, a new file: all change it.
  writeFileSync(join(dir, 'pkg-descr'), 'y\n');
  const changed = await computePortCRC(dir);
  assert.notEqual(changed, base);
  writeFileSync(join(dir, 'pkg-descr'), 'x\n');
  assert.equal(await computePortCRC(dir), base);
  writeFileSync(join(dir, 'files/patch-b'), '');
  assert.notEqual(await computePortCRC(dir), base);
  rmSync(join(dir, 'files/patch-b'));
  // A symlink counts by its target text, not what it points at.
  symlinkSync('/nonexistent/target', join(dir, 'link'));
  const linked = await computePortCRC(dir);
  assert.notEqual(linked, base);
  rmSync(join(dir, 'link'));
  symlinkSync('/nonexistent/target', join(dir, 'link'));
  assert.equal(await computePortCRC(dir), linked);
});

test('computeFileCRC is the plain CRC32 of a file', () => {
  const f = join(root, 'one');
  writeFileSync(f, 'hello');
  assert.equal(computeFileCRC(f), crc32(Buffer.from('hello')).toString(16).padStart(8, '0'));
});
