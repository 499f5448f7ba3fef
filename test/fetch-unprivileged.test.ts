/**
 * Fetching without root (chroot backend): every make phase, fetch and checksum included, runs as
 * the build user; only the dependency install runs as root. A build fetches into a private
 * DISTDIR; portsync hands it only cached files that match its distinfo, and puts into the shared
 * cache only fetched files that match it — so a hostile port cannot slip its file under another
 * port's distfile name, nor make portsync follow a link it planted. Real bmake, real chroots,
 * real files (the example tree plus ports written here).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject, rootMissing } from './helpers/project.js';
import { cli } from './helpers/wait.js';
import { parseDistinfo, publishDistfiles, seedDistfiles } from '../src/builder/distfiles.js';

const skip = bmakeMissing() ?? rootMissing();
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A .tar.gz holding `<top>/README` with `text`, as bytes. */
function tarball(top: string, text: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-tarball-'));
  try {
    mkdirSync(join(dir, top));
    writeFileSync(join(dir, top, 'README'), text);
    const r = spawnSync('tar', ['-czf', '-', '-C', dir, top]);
    assert.equal(r.status, 0, r.stderr?.toString());
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes a port into the project's tree: its Makefile (`extra` appended before the framework),
 * its distfiles under files/ (its MASTER_SITES), and a distinfo for `listed` (name → bytes it
 * vouches for; defaults to the distfiles themselves).
 */
function writePort(
  p: TestProject,
  origin: string,
  opts: { distfiles: Record<string, Buffer>; listed?: Record<string, Buffer | string>; extra?: string; distname?: string },
): void {
  const [cat, name] = origin.split('/') as [string, string];
  mkdirSync(p.file(`${origin}/files`), { recursive: true });
  for (const [f, bytes] of Object.entries(opts.distfiles)) writeFileSync(p.file(`${origin}/files/${f}`), bytes);
  const listed = opts.listed ?? opts.distfiles;
  writeFileSync(
    p.file(`${origin}/distinfo`),
    Object.entries(listed)
      .map(([f, b]) => `SHA256 (${f}) = ${sha256(b)}\nSIZE (${f}) = ${Buffer.byteLength(b)}\n`)
      .join(''),
  );
  writeFileSync(
    p.file(`${origin}/Makefile`),
    [
      `PORTNAME=\t${name}`,
      'PORTVERSION=\t1.0',
      `CATEGORIES=\t${cat}`,
      'COMMENT=\tfetch test port',
      'MAINTAINER=\tports@example.org',
      `DISTFILES=\t${Object.keys(opts.distfiles).join(' ')}`,
      ...(opts.distname ? [`DISTNAME=\t${opts.distname}`] : []),
      'MASTER_SITES=\tfile://${.CURDIR}/files/',
      'NO_BUILD=\tyes',
      opts.extra ?? '',
      '.include <bsd.port.mk>',
      '',
    ].join('\n'),
  );
}

function project(ports: string[]): TestProject {
  const p = new TestProject({ ports });
  cleanups.push(() => p.remove());
  return p;
}

const cacheDir = (p: TestProject) => join(p.dir, '.portsync', 'distfiles');
const logOf = (r: { ports: { origin: string; logPath?: string }[] }, origin: string) =>
  readFileSync(r.ports.find((x) => x.origin === origin)!.logPath!, 'utf8');

test(
  'fetch and checksum run as the build user; only the dependency install runs as root; what they fetch reaches the cache root-owned and whole',
  { skip },
  async () => {
    const p = project(['fetchtest/who']);
    const dist = tarball('who-1.0', 'who\n');
    writePort(p, 'fetchtest/who', {
      distfiles: { 'who-1.0.tar.gz': dist },
      extra: [
        'LIB_DEPENDS=\tlibalpha.so:devel/libalpha',
        'post-fetch:',
        '\t@echo "who: fetch ran as uid $$(id -u) gid $$(id -g)"',
        '\t@echo "who: DISTDIR holds: $$(ls -A /distfiles | tr "\\n" " ")"',
        'post-checksum:',
        '\t@echo "who: checksum ran as uid $$(id -u) gid $$(id -g)"',
      ].join('\n'),
    });
    const r = await p.pass();
    assert.deepEqual(
      r.ports.map((x) => [x.origin, x.status]),
      [
        ['devel/libalpha', 'success'],
        ['fetchtest/who', 'success'],
      ],
      r.lines.join('\n'),
    );
    const log = logOf(r, 'fetchtest/who');
    assert.match(log, /installing dependency libalpha-1\.2\.0/, 'the install step ran (as root: it writes LOCALBASE)');
    assert.match(log, /who: fetch ran as uid 65534 gid 65534/);
    assert.match(log, /who: checksum ran as uid 65534 gid 65534/);
    // Its private DISTDIR holds its own file only: not libalpha's, fetched into the cache by the build before.
    assert.match(log, /who: DISTDIR holds: who-1\.0\.tar\.gz $/m);
    assert.match(log, /portsync: distfiles: 0 of 1 from the cache \(each checked against distinfo\), 1 to fetch \(\d+ ms\)/);
    assert.match(log, /portsync: distfiles: who-1\.0\.tar\.gz matches distinfo: added to the cache/);
    // In the cache: root's, 0644, whole; no temporary name left.
    const cached = join(cacheDir(p), 'who-1.0.tar.gz');
    const st = statSync(cached);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o644]);
    assert.equal(sha256(readFileSync(cached)), sha256(dist));
    assert.deepEqual(readdirSync(cacheDir(p)).sort(), ['libalpha-1.2.0.tar.gz', 'who-1.0.tar.gz']);

    // Built again: the cached file is handed over after its check, and nothing is fetched.
    const again = await p.pass({ force: ['fetchtest/who'] });
    const log2 = logOf(again, 'fetchtest/who');
    assert.equal(again.ports.find((x) => x.origin === 'fetchtest/who')!.status, 'success');
    assert.match(log2, /portsync: distfiles: 1 of 1 from the cache \(each checked against distinfo\), 0 to fetch \(\d+ ms\)/);
    assert.doesNotMatch(log2, /===>  Fetching/);
    assert.doesNotMatch(log2, /added to the cache/);
  },
);

test(
  "a hostile port cannot poison another port's distfile: its file under libalpha's name is never handed to libalpha",
  { skip },
  async () => {
    const p = project(['fetchtest/poisoner']);
    const trojan = tarball('libalpha-1.2.0', 'TROJAN\n');
    // Its own distinfo vouches for its trojan under libalpha's distfile name: the cache takes it
    // (it matches the distinfo of the port that fetched it) ...
    writePort(p, 'fetchtest/poisoner', { distfiles: { 'libalpha-1.2.0.tar.gz': trojan }, distname: 'libalpha-1.2.0' });
    const first = await p.pass();
    assert.equal(first.ports[0]!.status, 'success', first.lines.join('\n'));
    assert.equal(sha256(readFileSync(join(cacheDir(p), 'libalpha-1.2.0.tar.gz'))), sha256(trojan));
    // ... but libalpha gets only what its own distinfo vouches for: it fetches its own again.
    p.writeConfig({ ports: ['fetchtest/poisoner', 'devel/libalpha'] });
    const second = await p.pass();
    const alpha = second.ports.find((x) => x.origin === 'devel/libalpha')!;
    assert.equal(alpha.status, 'success', second.lines.join('\n'));
    const log = logOf(second, 'devel/libalpha');
    assert.match(
      log,
      /portsync: distfiles: the cache's libalpha-1\.2\.0\.tar\.gz is not this port's \(it has \d+ bytes, distinfo says 436\): not used, fetched again/,
    );
    assert.match(log, /===>  Fetching file:\/\/\/xports\/Sites\/libalpha-1\.2\.0\.tar\.gz/);
    assert.match(log, /libalpha-1\.2\.0\.tar\.gz: checksum OK/);
    const want = parseDistinfo(p.read('devel/libalpha/distinfo')).entries[0]!.sha256;
    assert.equal(sha256(readFileSync(join(cacheDir(p), 'libalpha-1.2.0.tar.gz'))), want, "the cache holds libalpha's own again");
    const pkg = spawnSync('tar', ['-tzf', join(p.packages, 'libalpha-1.2.0.tgz')], { encoding: 'utf8' });
    assert.match(pkg.stdout, /lib\/libalpha\.so/, 'built from the real source');
  },
);

test(
  'a hostile fetch: files distinfo does not vouch for, wrong content and planted links never reach the cache, and portsync follows no link',
  { skip },
  async () => {
    const p = project(['fetchtest/liar']);
    const marker = randomUUID().slice(0, 8);
    // A root-only file on the host whose content the attacker knows (and so lists in its distinfo).
    const secret = join(tmpdir(), `portsync-rootonly-${marker}`);
    writeFileSync(secret, `secret ${marker}\n`, { mode: 0o600 });
    const target = mkdtempSync(join(tmpdir(), 'portsync-linktarget-'));
    cleanups.push(
      () => rmSync(secret, { force: true }),
      () => rmSync(target, { recursive: true, force: true }),
    );
    writeFileSync(join(target, 'seed.txt'), 'seed\n');
    chmodSync(target, 0o755);
    const own = tarball('liar-1.0', 'liar\n');
    const cache = cacheDir(p);
    // A valid cached file under a name whose directory the port will have replaced by a link.
    mkdirSync(join(cache, 'sub2'), { recursive: true });
    writeFileSync(join(cache, 'sub2', 'seed.txt'), 'seed\n');
    writePort(p, 'fetchtest/liar', {
      distfiles: { 'liar-1.0.tar.gz': own },
      listed: {
        'liar-1.0.tar.gz': own,
        'wrong.bin': 'what distinfo promises\n',
        'stolen.txt': `secret ${marker}\n`,
        'sub/planted.txt': 'seed\n',
        'sub2/seed.txt': 'seed\n',
      },
      extra: [
        // At parse time (every make call, the distinfo read before the cache is consulted included):
        // the directory of a cached file becomes a link to a host directory.
        `_PLANT!=\tln -s ${target} /distfiles/sub2 2>/dev/null; echo`,
        'post-fetch:',
        '\t@echo "something else" > /distfiles/wrong.bin',
        '\t@echo "not listed" > /distfiles/libbeta-0.9.tar.gz',
        // (-f: the checksum phase makes fetch again)
        `\t@ln -sfn ${secret} /distfiles/stolen.txt`,
        `\t@ln -sfn ${target} /distfiles/sub`,
        '\t@ls -l /distfiles',
      ].join('\n'),
    });
    const r = await p.pass();
    const log = logOf(r, 'fetchtest/liar');
    assert.equal(r.ports[0]!.status, 'success', log);
    assert.match(
      log,
      /portsync: distfiles: sub2\/seed\.txt not taken from the cache: \S+\/distfiles\/sub2 is a symbolic link \(never followed\)$/m,
    );
    assert.match(log, /portsync: distfiles: liar-1\.0\.tar\.gz matches distinfo: added to the cache/);
    assert.match(log, /portsync: distfiles: wrong\.bin not added to the cache: it has 15 bytes, distinfo says 23$/m);
    assert.match(
      log,
      /portsync: distfiles: stolen\.txt not added to the cache: \S+\/distfiles\/stolen\.txt is a symbolic link \(never followed\)$/m,
    );
    assert.match(
      log,
      /portsync: distfiles: sub\/planted\.txt not added to the cache: \S+\/distfiles\/sub is a symbolic link \(never followed\)$/m,
    );
    // The cache: what it had, plus the one file that matched; nothing through a link, no temporary names.
    assert.deepEqual(readdirSync(cache).sort(), ['liar-1.0.tar.gz', 'sub2']);
    assert.deepEqual(readdirSync(join(cache, 'sub2')), ['seed.txt']);
    assert.equal(statSync(join(cache, 'sub2')).isDirectory(), true);
    // Nothing written through the planted links on the host.
    assert.deepEqual(readdirSync(target), ['seed.txt']);
    assert.equal(readFileSync(secret, 'utf8'), `secret ${marker}\n`);
  },
);

test('`portsync fetch` on the chroot backend fills the shared cache with checked files and builds nothing', { skip }, async () => {
  const p = project(['textproc/gamma']);
  const r = await cli(p.dir, ['fetch']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /fetch: 3 ports fetched and checked, 0 failed/);
  assert.deepEqual(readdirSync(cacheDir(p)).sort(), ['gamma-2.1.tar.gz', 'libalpha-1.2.0.tar.gz', 'libbeta-0.9.tar.gz']);
  for (const f of readdirSync(cacheDir(p))) assert.equal(statSync(join(cacheDir(p), f)).uid, 0);
  assert.equal(existsSync(p.packages), false, 'fetch builds nothing');
});

test(
  'seeding and publishing check size and SHA-256 on their own: a cached file that does not match is not handed over, a fetched one that does not is not published',
  { skip: rootMissing() },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'portsync-distfiles-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const cache = join(base, 'cache');
    const priv = join(base, 'priv');
    mkdirSync(join(cache, 'sub'), { recursive: true });
    mkdirSync(priv);
    writeFileSync(join(cache, 'good.tar.gz'), 'good\n');
    writeFileSync(join(cache, 'sub', 'same-size.tar.gz'), 'evil\n'); // the size distinfo says, not the content
    writeFileSync(join(cache, 'loose.tar.gz'), 'good\n', { mode: 0o666 });
    chmodSync(join(cache, 'loose.tar.gz'), 0o666);
    const { entries, refused } = parseDistinfo(
      [
        `SHA256 (good.tar.gz) = ${sha256('good\n')}`,
        'SIZE (good.tar.gz) = 5',
        `SHA256 (sub/same-size.tar.gz) = ${sha256('fine\n')}`,
        'SIZE (sub/same-size.tar.gz) = 5',
        `SHA256 (loose.tar.gz) = ${sha256('good\n')}`,
        'SIZE (loose.tar.gz) = 5',
        `SHA256 (new.tar.gz) = ${sha256('new\n')}`,
        'SIZE (new.tar.gz) = 4',
        `SHA256 (../escape.tar.gz) = ${sha256('x')}`,
        'TIMESTAMP = 1',
      ].join('\n'),
    );
    assert.deepEqual(refused, [{ name: '../escape.tar.gz', why: 'not a plain relative path (empty, . or .. component)' }]);
    const seed = await seedDistfiles(cache, priv, entries, { uid: 65534, gid: 65534 });
    assert.deepEqual([...seed.seeded.keys()].sort(), ['good.tar.gz', 'loose.tar.gz']);
    assert.deepEqual(
      seed.mismatched.map((m) => m.name),
      ['sub/same-size.tar.gz'],
    );
    // A file the build user could not write is linked; one others may write is copied, root's and 0644.
    assert.equal(statSync(join(priv, 'good.tar.gz')).ino, statSync(join(cache, 'good.tar.gz')).ino);
    assert.notEqual(statSync(join(priv, 'loose.tar.gz')).ino, statSync(join(cache, 'loose.tar.gz')).ino);
    assert.equal(statSync(join(priv, 'loose.tar.gz')).mode & 0o777, 0o644);
    // The build fetched: the new file right, the mismatched one again (wrongly), and replaced a seeded one.
    mkdirSync(join(priv, 'sub'));
    writeFileSync(join(priv, 'new.tar.gz'), 'new\n');
    writeFileSync(join(priv, 'sub', 'same-size.tar.gz'), 'bad!\n');
    rmSync(join(priv, 'good.tar.gz'));
    writeFileSync(join(priv, 'good.tar.gz'), 'gooD\n');
    const pub = await publishDistfiles(priv, cache, entries, seed.seeded);
    assert.deepEqual(pub.published, ['new.tar.gz']);
    assert.deepEqual(pub.rejected.map((x) => x.name).sort(), ['good.tar.gz', 'sub/same-size.tar.gz']);
    assert.deepEqual(pub.failed, []);
    assert.equal(readFileSync(join(cache, 'good.tar.gz'), 'utf8'), 'good\n', 'a rejected file leaves the cache as it was');
    assert.equal(readFileSync(join(cache, 'new.tar.gz'), 'utf8'), 'new\n');
    assert.deepEqual(readdirSync(cache).sort(), ['good.tar.gz', 'loose.tar.gz', 'new.tar.gz', 'sub'], 'no temporary file left');
  },
);
