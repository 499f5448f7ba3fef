/**
 * dsynth's hooks during real passes over the example tree (bmake, host backend, a real DuckDB
 * file): real hook scripts see dsynth's names and environment; hook_run_start comes first and
 * hook_run_end last; a failing or slow hook is logged and killed, and the pass neither waits for
 * it nor fails because of it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backgroundCount, settleBackground } from '../src/notify/index.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { waitFor } from './helpers/wait.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

/** A process that runs (a zombie waiting for its parent to reap it does not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

const HOOKS = ['hook_run_start', 'hook_run_end', 'hook_pkg_success', 'hook_pkg_failure', 'hook_pkg_ignored', 'hook_pkg_skipped'];

/** A hook script that records its whole environment, one file per call, and its name in order.log. */
function recordingHook(dir: string): string {
  const out = join(dir, 'hook-out');
  mkdirSync(out, { recursive: true });
  const script = join(dir, 'hooks', 'record.sh');
  mkdirSync(join(dir, 'hooks'), { recursive: true });
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `out=${out}`,
      'name="$PORTSYNC_HOOK"',
      '[ -n "$PORTSYNC_ORIGIN" ] && name="$name.$(printf %s "$PORTSYNC_ORIGIN" | tr "/@" "__")"',
      'env > "$out/$name.env"',
      'echo "$name" >> "$out/order.log"',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return out;
}

function readEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

test('every dsynth hook runs with its environment during a real reconcile of the example tree', { skip, timeout: 240_000 }, async () => {
  const extra = ['hooks:', ...HOOKS.map((h) => `  ${h}: hooks/record.sh`), '  timeout: 30s'].join('\n');
  const p = new TestProject({ ports: ['textproc/gamma', 'misc/help2man', 'misc/ancient', 'lang/pyish@py312'], backend: 'host', extra });
  projects.push(p);
  const out = recordingHook(p.dir);
  // libalpha fails in patch: libbeta and gamma above it are blocked (dsynth's "skipped").
  p.write('devel/libalpha/files/patch-zz-broken', '--- nope.c.orig\n+++ nope.c\n@@ -1 +1 @@\n-a\n+b\n');

  const r = await p.pass();
  const status = Object.fromEntries(r.ports.map((x) => [x.origin, x.status]));
  assert.deepEqual(
    [
      status['devel/libalpha'],
      status['devel/libbeta'],
      status['textproc/gamma'],
      status['misc/help2man'],
      status['misc/ancient'],
      status['lang/pyish@py312'],
    ],
    ['failed', 'blocked', 'blocked', 'success', 'ignored', 'success'],
  );
  await waitFor('hook_run_end', () => existsSync(join(out, 'hook_run_end.env')), 30_000);

  const files = readdirSync(out)
    .filter((f) => f.endsWith('.env'))
    .sort();
  assert.deepEqual(files, [
    'hook_pkg_failure.devel_libalpha.env',
    'hook_pkg_ignored.misc_ancient.env',
    'hook_pkg_skipped.devel_libbeta.env',
    'hook_pkg_skipped.textproc_gamma.env',
    'hook_pkg_success.lang_pyish_py312.env',
    'hook_pkg_success.misc_help2man.env',
    'hook_run_end.env',
    'hook_run_start.env',
  ]);
  const order = readFileSync(join(out, 'order.log'), 'utf8').trim().split('\n');
  assert.equal(order[0], 'hook_run_start', 'hook_run_start runs before the port hooks');
  assert.equal(order.at(-1), 'hook_run_end', 'hook_run_end runs after every port hook');
  assert.equal(order.length, 8);

  const logs = join(p.dir, '.portsync', 'logs');
  const common = {
    PROFILE: p.config,
    PORTSYNC_CONFIG: p.config,
    PORTSYNC_RUN_ID: r.runId,
    PORTSYNC_TRIGGER: 'test',
    DIR_PACKAGES: join(p.dir, '.portsync', 'packages'),
    DIR_REPOSITORY: join(p.dir, '.portsync', 'packages', 'All'),
    DIR_PORTS: p.tree,
    DIR_DISTFILES: join(p.dir, '.portsync', 'distfiles'),
    DIR_LOGS: logs,
    DIR_BUILDBASE: join(p.dir, '.portsync', 'build'),
  };
  const pick = (env: Record<string, string>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, env[k]]));
  const start = readEnv(join(out, 'hook_run_start.env'));
  assert.deepEqual(pick(start, [...Object.keys(common), 'PORTSYNC_HOOK', 'PORTS_QUEUED']), {
    ...common,
    PORTSYNC_HOOK: 'hook_run_start',
    PORTS_QUEUED: '5',
  });
  const end = readEnv(join(out, 'hook_run_end.env'));
  assert.deepEqual(
    pick(end, [
      'PORTSYNC_RUN_ID',
      'PORTS_BUILT',
      'PORTS_FAILED',
      'PORTS_IGNORED',
      'PORTS_SKIPPED',
      'PORTSYNC_STATUS',
      'PORTSYNC_PORTS_UP_TO_DATE',
    ]),
    {
      PORTSYNC_RUN_ID: r.runId,
      PORTS_BUILT: '2',
      PORTS_FAILED: '1',
      PORTS_IGNORED: '1',
      PORTS_SKIPPED: '2',
      PORTSYNC_STATUS: 'failed',
      PORTSYNC_PORTS_UP_TO_DATE: '0',
    },
  );
  // Like dsynth, a small environment: nothing of portsync's own beyond PATH, HOME, LANG.
  assert.equal(end.PORTSYNC_WEBHOOK_SECRET, undefined);

  const failure = readEnv(join(out, 'hook_pkg_failure.devel_libalpha.env'));
  assert.deepEqual(pick(failure, ['RESULT', 'ORIGIN', 'FLAVOR', 'PKGNAME', 'PORTSYNC_RUN_ID', 'PORTSYNC_PHASE', 'PORTSYNC_PKGFILE']), {
    RESULT: 'failure',
    ORIGIN: 'devel/libalpha',
    FLAVOR: 'devel/libalpha',
    PKGNAME: 'libalpha-1.2.0',
    PORTSYNC_RUN_ID: r.runId,
    PORTSYNC_PHASE: 'patch',
    PORTSYNC_PKGFILE: 'libalpha-1.2.0.tgz',
  });
  assert.equal(failure.PORTSYNC_LOG, r.ports.find((x) => x.origin === 'devel/libalpha')!.logPath);
  assert.match(readFileSync(failure.PORTSYNC_LOG!, 'utf8'), /patch/, "PORTSYNC_LOG is the failed build's log");
  assert.match(failure.PORTSYNC_BUILD_ID ?? '', /^[0-9a-f-]{36}$/);

  const flavored = readEnv(join(out, 'hook_pkg_success.lang_pyish_py312.env'));
  assert.deepEqual(pick(flavored, ['RESULT', 'ORIGIN', 'FLAVOR', 'PKGNAME', 'PORTSYNC_ORIGIN']), {
    RESULT: 'success',
    ORIGIN: 'lang/pyish',
    FLAVOR: 'py312',
    PKGNAME: 'py312-pyish-1.0',
    PORTSYNC_ORIGIN: 'lang/pyish@py312',
  });
  assert.ok(existsSync(join(common.DIR_REPOSITORY, flavored.PORTSYNC_PKGFILE!)), 'the package a success hook names is in the repository');
  assert.deepEqual(pick(readEnv(join(out, 'hook_pkg_ignored.misc_ancient.env')), ['RESULT', 'ORIGIN', 'PORTSYNC_LOG']), {
    RESULT: 'ignored',
    ORIGIN: 'misc/ancient',
    PORTSYNC_LOG: '',
  });
  const skipped = readEnv(join(out, 'hook_pkg_skipped.textproc_gamma.env'));
  assert.equal(skipped.RESULT, 'skipped');
  assert.match(skipped.PORTSYNC_REASON!, /dependency devel\/libbeta is blocked|dependency devel\/libalpha failed/);

  // The next pass of the same process: still ignored is no news; hook_run_start/end run again.
  const again = await p.pass();
  await waitFor('the second hook_run_end', () => readFileSync(join(out, 'hook_run_end.env'), 'utf8').includes(again.runId), 30_000);
  const second = readFileSync(join(out, 'order.log'), 'utf8').trim().split('\n').slice(order.length);
  assert.equal(second[0], 'hook_run_start');
  assert.equal(second.at(-1), 'hook_run_end');
  assert.ok(!second.includes('hook_pkg_ignored.misc_ancient'), second.join(' '));
});

test(
  'a failing hook and a slow hook are logged, the slow one killed with its children; the pass neither waits nor fails',
  { skip, timeout: 120_000 },
  async () => {
    const p = new TestProject({
      ports: ['misc/greet'],
      backend: 'host',
      extra: 'hooks:\n  hook_run_start: hooks/missing.sh\n  hook_pkg_success: hooks/fail.sh\n  hook_run_end: hooks/slow.sh\n  timeout: 3s',
    });
    projects.push(p);
    mkdirSync(join(p.dir, 'hooks'));
    const pids = join(p.dir, 'slow.pids');
    writeFileSync(join(p.dir, 'hooks', 'slow.sh'), `#!/bin/sh\nsleep 60 &\necho "$$ $!" > ${pids}\nwait\n`);
    writeFileSync(join(p.dir, 'hooks', 'fail.sh'), '#!/bin/sh\necho "cannot reach the mirror for $ORIGIN" >&2\nexit 3\n');
    for (const f of ['slow.sh', 'fail.sh']) chmodSync(join(p.dir, 'hooks', f), 0o755);

    const r = await p.pass();
    assert.equal(r.status, 'success');
    assert.equal(r.stats.success, 1);
    // The pass has returned; hook_run_end runs after it, and sleeps.
    assert.ok(backgroundCount() > 0, 'hooks are still running when the pass returns');
    const [shell, sleeper] = (await waitFor('the slow hook to start', () => existsSync(pids) && readFileSync(pids, 'utf8').trim()))
      .split(' ')
      .map(Number);
    assert.ok(running(sleeper!), 'the slow hook is running');
    const t0 = Date.now();
    assert.equal(await settleBackground(30_000), true);
    assert.ok(Date.now() - t0 < 10_000, 'killed at its timeout, not after its 60 s');
    const log = r.lines.join('\n');
    assert.match(
      log,
      new RegExp(
        `warning: hook hook_run_end \\(${join(p.dir, 'hooks', 'slow.sh')}\\) for run ${r.runId}: still running after 3s: killed with its process group; .*hooks\\.timeout`,
      ),
    );
    await waitFor('the slow hook and what it started to be gone', () => !running(shell!) && !running(sleeper!), 5000);
    assert.match(
      log,
      /warning: hook hook_pkg_success \(\S+fail\.sh\) for misc\/greet: exited 3: cannot reach the mirror for misc\/greet; fix the hook \(the pass goes on\)/,
    );
    assert.match(log, /warning: hook hook_run_start \(\S+missing\.sh\) for run \S+: cannot run: .*ENOENT.*; the file does not exist/);
    assert.equal(r.lines.filter((l) => l.includes('hook hook_run_start')).length, 1, 'said once');
    const [run] = await p.query<{ status: string; success: number }>('SELECT status, success FROM runs');
    assert.deepEqual(run, { status: 'success', success: 1 });
  },
);
