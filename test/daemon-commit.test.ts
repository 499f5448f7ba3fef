/**
 * The daemon in commit mode (`source: commit`): only commits count. An uncommitted edit of
 * builds.yaml builds nothing; committing it builds the new port without being asked, from
 * portsync's own checkout, and the run records the commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonRequest } from '../src/client/request.js';
import { bmakeMissing } from './helpers/minitree.js';
import { EXAMPLE_TREE } from './helpers/project.js';
import { BIN, cli, git, waitFor } from './helpers/wait.js';

const yaml = (ports: string[]) => `portsTree: { path: ports, source: commit, branch: main }
make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }
environment: { backend: host }
ports:
${ports.map((p) => `  - ${p}`).join('\n')}
watch: { debounce: 200ms, resyncInterval: 10m }
server: { socket: .portsync/d.sock }
`;

test('commit mode: the daemon builds what is committed, and only that', { skip: bmakeMissing(), timeout: 90_000 }, async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'portsync-daemon-commit-'));
  let daemon: ChildProcess | undefined;
  t.after(() => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    rmSync(repo, { recursive: true, force: true });
  });
  cpSync(EXAMPLE_TREE, join(repo, 'ports'), { recursive: true });
  writeFileSync(join(repo, 'builds.yaml'), yaml(['misc/greet']));
  writeFileSync(join(repo, '.gitignore'), '.portsync/\n');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'initial');
  const first = git(repo, 'rev-parse', 'HEAD');

  let log = '';
  daemon = spawn(process.execPath, [BIN, '--config', join(repo, 'builds.yaml'), 'watch'], { cwd: repo });
  daemon.stdout!.on('data', (d) => (log += d));
  daemon.stderr!.on('data', (d) => (log += d));
  const socket = join(repo, '.portsync', 'd.sock');
  const sql = async (q: string) => {
    const r = await daemonRequest(socket, 'POST', '/sql', { sql: q });
    return r && r.status === 200 ? (r.body as { rows: unknown[][] }).rows : undefined;
  };
  const built = async (origin: string) =>
    (await sql(`SELECT count(*) FROM builds WHERE origin = '${origin}' AND status = 'success'`))?.[0]?.[0];

  await waitFor('the startup pass to build misc/greet', async () => (await built('misc/greet')) === 1, 30_000).catch((e) =>
    assert.fail(`${e.message}\n${log}`),
  );
  assert.equal((await sql('SELECT git_commit FROM runs ORDER BY started_at LIMIT 1'))![0]![0], first);

  // Edited, not committed: a trigger runs a pass that builds nothing new.
  writeFileSync(join(repo, 'builds.yaml'), yaml(['misc/greet', 'misc/help2man']));
  const runsBefore = Number((await sql('SELECT count(*) FROM runs'))![0]![0]);
  assert.equal((await cli(repo, ['trigger', '--reason', 'test'])).code, 0);
  await waitFor(
    'the triggered pass',
    async () => Number((await sql('SELECT count(*) FROM runs WHERE finished_at IS NOT NULL'))![0]![0]) > runsBefore,
  );
  assert.equal(await built('misc/help2man'), 0, 'an uncommitted builds.yaml changes nothing');

  // Committed: the ref changes, the daemon notices and builds it.
  git(repo, 'commit', '-qam', 'add help2man');
  const second = git(repo, 'rev-parse', 'HEAD');
  await waitFor('misc/help2man to be built after the commit', async () => (await built('misc/help2man')) === 1, 30_000).catch((e) =>
    assert.fail(`${e.message}\n${log}`),
  );
  const [row] = (await sql("SELECT r.git_commit FROM builds b JOIN runs r USING (run_id) WHERE b.origin = 'misc/help2man'"))!;
  assert.equal(row![0], second);
  assert.equal(git(repo, 'status', '--porcelain'), '', 'the working copy is never touched');

  const exited = new Promise<number | null>((r) => daemon!.on('exit', (code) => r(code)));
  daemon.kill('SIGTERM');
  assert.equal(await exited, 0);
});
