/**
 * Publishing the repository atomically, for real: passes of the example tree in chroot workers
 * build into a staging copy, run the example framework's catalog command there and switch
 * `<packages>/latest` in one rename; unchanged passes switch nothing; a failing catalog command
 * publishes nothing; rollback restores the previous snapshot; a repository written in place is
 * converted without losing a package; a pass killed with SIGKILL leaves the published snapshot
 * exactly as it was, and the next pass removes its staging copy.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize } from 'node:v8';
import { packageStatKey } from '../src/fingerprint/packageCheck.js';
import { parseDesiredState } from '../src/config/load.js';
import { ConfigError } from '../src/config/errors.js';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject, rootMissing } from './helpers/project.js';
import { cli, waitFor } from './helpers/wait.js';

const skip = bmakeMissing() ?? rootMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

const CATALOG = join(REPO, 'examples/catalog/packagesite.sh');
const repoConfig = (catalogCommand: string, keep = 2) => `repository: { catalogCommand: ${JSON.stringify(catalogCommand)}, keep: ${keep} }`;

function project(ports: string[], extra = repoConfig(CATALOG)): TestProject {
  const p = new TestProject({ ports, extra });
  projects.push(p);
  return p;
}

/** A port of our own in the project's tree: no distfile, nothing to compile (quick), `build` as its build step. */
function tinyPort(p: TestProject, origin: string, build = 'true', extra: string[] = []): void {
  const [category, name] = origin.split('/') as [string, string];
  mkdirSync(p.file(origin), { recursive: true });
  writeFileSync(
    p.file(`${origin}/Makefile`),
    [
      `PORTNAME=\t${name}`,
      'PORTVERSION=\t1.0',
      `CATEGORIES=\t${category}`,
      `COMMENT=\t${name}, a port of the test`,
      'DISTFILES=',
      'NO_INSTALL=\tyes',
      ...extra,
      'do-build:',
      `\t@echo ${name}-building; ${build}`,
      '',
      '.include <bsd.port.mk>',
      '',
    ].join('\n'),
  );
}

const repo = (p: TestProject) => join(p.dir, '.portsync', 'packages');
const published = (p: TestProject) => readlinkSync(join(repo(p), 'latest'));
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** Each package of the published repository, by name: its inode (a hard-linked package keeps it). */
const inodes = (dir: string) =>
  new Map(
    readdirSync(dir)
      .sort()
      .map((n) => [n, statSync(join(dir, n)).ino]),
  );
const stagingDirs = (p: TestProject) => readdirSync(repo(p)).filter((n) => n.startsWith('.staging-'));
const catalogOf = (p: TestProject) =>
  readFileSync(join(repo(p), 'latest', 'packagesite.yaml'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; version: string; path: string; sum: string; pkgsize: number });

test(
  'a pass publishes a snapshot through one atomic link; an unchanged pass neither runs the catalog nor switches; a change shares unchanged packages by hard link; keep trims; rollback restores',
  { skip },
  async () => {
    const p = project(['textproc/gamma']);
    const first = await p.pass();
    assert.equal(first.status, 'success', first.lines.join('\n'));
    assert.equal(first.repository?.action, 'published');
    const s1 = first.repository!.snapshot!;
    assert.match(s1, /^0001-\d{8}T\d{6}Z$/);
    assert.ok(lstatSync(join(repo(p), 'latest')).isSymbolicLink());
    assert.equal(published(p), `.snapshots/${s1}`);
    assert.equal(readlinkSync(join(repo(p), 'All')), 'latest/All', '<packages>/All leads through latest');
    assert.deepEqual(readdirSync(p.packages).sort(), ['gamma-2.1.tgz', 'libalpha-1.2.0.tgz', 'libbeta-0.9_1.tgz']);
    assert.deepEqual(stagingDirs(p), [], 'the staging copy became the snapshot');
    // The example framework's catalog command ran in it: name, version and sha256 of each package.
    const catalog = catalogOf(p);
    assert.deepEqual(
      catalog.map((c) => `${c.name} ${c.version}`),
      ['gamma 2.1', 'libalpha 1.2.0', 'libbeta 0.9_1'],
    );
    for (const c of catalog) assert.equal(c.sum, sha256(join(repo(p), 'latest', c.path)), `${c.path}'s sha256 in the catalog`);
    assert.equal(readlinkSync(join(repo(p), 'packagesite.yaml')), 'latest/packagesite.yaml', 'the catalog is reachable at the top too');
    const catalogIno = statSync(join(repo(p), 'latest', 'packagesite.yaml')).ino;

    const same = await p.pass();
    assert.equal(same.stats.skipped, 3);
    assert.deepEqual(same.repository, { action: 'unchanged', snapshot: s1, previous: s1 });
    assert.equal(published(p), `.snapshots/${s1}`, 'nothing switched');
    assert.equal(statSync(join(repo(p), 'latest', 'packagesite.yaml')).ino, catalogIno, 'the catalog command did not run');

    const before = inodes(p.packages);
    // (A comment alone would rebuild gamma into the very same package: the COMMENT is in its manifest.)
    p.append('textproc/gamma/Makefile', '\nCOMMENT=\tgamma, take 2\n');
    const changed = await p.pass();
    assert.equal(changed.stats.success, 1, changed.lines.join('\n'));
    assert.equal(changed.repository?.action, 'published');
    const s2 = changed.repository!.snapshot!;
    assert.match(s2, /^0002-/);
    assert.equal(changed.repository!.previous, s1);
    const after2 = inodes(p.packages);
    assert.equal(after2.get('libalpha-1.2.0.tgz'), before.get('libalpha-1.2.0.tgz'), 'an unchanged package is a hard link, not a copy');
    assert.equal(after2.get('libbeta-0.9_1.tgz'), before.get('libbeta-0.9_1.tgz'));
    assert.notEqual(after2.get('gamma-2.1.tgz'), before.get('gamma-2.1.tgz'), 'the rebuilt package is a new file');
    assert.equal(
      inodes(join(repo(p), '.snapshots', s1, 'All')).get('gamma-2.1.tgz'),
      before.get('gamma-2.1.tgz'),
      'the previous snapshot keeps its own gamma',
    );
    assert.equal(
      catalogOf(p).find((c) => c.name === 'gamma')!.sum,
      sha256(join(p.packages, 'gamma-2.1.tgz')),
      'the new catalog describes the new package',
    );
    const check = await cli(p.dir, ['plan']);
    assert.equal(check.code, 0, `in sync after publishing:\n${check.out}${check.err}`);

    p.append('textproc/gamma/Makefile', 'COMMENT=\tgamma, take 3\n');
    const third = await p.pass();
    const s3 = third.repository!.snapshot!;
    assert.deepEqual(third.repository!.removedSnapshots, [s1], 'repository.keep: 2 — the oldest goes');
    assert.deepEqual(readdirSync(join(repo(p), '.snapshots')).sort(), [s2, s3]);
    // Hard-linking and removing copies changes a package's ctime: what the plans verified still stands (no package is hashed again).
    const verified = new Map(
      (deserialize(readFileSync(join(p.dir, '.portsync/build/package-checks.bin'))) as { entries: [string, { stat: string }][] }).entries,
    );
    for (const name of readdirSync(p.packages))
      assert.equal(verified.get(join(p.packages, name))?.stat, packageStatKey(join(p.packages, name)), `${name} needs no hashing`);

    const listed = JSON.parse((await cli(p.dir, ['rollback', '--list', '--json'])).out) as {
      snapshots: { id: string; published: boolean; info: { runId: string } }[];
    };
    assert.deepEqual(
      listed.snapshots.map((s) => [s.id, s.published]),
      [
        [s2, false],
        [s3, true],
      ],
    );
    assert.equal(listed.snapshots[1]!.info.runId, third.runId);

    const gammaInS2 = statSync(join(repo(p), '.snapshots', s2, 'All', 'gamma-2.1.tgz')).ino;
    const back = await cli(p.dir, ['rollback']);
    assert.equal(back.code, 0, back.err);
    assert.match(back.out, new RegExp(`rolled back .*latest: ${s3} → ${s2} \\(3 packages`));
    assert.equal(published(p), `.snapshots/${s2}`);
    assert.equal(statSync(join(p.packages, 'gamma-2.1.tgz')).ino, gammaInS2, "the previous snapshot's package is published again");
    const plan = await cli(p.dir, ['plan', '--json']);
    assert.equal(plan.code, 1, 'the database still has the newer build: gamma would rebuild');
    assert.match(plan.out, /package-changed/);
    const none = await cli(p.dir, ['rollback', '--to', '99']);
    assert.equal(none.code, 2);
    assert.match(none.err, /no snapshot "99" in .* \(kept: .*0002-.* \(published\), .*0003-/);
    const forward = await cli(p.dir, ['rollback', '--to', String(Number(s3.slice(0, 4)))]);
    assert.equal(forward.code, 0, forward.err);
    assert.equal(published(p), `.snapshots/${s3}`);
  },
);

test('a failing catalog command: the pass says which command, its exit status and stderr, and publishes nothing', { skip }, async () => {
  const p = project(['misc/tiny']);
  tinyPort(p, 'misc/tiny');
  const good = await p.pass();
  assert.equal(good.repository?.action, 'published', good.lines.join('\n'));
  const s1 = good.repository!.snapshot!;
  const before = inodes(p.packages);
  const catalog = readFileSync(join(repo(p), 'latest', 'packagesite.yaml'), 'utf8');

  // A new revision: a package of another name, which the failed pass must not publish. The
  // command even rewrites the catalog in place before failing: the published one is a file of its own.
  tinyPort(p, 'misc/tiny', 'true', ['PORTREVISION=\t1']);
  p.writeConfig({
    ports: ['misc/tiny'],
    extra: repoConfig('echo half-written > packagesite.yaml && echo "cannot sign: no key in /nonexistent/repo.key" >&2 && exit 3'),
  });
  const r = await cli(p.dir, ['reconcile']);
  assert.equal(r.code, 1, 'the pass failed: its packages are not published');
  assert.match(
    r.out,
    /repository: NOT published: the catalog command `echo half-written > packagesite\.yaml && echo .*` exited 3: cannot sign: no key in \/nonexistent\/repo\.key; the published repository stays as it was/,
  );
  assert.match(r.out, new RegExp(`\\(${s1} stays published\\)`));
  assert.match(r.out, /1 built, 0 failed/);
  assert.equal(published(p), `.snapshots/${s1}`);
  assert.deepEqual(inodes(p.packages), before, 'the published packages are the very same files (no tiny-1.0_1.tgz)');
  assert.deepEqual(stagingDirs(p), [], 'the staging copy is gone');
  assert.equal(readFileSync(join(repo(p), 'latest', 'packagesite.yaml'), 'utf8'), catalog, 'the published catalog is untouched');

  p.writeConfig({ ports: ['misc/tiny'], extra: repoConfig(CATALOG) });
  const again = await p.pass();
  assert.equal(again.repository?.action, 'published', again.lines.join('\n'));
  assert.match(again.ports[0]!.reason, /package-missing/, 'the build that was not published is made again');
  assert.ok(existsSync(join(p.packages, 'tiny-1.0_1.tgz')));
});

test(
  'a repository written in place (before atomic publishing) becomes the first snapshot: every package moved, none copied or lost',
  { skip },
  async () => {
    // (An IGNOREd port: the pass builds nothing, and converts the repository all the same.)
    const p = project(['misc/ancient'], '');
    const root = repo(p);
    mkdirSync(join(root, 'All'), { recursive: true });
    for (const name of ['libalpha-1.2.0.tgz', 'foreign-1.0.tgz']) writeFileSync(join(root, 'All', name), `package ${name}`);
    writeFileSync(join(root, 'meta.conf'), 'version = 2;\n');
    const before = inodes(join(root, 'All'));

    const r = await p.pass();
    assert.equal(r.stats.ignored, 1);
    assert.ok(
      r.lines.some((l) => /the repository .* is now published atomically: its packages moved, unchanged, into snapshot 0001-/.test(l)),
      r.lines.join('\n'),
    );
    assert.equal(r.repository?.action, 'unchanged');
    assert.ok(lstatSync(join(root, 'All')).isSymbolicLink());
    assert.match(published(p), /^\.snapshots\/0001-/);
    assert.deepEqual(inodes(p.packages), before, 'the same files, moved');
    assert.equal(readFileSync(join(root, 'meta.conf'), 'utf8'), 'version = 2;\n', "the operator's file, through its link");
    assert.equal(readlinkSync(join(root, 'meta.conf')), 'latest/meta.conf');
    const again = await p.pass();
    assert.ok(!again.lines.some((l) => /published atomically/.test(l)), 'converted once');
    assert.deepEqual(inodes(p.packages), before);
  },
);

test(
  'SIGKILL mid-pass: the published snapshot never changes while the pass runs, and the next pass removes its staging copy',
  { skip },
  async () => {
    const p = project(['misc/slowpoke', 'misc/quick']);
    tinyPort(p, 'misc/slowpoke');
    tinyPort(p, 'misc/quick');
    const first = await p.pass();
    assert.equal(first.repository?.action, 'published', first.lines.join('\n'));
    const snapshot = published(p);
    const before = inodes(p.packages);
    const catalog = readFileSync(join(repo(p), 'latest', 'packagesite.yaml'), 'utf8');

    tinyPort(p, 'misc/slowpoke', 'sleep 53.7', ['COMMENT=\tslow this time']);
    tinyPort(p, 'misc/quick', 'true', ['COMMENT=\trebuilt before the kill']);
    const child = spawn(process.execPath, [join(REPO, 'bin/portsync.js'), '--config', p.config, 'reconcile', '--verbose'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (out += b));
    try {
      // A reader of the published path meanwhile: always the same snapshot, whole.
      let looks = 0;
      await waitFor(
        `quick rebuilt into the staging copy while slowpoke builds (${out})`,
        () => {
          looks++;
          assert.equal(published(p), snapshot);
          assert.deepEqual(inodes(p.packages), before);
          const staging = stagingDirs(p)[0];
          if (!staging) return false;
          const staged = statSync(join(repo(p), staging, 'All', 'quick-1.0.tgz'), { throwIfNoEntry: false });
          return staged && staged.ino !== before.get('quick-1.0.tgz') && out.includes('misc/slowpoke: build');
        },
        120_000,
      );
      assert.ok(looks > 1);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    assert.equal(published(p), snapshot, 'the killed pass switched nothing');
    assert.deepEqual(inodes(p.packages), before);
    assert.equal(readFileSync(join(repo(p), 'latest', 'packagesite.yaml'), 'utf8'), catalog);
    assert.equal(stagingDirs(p).length, 1, 'its staging copy is left behind, unpublished');

    tinyPort(p, 'misc/slowpoke', 'true', ['COMMENT=\tslow this time']);
    const next = await p.pass();
    assert.ok(
      next.lines.some((l) => /removed the staging copy .*\/\.staging-[^/]+ left in .* by a pass that was killed/.test(l)),
      next.lines.join('\n'),
    );
    assert.equal(next.repository?.action, 'published');
    assert.deepEqual(stagingDirs(p), []);
    assert.notEqual(inodes(p.packages).get('quick-1.0.tgz'), before.get('quick-1.0.tgz'));
  },
);

test('builds.yaml: repository and logs — defaults, a ./ catalog command resolved against builds.yaml, bad values at their line', () => {
  const file = '/srv/my ports/builds.yaml';
  const base = 'portsTree: { path: ports }\nports: [misc/greet]\n';
  const d = parseDesiredState(base, file);
  assert.deepEqual(d.repository, { catalogTimeoutMs: 3_600_000, name: 'portsync', keep: 2 });
  assert.deepEqual(d.logs, { keep: 5 });
  const s = parseDesiredState(
    `${base}repository: { catalogCommand: "./bin/index.sh --all", keep: 4, catalogTimeout: 90s, name: main }\nlogs: { keep: 1 }\n`,
    file,
  );
  assert.equal(s.repository.catalogCommand, "'/srv/my ports/bin/index.sh' --all", 'quoted for the shell');
  assert.deepEqual({ ...s.repository, catalogCommand: '' }, { catalogCommand: '', catalogTimeoutMs: 90_000, name: 'main', keep: 4 });
  assert.equal(
    parseDesiredState(`${base}repository: { catalogCommand: pkg repo . }\n`, file).repository.catalogCommand,
    'pkg repo .',
    'a command by name is left as it is',
  );
  assert.throws(
    () => parseDesiredState(`${base}repository: { keep: 0, catalogTimeout: 0s }\nlogs: { keep: 0 }\n`, file),
    (e: unknown) => {
      const m = (e as ConfigError).message;
      assert.ok(e instanceof ConfigError);
      assert.match(m, /builds\.yaml:3:\d+: .*keep.*(>=|at least|minimum).*1/i);
      assert.match(m, /builds\.yaml:3:\d+: .*catalogTimeout.* more than zero/);
      assert.match(m, /builds\.yaml:4:\d+: .*keep/);
      return true;
    },
  );
});
