/**
 * Notifications during real passes (bmake, host backend, a real DuckDB file, a git work tree)
 * to a real local HTTP receiver (node:http): a signed generic webhook, a Slack-compatible one and
 * a commit status through an HTTP template; retries with backoff; a receiver that fails, refuses
 * or never answers never blocks or fails a pass. And the checks of `notify:` in builds.yaml.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/config/errors.js';
import { loadDesiredState } from '../src/config/load.js';
import { backgroundCount, settleBackground } from '../src/notify/index.js';
import { verifySignature } from '../src/signature.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { cli, git, waitFor } from './helpers/wait.js';

const skip = bmakeMissing();
const cleanup: (() => unknown)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  raw: Buffer;
  json: any;
  at: number;
}

/** A real HTTP receiver on 127.0.0.1: records every request; `answer` picks each one's fate by path. */
async function receiver(
  answer: (req: Received, nth: number) => number | 'hang' = () => 200,
): Promise<{ url: string; got: Received[]; on: (path: string) => Received[] }> {
  const got: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        json = undefined;
      }
      const r: Received = { method: req.method!, path: req.url!, headers: req.headers, raw, json, at: Date.now() };
      got.push(r);
      const fate = answer(r, got.filter((g) => g.path === r.path).length);
      if (fate === 'hang') return void hanging.push(res);
      res.writeHead(fate, { 'content-type': 'text/plain' }).end(fate >= 400 ? `no thanks (${fate})` : 'ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => {
    for (const res of hanging) res.destroy();
    return new Promise((r) => server.close(r));
  });
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, got, on: (path) => got.filter((g) => g.path === path) };
}

function project(ports: string[], notify: string): TestProject {
  const p = new TestProject({ ports, backend: 'host', extra: `notify:\n${notify}` });
  cleanup.push(() => p.remove());
  return p;
}

const SECRET = 'notify-test-secret';

test(
  'generic (signed), slack and commit-status targets get run and port-failure events of real passes',
  { skip, timeout: 180_000 },
  async () => {
    const rx = await receiver((r) => (r.path.startsWith('/repos/') ? 201 : 200));
    process.env.PORTSYNC_TEST_NOTIFY_SECRET = SECRET;
    process.env.PORTSYNC_TEST_SLACK_URL = `${rx.url}/slack`;
    process.env.PORTSYNC_TEST_TOKEN = 'tok-123';
    const p = project(
      ['misc/greet'],
      [
        '  - name: ci',
        '    type: generic',
        `    url: ${rx.url}/generic`,
        '    secretEnv: PORTSYNC_TEST_NOTIFY_SECRET',
        '  - name: team',
        '    type: slack',
        '    urlEnv: PORTSYNC_TEST_SLACK_URL',
        '    channel: "#ports"',
        '  - name: status',
        '    type: commit-status',
        `    url: "${rx.url}/repos/acme/ports/statuses/{{commit}}"`,
        '    headers: { Authorization: "Bearer {{env.PORTSYNC_TEST_TOKEN}}", Accept: application/vnd.github+json }',
      ].join('\n'),
    );
    git(p.tree, 'init', '-q', '-b', 'main');
    git(p.tree, 'add', '-A');
    git(p.tree, 'commit', '-qm', 'tree');
    const head = git(p.tree, 'rev-parse', 'HEAD');

    const ok = await p.pass();
    assert.equal(ok.status, 'success');
    assert.equal(ok.gitCommit, head);
    await waitFor(
      'the run-end notifications',
      () => rx.on('/generic').length >= 1 && rx.on('/slack').length >= 1 && rx.on(`/repos/acme/ports/statuses/${head}`).length >= 2,
    );

    const [generic] = rx.on('/generic');
    for (const h of ['x-signature', 'x-hub-signature-256'])
      assert.ok(verifySignature(SECRET, generic!.raw, generic!.headers[h]), `${h} is the HMAC-SHA256 of the body`);
    assert.equal(verifySignature('another secret', generic!.raw, generic!.headers['x-signature']), false);
    assert.equal(generic!.headers['content-type'], 'application/json');
    assert.equal(generic!.headers['x-portsync-event'], 'run-end');
    assert.equal(generic!.json.source, 'portsync');
    assert.equal(generic!.json.event, 'run-end');
    assert.equal(generic!.json.severity, 'info');
    assert.equal(generic!.json.config, p.config);
    assert.deepEqual(
      [generic!.json.run.runId, generic!.json.run.gitCommit, generic!.json.run.status, generic!.json.run.stats.success],
      [ok.runId, head, 'success', 1],
    );
    assert.match(
      generic!.json.message,
      new RegExp(`run ${ok.runId.slice(-8)} \\(test, ${head.slice(0, 12)}\\) success: 1 built, 0 failed`),
    );

    const [slack] = rx.on('/slack');
    assert.equal(slack!.json.channel, '#ports');
    assert.match(slack!.json.text, /portsync run \S+ \(test, \w+\) success: 1 built/);
    assert.equal(slack!.json.attachments[0].color, 'good');
    assert.deepEqual(slack!.json.attachments[0].fields.find((f: { title: string }) => f.title === 'commit').value, head.slice(0, 12));

    const statuses = rx.on(`/repos/acme/ports/statuses/${head}`);
    assert.deepEqual(
      statuses.map((s) => s.json.state),
      ['pending', 'success'],
      'pending at the start, then the result, in that order',
    );
    assert.deepEqual(
      statuses.map((s) => [s.method, s.headers.authorization, s.headers.accept, s.json.context]),
      [
        ['POST', 'Bearer tok-123', 'application/vnd.github+json', 'portsync'],
        ['POST', 'Bearer tok-123', 'application/vnd.github+json', 'portsync'],
      ],
    );
    assert.match(statuses[1]!.json.description, /^success: 1 built, 0 failed, 0 up to date/);

    // A failed build: a port-failure event for it, a failed run, a failure status on the new commit.
    mkdirSync(p.file('misc/greet/files'));
    p.write('misc/greet/files/patch-zz-broken', '--- nope.c.orig\n+++ nope.c\n@@ -1 +1 @@\n-a\n+b\n');
    git(p.tree, 'add', '-A');
    git(p.tree, 'commit', '-qm', 'break greet');
    const broken = git(p.tree, 'rev-parse', 'HEAD');
    const bad = await p.pass();
    assert.equal(bad.status, 'failed');
    await waitFor(
      'the failure notifications',
      () => rx.on('/generic').length >= 3 && rx.on(`/repos/acme/ports/statuses/${broken}`).length >= 2,
    );
    const events = rx
      .on('/generic')
      .slice(1)
      .map((r) => r.json);
    assert.deepEqual(events.map((e) => e.event).sort(), ['port-failure', 'run-end']);
    const failure = events.find((e) => e.event === 'port-failure')!;
    assert.equal(failure.severity, 'error');
    assert.deepEqual(
      [failure.port.origin, failure.port.status, failure.port.lastPhase, failure.run.runId],
      ['misc/greet', 'failed', 'patch', bad.runId],
    );
    assert.equal(failure.port.log, bad.ports[0]!.logPath);
    const end = events.find((e) => e.event === 'run-end')!;
    assert.deepEqual([end.run.status, end.run.failed.map((f: { origin: string }) => f.origin)], ['failed', ['misc/greet']]);
    assert.deepEqual(
      rx.on(`/repos/acme/ports/statuses/${broken}`).map((s) => s.json.state),
      ['pending', 'failure'],
    );
    const slackFail = rx.on('/slack').at(-1)!;
    assert.equal(slackFail.json.attachments[0].color, 'danger');
    assert.match(slackFail.json.attachments[0].text, /misc\/greet \(patch\)/);
    assert.equal(await settleBackground(10_000), true);
  },
);

test(
  'retries with backoff; a refusal is not retried; a silent or absent receiver never blocks or fails the pass',
  { skip, timeout: 180_000 },
  async () => {
    const rx = await receiver((r, nth) =>
      r.path === '/flaky' ? (nth <= 2 ? 503 : 200) : r.path === '/refuse' ? 400 : r.path === '/hang' ? 'hang' : 200,
    );
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const target = (name: string, url: string, extra = '') =>
      [`  - name: ${name}`, '    type: generic', `    url: ${url}`, '    events: [run-end]', extra].filter(Boolean).join('\n');
    const p = project(
      ['misc/greet'],
      [
        target('flaky', `${rx.url}/flaky`, '    retries: 3\n    retryDelay: 300ms'),
        target('refuse', `${rx.url}/refuse`, '    retries: 3\n    retryDelay: 100ms'),
        target('hang', `${rx.url}/hang`, '    timeout: 1s\n    retries: 1\n    retryDelay: 100ms'),
        target('gone', `http://127.0.0.1:${deadPort}/x`, '    retries: 1\n    retryDelay: 100ms'),
      ].join('\n'),
    );

    const r = await p.pass();
    const returnedAt = Date.now();
    assert.equal(r.status, 'success', 'failing receivers do not fail the pass');
    assert.ok(backgroundCount() > 0, 'deliveries go on after the pass returned');
    await waitFor('the third attempt at flaky', () => rx.on('/flaky').length >= 3, 20_000);
    const flaky = rx.on('/flaky');
    assert.ok(flaky[2]!.at > returnedAt, 'the pass did not wait for the retries');
    const gaps = [flaky[1]!.at - flaky[0]!.at, flaky[2]!.at - flaky[1]!.at];
    assert.ok(gaps[0]! >= 280 && gaps[1]! >= 580, `the delay doubles: ${gaps.join(', ')} ms`);
    assert.equal(await settleBackground(30_000), true);
    assert.equal(rx.on('/flaky').length, 3, 'delivered: no more attempts');
    assert.equal(rx.on('/refuse').length, 1, 'a 4xx refusal is not retried');
    assert.equal(rx.on('/hang').length, 2, 'no answer in time: retried, then given up');
    const log = r.lines.join('\n');
    assert.match(log, /notify target flaky: run-end of run \S+ attempt 1 of 4 failed \(HTTP 503: no thanks \(503\)\); retrying in 0\.3s/);
    assert.match(log, /notify target flaky: run-end of run \S+ delivered at attempt 3/);
    assert.match(
      log,
      /warning: notify target refuse: run-end of run \S+ refused: HTTP 400: no thanks \(400\); not retried — check the target's url, token and body in builds\.yaml/,
    );
    assert.match(log, /warning: notify target hang: run-end of run \S+ not delivered after 2 attempts: no answer within 1s; given up/);
    assert.match(log, /warning: notify target gone: run-end of run \S+ not delivered after 2 attempts: .*ECONNREFUSED/);
    const [run] = await p.query<{ status: string }>('SELECT status FROM runs');
    assert.equal(run!.status, 'success');
  },
);

test('builds.yaml: notify and hooks are checked at their FILE:LINE:COL; defaults are filled in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-notify-config-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'builds.yaml');
  const head = 'portsTree: { path: . }\nports: [misc/a]\n';
  writeFileSync(
    file,
    `${head}hooks:\n  hook_pkg_failure: hooks/fail.sh\nnotify:\n  - { name: a, type: generic, url: "https://example.org/hook" }\n  - { name: s, type: commit-status, urlEnv: STATUS_URL }\n`,
  );
  const s = await loadDesiredState(file);
  assert.deepEqual(s.hooks, { commands: { hook_pkg_failure: join(dir, 'hooks', 'fail.sh') }, timeoutMs: 60_000 });
  const [a, st] = s.notify;
  assert.deepEqual(
    [a!.events, a!.method, a!.retries, a!.retryDelayMs, a!.timeoutMs, a!.body],
    [['run-end', 'port-failure'], 'POST', 5, 2000, 10_000, undefined],
  );
  assert.deepEqual(
    [st!.events, st!.states, st!.context, st!.line],
    [['run-start', 'run-end'], { pending: 'pending', success: 'success', failed: 'failure', interrupted: 'error' }, 'portsync', 7],
  );
  assert.match(st!.body!, /"state":"\{\{state\}\}"/);

  writeFileSync(
    file,
    [
      head.trimEnd(),
      'hooks:',
      '  timeout: 0s',
      '  hook_bogus: x.sh',
      'notify:',
      '  - name: a',
      '    type: generic',
      '    url: https://example.org/{{commit}}',
      '    body: "{}"',
      '  - name: a',
      '    type: slack',
      '  - name: c',
      '    type: commit-status',
      '    url: ftp://example.org/{{commit}}',
      '    events: [port-failure]',
      '  - name: d',
      '    type: commit-status',
      '    url: https://example.org/{{sha}}',
      '    urlEnv: X',
      '    channel: "#x"',
      '    headers: { Authorization: "token {{env.TOKEN}} {{nope}}", "bad header": x, Content-Type: text/plain }',
      '    secretEnv: 9BAD',
      '',
    ].join('\n'),
  );
  const err = await loadDesiredState(file).then(
    () => assert.fail('expected a ConfigError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError);
  const msgs = err.issues.map((i) => `${i.line}:${i.col}: ${i.message}`);
  const expect = [
    /^5:3: unknown key "hook_bogus" in hooks/,
    /^4:12: hooks\.timeout must be more than zero$/,
    /^9:10: notify\[0\]\.url: only a commit-status url is a template/,
    /^10:11: notify\[0\]\.body: only a commit-status target takes a body/,
    /^11:11: notify\[1\]\.name: duplicate notify target "a" \(also notify\[0\]\)$/,
    /^11:5: notify\[1\]: give url \(the address\) or urlEnv/,
    /^15:10: notify\[2\]\.url: ftp is not http or https$/,
    /^16:13: notify\[2\]\.events: a commit status belongs to the commit, not to a port/,
    /^19:10: notify\[3\]\.url: unknown placeholder \{\{sha\}\}; use \{\{commit\}\}/,
    /^20:13: notify\[3\]\.urlEnv: give url or urlEnv, not both$/,
    /^21:14: notify\[3\]\.channel: only a slack target takes channel$/,
    /notify\[3\]\.headers\.Authorization: unknown placeholder \{\{nope\}\}/,
    /notify\[3\]\.headers: "bad header" is not an HTTP header name/,
    /notify\[3\]\.headers\.Content-Type: portsync sets Content-Type itself/,
    /^23:16: notify\[3\]\.secretEnv: "9BAD" is not an environment variable name/,
  ];
  for (const re of expect)
    assert.ok(
      msgs.some((m) => re.test(m)),
      `${re} in:\n${msgs.join('\n')}`,
    );
  assert.equal(msgs.length, expect.length, msgs.join('\n'));
});

test(
  'a portsync reconcile process stays until its deliveries are done: a retried notification is not lost when the pass ends',
  { skip, timeout: 120_000 },
  async () => {
    const rx = await receiver((r, nth) => (nth === 1 ? 503 : 200));
    const p = project(
      ['misc/greet'],
      ['  - name: ci', '    type: generic', `    url: ${rx.url}/ci`, '    events: [run-end]', '    retryDelay: 2s'].join('\n'),
    );
    const r = await cli(p.dir, ['reconcile']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /notify target ci: run-end of run \S+ attempt 1 of 6 failed \(HTTP 503: no thanks \(503\)\); retrying in 2\.0s/);
    assert.match(r.err, /notify target ci: run-end of run \S+ delivered at attempt 2/);
    const got = rx.on('/ci');
    assert.equal(got.length, 2);
    assert.equal(got[1]!.json.run.status, 'success');
  },
);
