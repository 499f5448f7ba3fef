/** `why` names the files and commits behind a rebuild; `fetch` fetches without building or recording. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject } from './helpers/project.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

function cli(p: TestProject, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/portsync.js'), '--config', p.config, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('why: the changed parts, the files and the commits since the last good build', { skip }, async () => {
  const p = new TestProject({ ports: ['textproc/gamma'], backend: 'host' });
  projects.push(p);
  const git = (...a: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=Tess', ...a], { cwd: p.tree, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'import');
  assert.equal((await p.pass()).stats.success, 3);

  const upToDate = cli(p, 'why', 'textproc/gamma');
  assert.equal(upToDate.code, 0, upToDate.err);
  assert.match(upToDate.out, /^textproc\/gamma is up to date/);

  p.append('devel/libbeta/Makefile', '# tuned\n');
  git('commit', '-qam', 'libbeta: tune the build');
  const beta = JSON.parse(cli(p, 'why', 'devel/libbeta', '--json').out);
  assert.equal(beta.action, 'build');
  assert.equal(beta.changes[0].part, 'port');
  assert.deepEqual(beta.changes[0].files, ['devel/libbeta/Makefile']);
  assert.equal(beta.changes[0].commits[0].subject, 'libbeta: tune the build');
  assert.equal(beta.changes[0].commits[0].author, 'Tess');

  const gamma = cli(p, 'why', 'textproc/gamma');
  assert.match(gamma.out, /textproc\/gamma is pending: it rebuilds only if a dependency's result changes/);
  assert.match(gamma.out, /pending: rebuilds only if devel\/libbeta's package changes/);
  p.append('Mk/bsd.port.mk', '# framework tweak\n');
  const framework = cli(p, 'why', 'devel/libalpha');
  assert.match(framework.out, /framework-changed: framework file Mk\/bsd\.port\.mk changed/);
  assert.match(framework.out, /file Mk\/bsd\.port\.mk/);

  const unknown = cli(p, 'why', 'misc/nosuchport');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /misc\/nosuchport/);
});

test('fetch: distfiles of the closure fetched and checked, nothing built, nothing recorded', { skip }, async () => {
  const p = new TestProject({ ports: ['textproc/gamma'], backend: 'host' });
  projects.push(p);
  const r = cli(p, 'fetch');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /fetch: 3 ports fetched and checked, 0 failed/);
  const distfiles = readdirSync(join(p.dir, '.portsync/distfiles')).sort();
  assert.deepEqual(distfiles, ['gamma-2.1.tar.gz', 'libalpha-1.2.0.tar.gz', 'libbeta-0.9.tar.gz']);
  assert.equal(existsSync(p.database), false, 'fetch records nothing');
  assert.equal(existsSync(join(p.packages)), false, 'fetch builds nothing');
  assert.ok(existsSync(join(p.dir, '.portsync/logs/textproc___gamma.fetch.log')));
  // A corrupted distfile in the site: checksum fails, exit 1, the port named.
  p.write('Sites/gamma-2.1.tar.gz', 'not a tarball');
  execFileSync('rm', ['-f', join(p.dir, '.portsync/distfiles/gamma-2.1.tar.gz')]);
  const bad = cli(p, 'fetch', 'textproc/gamma');
  assert.equal(bad.code, 1);
  assert.match(bad.out, /fetch failed: textproc\/gamma/);
});
