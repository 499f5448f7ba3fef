/**
 * GET /metrics of a real daemon (`portsync watch` as a child process, bmake, host backend, a real
 * DuckDB file) after real passes, over real HTTP on its TCP address and its Unix socket: the
 * Prometheus text format with passes, their durations, ports by state, builds by result, phase
 * durations, the queue, the last successful pass and database faults.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { BuildDB } from '../src/builddb/db.js';
import { FailSafeBuildDB } from '../src/builddb/failsafe.js';
import type { LoopStatus } from '../src/reconcile/loop.js';
import { daemonRequest } from '../src/client/request.js';
import { DaemonMetrics } from '../src/server/metrics.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { waitFor } from './helpers/wait.js';
import { startDaemon } from './sql-helpers.js';
import { freePort } from './helpers/net.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

function scrape(port: number): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    }).on('error', reject);
  });
}

/** `name{labels} value` lines by their series (name plus labels as written). */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

test(
  'GET /metrics after real passes: passes, durations, ports by state, builds by result, phases, queue, last success, database faults',
  { skip, timeout: 180_000 },
  async (t) => {
    const port = await freePort();
    const opts = {
      ports: ['misc/greet', 'misc/ancient'],
      backend: 'host' as const,
      workers: 1,
      extra: `server: { listen: "127.0.0.1:${port}" }`,
    };
    const p = new TestProject(opts);
    projects.push(p);
    for (const name of ['slowa', 'slowb']) {
      p.addPort(`misc/${name}`, { build: '@sleep 4' });
    }
    const t0 = Date.now() / 1000;
    const daemon = await startDaemon(t, p.config);
    const socketStatus = async () =>
      ((await daemonRequest(daemon.socket, 'GET', '/status?ports=none'))?.body ?? {}) as {
        current: unknown;
        pending: unknown;
        lastPass: { runId: string; status: string } | null;
        daemon: { passes: number };
      };
    await waitFor('the startup pass', async () => (await socketStatus()).lastPass, 90_000);

    const r = await scrape(port);
    assert.equal(r.status, 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(r.text, /^# HELP portsync_passes_total .+\n# TYPE portsync_passes_total counter$/m);
    assert.match(r.text, /^# TYPE portsync_build_phase_duration_seconds histogram$/m);
    const m = samples(r.text);
    const at = (series: string) => {
      assert.ok(
        m.has(series),
        `${series} in\n${r.text
          .split('\n')
          .filter((l) => l.startsWith('portsync_'))
          .join('\n')}`,
      );
      return m.get(series)!;
    };
    assert.equal(at('portsync_passes_total{trigger="startup",status="success"}'), 1);
    assert.equal(at('portsync_pass_duration_seconds_count{status="success"}'), 1);
    assert.ok(at('portsync_pass_duration_seconds_sum{status="success"}') > 0);
    assert.deepEqual(
      ['success', 'failed', 'skipped', 'ignored', 'blocked', 'interrupted'].map((s) => at(`portsync_ports{state="${s}"}`)),
      [1, 0, 0, 1, 0, 0],
    );
    assert.equal(at('portsync_builds_total{result="success"}'), 1);
    for (const phase of ['fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package']) {
      assert.equal(at(`portsync_build_phase_duration_seconds_count{phase="${phase}"}`), 1, phase);
      assert.equal(at(`portsync_build_phase_duration_seconds_bucket{le="+Inf",phase="${phase}"}`), 1, phase);
    }
    assert.equal(at('portsync_build_queue_length'), 0);
    assert.equal(at('portsync_builds_running'), 0);
    assert.equal(at('portsync_pass_running'), 0);
    assert.equal(at('portsync_config_errors'), 0);
    assert.equal(at('portsync_database_faults_total'), 0);
    const lastSuccess = at('portsync_last_successful_pass_timestamp_seconds');
    assert.ok(lastSuccess >= t0 && lastSuccess <= Date.now() / 1000, `${lastSuccess} is the time of the startup pass`);
    assert.ok(at('process_resident_memory_bytes') > 0, "prom-client's process metrics are there too");

    // The same over the Unix socket.
    const viaSocket = await daemonRequest(daemon.socket, 'GET', '/metrics');
    assert.equal(viaSocket?.status, 200);
    assert.match(String(viaSocket?.body), /^portsync_builds_total\{result="success"\} 1$/m);

    // Two slow ports, one worker: while one builds, the other waits in the queue.
    p.writeConfig({ ...opts, ports: [...opts.ports, 'misc/slowa', 'misc/slowb'] });
    const during = await waitFor(
      'a scrape while a slow port builds',
      async () => {
        const x = samples((await scrape(port)).text);
        return x.get('portsync_builds_running') === 1 && x;
      },
      60_000,
    );
    assert.equal(during.get('portsync_pass_running'), 1);
    assert.equal(during.get('portsync_build_queue_length'), 1, 'the other slow port waits for the worker');
    await waitFor(
      'the slow pass to end',
      async () => {
        const s = await socketStatus();
        return s.lastPass?.status === 'success' && !s.current && !s.pending && s.daemon.passes >= 2;
      },
      90_000,
    );
    const quiet = samples((await scrape(port)).text);
    assert.equal(quiet.get('portsync_build_queue_length'), 0);
    assert.equal(quiet.get('portsync_builds_total{result="success"}'), 3);
    assert.ok(quiet.get('portsync_last_successful_pass_timestamp_seconds')! > lastSuccess, 'the slow pass was a success, later');

    // A build that fails: the daemon sees the change and runs passes until it is quiet again.
    mkdirSync(p.file('misc/greet/files'));
    p.write('misc/greet/files/patch-zz-broken', '--- nope.c.orig\n+++ nope.c\n@@ -1 +1 @@\n-a\n+b\n');
    await waitFor(
      'a failed pass',
      async () => {
        const s = await socketStatus();
        return s.lastPass?.status === 'failed' && !s.current && !s.pending;
      },
      90_000,
    );
    const after = samples((await scrape(port)).text);
    assert.equal(after.get('portsync_builds_total{result="failed"}'), 1, 'the failed build, attempted once');
    assert.equal(after.get('portsync_builds_total{result="success"}'), 3);
    assert.ok((after.get('portsync_passes_total{trigger="watch",status="failed"}') ?? 0) >= 1);
    assert.equal(
      after.get('portsync_last_successful_pass_timestamp_seconds'),
      quiet.get('portsync_last_successful_pass_timestamp_seconds'),
      'a failed pass is not a success',
    );
    assert.equal(after.get('portsync_build_phase_duration_seconds_count{phase="patch"}'), 4);
    assert.equal(after.get('portsync_build_phase_duration_seconds_count{phase="build"}'), 3, 'the failed build stopped at patch');
    assert.equal((after.get('portsync_ports{state="failed"}') ?? 0) + (after.get('portsync_ports{state="blocked"}') ?? 0), 1);
    assert.equal(after.get('portsync_ports{state="ignored"}'), 1);
    assert.equal(after.get('portsync_ports{state="skipped"}'), 2, 'the slow ports, up to date');
    assert.equal(await daemon.stop(), 0);
  },
);

test('portsync_database_faults_total counts the database operations that failed while builds went on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-metrics-db-'));
  try {
    const buildDb = await BuildDB.open(join(dir, 'builddb.duckdb'));
    const lines: string[] = [];
    const db = new FailSafeBuildDB(buildDb, (l) => lines.push(l));
    const idle: LoopStatus = {
      current: null,
      pending: null,
      lastPass: null,
      lastError: null,
      retry: null,
      passes: 0,
      config: { file: 'builds.yaml', errors: [], errorText: [], lastGoodAt: new Date().toISOString() },
    };
    const metrics = new DaemonMetrics(() => idle, db);
    const faults = async () => samples(await metrics.registry.metrics()).get('portsync_database_faults_total');
    assert.equal(await faults(), 0);
    await buildDb.close(); // from now on every operation fails: the fail-safe logs it and goes on
    await db.finishRun('00000000-0000-4000-8000-000000000000', 'success');
    await db.recordFailure('misc/x', 'k', '00000000-0000-4000-8000-000000000001');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.equal(await faults(), 2);
    assert.equal(await faults(), 2, 'counted once, however often scraped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
