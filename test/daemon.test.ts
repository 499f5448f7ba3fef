/**
 * The real daemon (`portsync watch` as a child process) on a real git repository with a copy of
 * the example ports tree: watch-triggered builds, git hooks, webhooks, invalid builds.yaml,
 * queries during a build, and SIGTERM during a build. Builds use the host backend for speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildDB } from '../src/builddb/db.js';
import { daemonRequest } from '../src/client/request.js';
import { signBody } from '../src/signature.js';
import { BIN, cli, git, GIT_ENV, waitFor } from './helpers/wait.js';
import { freePort } from './helpers/net.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECRET = 'test-webhook-secret';
const bmake = spawnSync('bmake', ['-V', 'MAKE_VERSION', '-f', '/dev/null']).status === 0;

const SLOW_PORT = (seconds: number) => `PORTNAME=\tslowpoke
PORTVERSION=\t1.0
CATEGORIES=\tmisc
COMMENT=\tA port whose build takes a while
MAINTAINER=\tports@example.org

DISTFILES=
NO_BUILD=\tyes

do-build:
\t@echo building slowly; sleep ${seconds}

.include <bsd.port.mk>
`;

function configYaml(ports: string[], port: number): string {
  return `portsTree:
  path: ports
  source: worktree
  branch: main
make:
  command: bmake
  env:
    MAKESYSPATH: ./ports/Mk
environment:
  backend: host
ports:
${ports.map((p) => `  - ${p}`).join('\n')}
policy:
  cascade: output
watch:
  resyncInterval: 10m
  debounce: 200ms
server:
  socket: .portsync/d.sock
  listen: 127.0.0.1:${port}
  webhookSecretEnv: PORTSYNC_TEST_SECRET
`;
}

function post(port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

test('the daemon reconciles on commits, hooks and webhooks, answers while building, and stops cleanly', { timeout: 150_000 }, async (t) => {
  if (!bmake) return t.skip('bmake is not installed: the daemon reads the ports tree with bmake');
  const dir = mkdtempSync(join(tmpdir(), 'portsync-daemon-'));
  let daemon: ChildProcess | undefined;
  t.after(() => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const repo = join(dir, 'repo');
  cpSync(join(ROOT, 'examples', 'ports'), join(repo, 'ports'), { recursive: true });
  // Long enough that two CLI processes started on a loaded 2-core machine still find it building.
  mkdirSync(join(repo, 'ports', 'misc', 'slowpoke'));
  writeFileSync(join(repo, 'ports', 'misc', 'slowpoke', 'Makefile'), SLOW_PORT(8));
  writeFileSync(join(repo, 'ports', 'misc', 'slowpoke', 'pkg-descr'), 'A slow port\n');
  const httpPort = await freePort();
  const base = ['misc/greet', 'math/numcalc'];
  writeFileSync(join(repo, 'builds.yaml'), configYaml(base, httpPort));
  writeFileSync(join(repo, '.gitignore'), '.portsync/\n');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'initial tree');
  const socket = join(repo, '.portsync', 'd.sock');

  let log = '';
  daemon = spawn(process.execPath, [BIN, '--config', join(repo, 'builds.yaml'), 'watch'], {
    cwd: repo,
    env: { ...process.env, PORTSYNC_TEST_SECRET: SECRET },
  });
  daemon.stdout!.on('data', (d) => (log += d));
  daemon.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => daemon!.on('exit', (code) => r(code)));

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const r = await daemonRequest(socket, method, path, body);
    assert.ok(r, `daemon answers on ${socket}\n${log}`);
    return r;
  };
  const sql = async (q: string) => {
    const r = await api('POST', '/sql', { sql: q });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { columns, rows } = r.body as { columns: string[]; rows: unknown[][] };
    return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
  };
  const runCount = async () => Number((await sql('SELECT count(*) AS n FROM runs'))[0]!.n);
  const idle = async () => {
    const s = (await api('GET', '/status')).body as { current: unknown; pending: unknown };
    return !s.current && !s.pending;
  };

  await t.test('startup pass builds the selected ports', async () => {
    await waitFor(
      'the startup run',
      async () =>
        existsSync(socket) &&
        (await daemonRequest(socket, 'GET', '/status'))?.status === 200 &&
        (await sql(`SELECT * FROM runs WHERE trigger = 'startup' AND finished_at IS NOT NULL`)).length === 1,
      30_000,
    );
    const built = (await sql(`SELECT DISTINCT origin FROM builds WHERE status = 'success' ORDER BY origin`)).map((r) => r.origin);
    assert.deepEqual(built, ['math/numadd', 'math/numbase', 'math/numcalc', 'math/nummul', 'misc/greet']);
    const second = await cli(repo, ['watch']);
    assert.equal(second.code, 2);
    assert.match(second.err, new RegExp(`a daemon already runs \\(pid ${daemon!.pid}\\)`));
  });

  await t.test('adding a port to builds.yaml and committing builds it unasked; the run records the commit', async () => {
    writeFileSync(join(repo, 'builds.yaml'), configYaml([...base, 'misc/greet-fr'], httpPort));
    git(repo, 'commit', '-qam', 'add greet-fr');
    const head = git(repo, 'rev-parse', 'HEAD');
    const rows = await waitFor('a run at the new commit that built greet-fr', async () => {
      const r = await sql(`SELECT r.git_commit, r.trigger FROM runs r JOIN builds b USING (run_id)
        WHERE b.origin = 'misc/greet-fr' AND b.status = 'success' AND r.finished_at IS NOT NULL`);
      return r.length ? r : undefined;
    });
    assert.equal(rows[0]!.trigger, 'watch');
    await waitFor('idle', idle);
    const last = await sql(`SELECT git_commit FROM runs ORDER BY started_at DESC LIMIT 1`);
    assert.equal(last[0]!.git_commit, head);
  });

  await t.test('a commit changing one port rebuilds it and its dependents only', async () => {
    const since = new Date().toISOString();
    writeFileSync(join(repo, 'ports', 'math', 'nummul', 'pkg-descr'), 'Multiplication, now described better\n');
    git(repo, 'commit', '-qam', 'nummul: new description');
    const head = git(repo, 'rev-parse', 'HEAD');
    await waitFor(
      'a finished run at the new commit',
      async () => (await sql(`SELECT 1 FROM runs WHERE git_commit = '${head}' AND finished_at IS NOT NULL`)).length > 0,
    );
    await waitFor('idle', idle);
    const rebuilt = (await sql(`SELECT origin, status FROM builds WHERE started_at > '${since}' ORDER BY origin`)).map(
      (r) => `${r.origin}:${r.status}`,
    );
    assert.deepEqual(rebuilt, ['math/numcalc:success', 'math/nummul:success']);
  });

  await t.test('a push to a bare repository whose post-receive hook was installed triggers a pass', async () => {
    const bare = join(dir, 'remote.git');
    git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
    const installed = await cli(repo, ['hook', 'install', '--repo', bare]);
    assert.equal(installed.code, 0, installed.err);
    const hook = readFileSync(join(bare, 'hooks', 'post-receive'), 'utf8');
    assert.match(hook, /trigger --reason 'git post-receive'/);
    writeFileSync(join(bare, 'hooks', 'post-commit'), '#!/bin/sh\necho mine\n');
    const foreign = await cli(repo, ['hook', 'install', '--repo', bare, '--hook', 'post-commit']);
    assert.equal(foreign.code, 2);
    assert.match(foreign.err, /was not written by portsync.*--force/);
    assert.equal(readFileSync(join(bare, 'hooks', 'post-commit'), 'utf8'), '#!/bin/sh\necho mine\n');
    const before = await runCount();
    const push = spawnSync('git', ['push', '-q', bare, 'main'], { cwd: repo, env: GIT_ENV, encoding: 'utf8' });
    assert.equal(push.status, 0, push.stderr);
    await waitFor(
      'a git-push run',
      async () => (await sql(`SELECT 1 FROM runs WHERE trigger = 'git-push' AND finished_at IS NOT NULL`)).length > 0,
    );
    assert.ok((await runCount()) > before);
  });

  await t.test('webhook: a bad or missing signature changes nothing; a good one schedules a pass', async () => {
    await waitFor('idle', idle);
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const before = await runCount();
    assert.equal(await post(httpPort, '/hooks/git', body), 401);
    assert.equal(await post(httpPort, '/hooks/git', body, { 'X-Hub-Signature-256': signBody('wrong secret', body) }), 401);
    assert.equal(await post(httpPort, '/hooks/git', body, { 'X-Hub-Signature-256': signBody(SECRET, `${body} `) }), 401);
    await new Promise((r) => setTimeout(r, 600)); // longer than the debounce: a pass would have started
    assert.ok(await idle(), 'no pass after rejected webhooks');
    assert.equal(await runCount(), before);
    assert.equal(await post(httpPort, '/hooks/git', body, { 'X-Hub-Signature-256': signBody(SECRET, body) }), 202);
    await waitFor(
      'a webhook run',
      async () => (await sql(`SELECT 1 FROM runs WHERE trigger = 'webhook' AND finished_at IS NOT NULL`)).length > 0,
    );
    assert.equal(await runCount(), before + 1);
    assert.equal(await post(httpPort, '/hooks/git', 'x'.repeat(1024 * 1024 + 10), { 'X-Hub-Signature-256': signBody(SECRET, 'x') }), 413);
    // Unsigned requests spend their sender's tokens (401, then 429), but a valid signed push from the same address still gets through.
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push(await post(httpPort, '/hooks/git', body));
    assert.deepEqual(codes.slice(-3), [429, 429, 429], codes.join(' '));
    assert.equal(await post(httpPort, '/hooks/git', body, { 'X-Hub-Signature-256': signBody(SECRET, body) }), 202);
    // With a secret set, the acting routes are not served over TCP: they would bypass it.
    await waitFor('idle', idle);
    const afterHooks = await runCount();
    assert.equal(await post(httpPort, '/reconcile', '{}'), 403);
    assert.equal(await post(httpPort, '/trigger', '{}'), 403);
    assert.equal(await post(httpPort, '/sql', JSON.stringify({ sql: 'SELECT 1' })), 403);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await runCount(), afterHooks, 'no pass from TCP without the secret');
  });

  await t.test('an invalid builds.yaml committed: errors in status with FILE:LINE:COL, last good state kept', async () => {
    await waitFor('idle', idle);
    const good = (await sql(`SELECT total FROM runs WHERE finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1`))[0]!.total;
    writeFileSync(
      join(repo, 'builds.yaml'),
      configYaml([...base, 'misc/greet-fr'], httpPort).replace('workers', 'wrkers') + 'workers: lots\n',
    );
    git(repo, 'commit', '-qam', 'broken builds.yaml');
    const head = git(repo, 'rev-parse', 'HEAD');
    await waitFor(
      'a run at the broken commit',
      async () => (await sql(`SELECT 1 FROM runs WHERE git_commit = '${head}' AND finished_at IS NOT NULL`)).length > 0,
    );
    const run = (await sql(`SELECT total, status FROM runs WHERE git_commit = '${head}' ORDER BY started_at DESC LIMIT 1`))[0]!;
    assert.equal(run.total, good, 'the pass used the last good desired state');
    const viaApi = (await api('GET', '/status')).body as { config: { errorText: string[] } };
    const file = join(repo, 'builds.yaml');
    assert.ok(viaApi.config.errorText.length > 0);
    for (const e of viaApi.config.errorText) assert.ok(e.startsWith(`${file}:`), e);
    assert.ok(
      viaApi.config.errorText.some((e) => /:\d+:\d+: .*workers/.test(e)),
      viaApi.config.errorText.join('\n'),
    );
    const viaCli = await cli(repo, ['status', '--json']);
    assert.equal(viaCli.code, 0, viaCli.err);
    const s = JSON.parse(viaCli.out) as { daemon: { pid: number }; config: { errorText: string[] } };
    assert.equal(s.daemon.pid, daemon!.pid);
    assert.deepEqual(s.config.errorText, viaApi.config.errorText);
  });

  await t.test('sql and status are answered while a build runs', async () => {
    writeFileSync(join(repo, 'builds.yaml'), configYaml([...base, 'misc/greet-fr', 'misc/slowpoke'], httpPort));
    git(repo, 'commit', '-qam', 'add slowpoke');
    await waitFor('slowpoke building', async () => {
      const s = (await api('GET', '/status')).body as { current: { building: { origin: string }[] } | null };
      return s.current?.building.some((b) => b.origin === 'misc/slowpoke');
    });
    const [q, st] = await Promise.all([
      cli(repo, ['sql', `SELECT status FROM builds WHERE origin = 'misc/slowpoke'`, '--json']),
      cli(repo, ['status', '--json']),
    ]);
    assert.equal(q.code, 0, q.err);
    assert.deepEqual(JSON.parse(q.out).rows, [{ status: 'running' }]);
    assert.equal(st.code, 0, st.err);
    const s = JSON.parse(st.out) as { current: { building: { origin: string }[] } | null; config: { errors: unknown[] } };
    assert.ok(
      s.current?.building.some((b) => b.origin === 'misc/slowpoke'),
      'status shows the running build',
    );
    await waitFor(
      'slowpoke built',
      async () => (await sql(`SELECT 1 FROM builds WHERE origin = 'misc/slowpoke' AND status = 'success'`)).length > 0,
    );
    const after = (await api('GET', '/status')).body as { config: { errors: unknown[] } };
    assert.deepEqual(after.config.errors, [], 'a valid builds.yaml clears the errors');
  });

  await t.test('why through the daemon: the states without their key parts, the explained port with them', async () => {
    await waitFor('idle', idle);
    const why = await cli(repo, ['why', 'misc/slowpoke', '--json']);
    assert.equal(why.code, 0, why.err);
    const e = JSON.parse(why.out) as { origin: string; action: string; changes: unknown[]; lastGood: { buildId: string } | null };
    assert.equal(e.origin, 'misc/slowpoke');
    assert.equal(e.action, 'skip', why.out);
    assert.deepEqual(e.changes, [], 'compared part by part with its recorded parts: nothing changed');
    assert.ok(e.lastGood?.buildId, 'its last good build, from the daemon');
    const summary = (await api('GET', '/port-state')).body as { ports: Record<string, unknown>[] };
    assert.ok(summary.ports.length > 0);
    assert.ok(
      summary.ports.every((r) => !('keyParts' in r)),
      'every port without its key parts',
    );
    const one = (await api('GET', '/port-state?origin=misc/slowpoke')).body as { ports: { origin: string; keyParts: unknown }[] };
    assert.deepEqual(
      one.ports.map((r) => r.origin),
      ['misc/slowpoke'],
    );
    assert.ok(one.ports[0]!.keyParts, 'with its key parts');
  });

  await t.test('SIGTERM during a build: the build is recorded interrupted, the run closes, exit 0, no socket', async () => {
    await waitFor('idle', idle);
    writeFileSync(join(repo, 'ports', 'misc', 'slowpoke', 'Makefile'), SLOW_PORT(30));
    await waitFor('slowpoke rebuilding', async () => {
      const s = (await api('GET', '/status')).body as { current: { building: { origin: string; phase: string }[] } | null };
      return s.current?.building.some((b) => b.origin === 'misc/slowpoke' && b.phase === 'build');
    });
    daemon!.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 15_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, log.slice(-3000));
    assert.equal(existsSync(socket), false, 'the socket is removed');
    const db = await BuildDB.open(join(repo, '.portsync', 'builddb.duckdb'), { readOnly: true });
    try {
      const last = (await db.history('misc/slowpoke', 1))[0]!;
      assert.equal(last.status, 'interrupted');
      assert.ok(last.finishedAt);
      const run = (await db.runs(1))[0]!;
      assert.equal(run.status, 'interrupted');
      assert.ok(run.finishedAt);
    } finally {
      await db.close();
    }
    const trig = await cli(repo, ['trigger']);
    assert.equal(trig.code, 2);
    assert.match(trig.err, new RegExp(`no daemon running at ${socket.replaceAll('.', '\\.')}`));
  });
});
