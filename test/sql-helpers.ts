/** Shared by the sql and status tests: a temp project, a seeded database, in-process command runs, a daemon. */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildDB } from '../src/builddb/db.js';
import { commands } from '../src/cli/commands.js';
import { runCommand } from './helpers/cli.js';
import { daemonRequest } from '../src/client/request.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function tempProject(t: { after(fn: () => unknown): void }, prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'examples', 'ports', 'Mk'), join(dir, 'ports', 'Mk'), { recursive: true });
  const configFile = join(dir, 'builds.yaml');
  writeFileSync(configFile, 'portsTree:\n  path: ports\nenvironment:\n  backend: host\nports:\n  - misc/greet\n');
  return { dir, configFile, database: join(dir, '.portsync', 'builddb.duckdb') };
}

/** Two runs, builds of two ports (one failed once), with phases. */
export async function seed(database: string): Promise<void> {
  const db = await BuildDB.open(database);
  try {
    const runId = await db.startRun({ trigger: 'manual', gitCommit: 'abc123' });
    const t0 = new Date('2026-01-02T10:00:00Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const phases = (s: number, fail = false) => [
      { phase: 'fetch', startedAt: at(s), durationMs: 1000, exitCode: 0 },
      { phase: 'build', startedAt: at(s + 1), durationMs: 3000, exitCode: fail ? 1 : 0 },
    ];
    await db.appendBuildHistory([
      {
        runId,
        origin: 'misc/greet',
        pkgname: 'greet-1.0',
        version: '1.0',
        status: 'success',
        crc: '0000abcd',
        buildKey: 'k1',
        startedAt: at(0),
        finishedAt: at(4),
        lastPhase: 'package',
        phases: phases(0),
      },
      {
        runId,
        origin: 'math/numbase',
        pkgname: 'numbase-1.0',
        version: '1.0',
        status: 'failed',
        crc: '0000beef',
        buildKey: 'k2',
        startedAt: at(5),
        finishedAt: at(9),
        lastPhase: 'build',
        error: 'build failed, "quoted", with comma',
        phases: phases(5, true),
      },
      {
        runId,
        origin: 'math/numbase',
        pkgname: 'numbase-1.0',
        version: '1.0',
        status: 'success',
        crc: '0000beef',
        buildKey: 'k3',
        startedAt: at(10),
        finishedAt: at(20),
        lastPhase: 'package',
        phases: phases(10),
      },
    ]);
    await db.finishRun(runId, 'failed', { total: 2, success: 1, failed: 1, skipped: 0, ignored: 0, blocked: 0 });
  } finally {
    await db.close();
  }
}

/** `pieces`: how many separate writes to stdout the command made (streamed output makes many). */
export async function run(name: string, configFile: string, argv: string[]): ReturnType<typeof runCommand> {
  return runCommand(commands[name]!, configFile, argv);
}

const BIN = join(ROOT, 'bin', 'portsync.js');

export interface Daemon {
  pid: number;
  socket: string;
  /** What the daemon printed so far. */
  log(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** `portsync watch` for the project, as a real child process, once its API answers. */
export async function startDaemon(t: { after(fn: () => unknown): void }, configFile: string): Promise<Daemon> {
  const dir = dirname(configFile);
  const socket = join(dir, '.portsync', 'portsync.sock');
  const child = spawn(process.execPath, [BIN, '--config', configFile, 'watch'], {
    cwd: dir,
    env: { ...process.env, PORTSYNC_FROM_SOURCE: '1' },
  });
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  t.after(stop);
  const end = Date.now() + 60_000;
  while (!(existsSync(socket) && (await daemonRequest(socket, 'GET', '/status'))?.status === 200)) {
    if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}) before answering:\n${log}`);
    if (Date.now() > end) throw new Error(`the daemon did not answer on ${socket} within 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid!, socket, log: () => log, stop };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, counted from the state (field 3) here; in ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
