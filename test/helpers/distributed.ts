/**
 * Distributed builds in tests: a real redis-server of the test's own (127.0.0.1, a free port, a
 * temp dir), and agents as separate `portsync agent` processes with build bases of their own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './net.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, waitFor } from './wait.js';

export const TOKEN = 'test-agent-token-0123456789';

/** Why the distributed tests cannot run here, or undefined. */
export function redisMissing(): string | undefined {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0
    ? undefined
    : 'redis-server is not installed (npm run setup installs it as root: apt-get install redis-server)';
}

/** redis-server on 127.0.0.1 with its data (append-only file) in a temp dir. */
export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'portsync-redis-'));
  private proc: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    /** appendfsync: always (tests: nothing lost on a restart) or everysec (Redis's own default, for benchmarks). */
    private readonly fsync: 'always' | 'everysec',
  ) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  /** The redis-server process (its CPU is measured by the benchmark). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }
  static async start(opts: { fsync?: 'always' | 'everysec' } = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), opts.fsync ?? 'always');
    await r.launch();
    return r;
  }
  private async launch(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        this.fsync,
      ],
      { stdio: 'ignore' },
    );
    await waitFor(
      `redis-server on port ${this.port}`,
      () => spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG',
      10_000,
    );
  }
  /** Stops it (SIGTERM: it writes its data) and starts it again on the same port. */
  async restart(): Promise<void> {
    await this.stop(false);
    await this.launch();
  }
  async stop(remove = true): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    if (remove) rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface AgentOptions {
  name: string;
  redis: string;
  queue: string;
  portsTree: string;
  workers?: number;
  backend?: 'chroot' | 'host';
  lockTimeout?: string;
  /** More environment for the agent process (e.g. the benchmark's PORTSYNC_AGENT_SIMULATE). */
  env?: Record<string, string>;
}

/** A `portsync agent` process with an agent.yaml and a build base of its own. */
export class TestAgent {
  readonly dir: string;
  readonly proc: ChildProcess;
  output = '';
  constructor(readonly opts: AgentOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `portsync-agent-${opts.name}-`));
    mkdirSync(this.dir, { recursive: true });
    const config = join(this.dir, 'agent.yaml');
    writeFileSync(
      config,
      [
        `redis: ${opts.redis}`,
        `queue: ${opts.queue}`,
        `name: ${opts.name}`,
        `portsTree: ${opts.portsTree}`,
        `workers: ${opts.workers ?? 1}`,
        `environment: { backend: ${opts.backend ?? 'chroot'} }`,
        `lockTimeout: ${opts.lockTimeout ?? '4s'}`,
      ].join('\n'),
    );
    this.proc = spawn(process.execPath, [BIN, '--config', config, 'agent'], {
      env: { ...process.env, PORTSYNC_AGENT_TOKEN: TOKEN, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.proc.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
  }
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `agent ${this.opts.name} to start (output so far: ${this.output})`,
      () => this.output.includes('taking build jobs') || this.proc.exitCode !== null,
      timeoutMs,
    );
    if (this.proc.exitCode !== null) throw new Error(`agent ${this.opts.name} exited ${this.proc.exitCode}: ${this.output}`);
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    await exited;
  }
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** builds.yaml's `executor:` for a distributed executor on `redis`, queue `queue`. */
export const distributedExecutor = (redis: string, queue: string) => `executor: { kind: distributed, redis: "${redis}", queue: ${queue} }`;
