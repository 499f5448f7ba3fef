/**
 * Killing portsync mid-build: SIGKILL leaves no mount and no build process; SIGINT stops
 * cleanly, records the build as interrupted and closes the run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject, rootMissing } from './helpers/project.js';
import { waitFor } from './helpers/wait.js';

const skip = bmakeMissing() ?? rootMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

/** A port whose build prints a marker and sleeps: something to kill. */
function slowProject(marker: string): TestProject {
  const p = new TestProject({ ports: ['misc/slowpoke', 'misc/help2man'], workers: 2 });
  projects.push(p);
  p.addPort('misc/slowpoke', { build: `@echo ${marker}; sleep 47.${marker.length}; echo never` });
  return p;
}

const sleeper = (marker: string) => `sleep 47.${marker.length}`;

function processesMatching(text: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) found.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return found;
}

const mountsUnder = (dir: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4]?.startsWith(dir));

function startReconcile(p: TestProject): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [join(REPO, 'bin/portsync.js'), '--config', p.config, 'reconcile'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  return Object.assign(child, { output: () => out });
}

const exited = (c: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((r) => c.on('exit', (code, signal) => r({ code, signal })));

test('SIGKILL mid-build leaves no mount and no build process', { skip }, async () => {
  const marker = 'slowpoke-kill-marker';
  const p = slowProject(marker);
  const child = startReconcile(p);
  const log = join(p.dir, '.portsync/logs/misc___slowpoke.log');
  await waitFor('the slow build to start', () => existsSync(log) && readFileSync(log, 'utf8').includes(marker), 60_000); // a fresh process, a plan and a sandbox first: slow on a loaded machine
  assert.ok(processesMatching(sleeper(marker)).length > 0, 'the build is running');
  assert.ok(mountsUnder(join(p.dir, '.portsync')).length === 0, 'mounts live in the build namespace only, never in ours');
  const done = exited(child);
  child.kill('SIGKILL');
  await done;
  await waitFor('the build processes to die', () => processesMatching(sleeper(marker)).length === 0, 5000);
  assert.deepEqual(mountsUnder(join(p.dir, '.portsync')), []);
  // The next run finds the record left running and marks it interrupted (a quick build this time).
  writeFileSync(p.file('misc/slowpoke/Makefile'), p.read('misc/slowpoke/Makefile').replace(/sleep [\d.]+/, 'true'));
  const next = await p.pass();
  assert.ok(next.stats.total >= 2);
  const rows = await p.query<{ status: string }>("SELECT status FROM builds WHERE origin = 'misc/slowpoke' ORDER BY started_at LIMIT 1");
  assert.equal(rows[0]!.status, 'interrupted');
  const runs = await p.query<{ status: string }>('SELECT status FROM runs ORDER BY started_at LIMIT 1');
  assert.equal(runs[0]!.status, 'interrupted');
});

test('SIGINT: no new ports start, the running build is killed and recorded interrupted, the run is closed', { skip }, async () => {
  const marker = 'slowpoke-int-marker-x';
  const p = slowProject(marker);
  const child = startReconcile(p);
  const log = join(p.dir, '.portsync/logs/misc___slowpoke.log');
  await waitFor('the slow build to start', () => existsSync(log) && readFileSync(log, 'utf8').includes(marker), 60_000); // a fresh process, a plan and a sandbox first: slow on a loaded machine
  const done = exited(child);
  child.kill('SIGINT');
  const { code } = await done;
  assert.equal(code, 130, child.output());
  assert.equal(processesMatching(sleeper(marker)).length, 0);
  const [b] = await p.query<{ status: string; finished_at: string | null }>(
    "SELECT status, finished_at FROM builds WHERE origin = 'misc/slowpoke'",
  );
  assert.equal(b!.status, 'interrupted');
  assert.ok(b!.finished_at);
  const [run] = await p.query<{ status: string; finished_at: string | null }>('SELECT status, finished_at FROM runs');
  assert.equal(run!.status, 'interrupted');
  assert.ok(run!.finished_at);
  assert.match(readFileSync(log, 'utf8'), /interrupted/);
});
