// Per-port overhead of the chroot build environment: create + 8 runs (one per phase) + destroy,
// against the same 8 runs of a trivial command spawned bare. Needs root on Linux.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { environmentBackend } from '../src/builder/sandbox/index.js';
import { report } from './lib.js';

export interface BuildEnvBenchResult {
  iterations: number;
  runsPerPort: number;
  /** Medians in milliseconds. */
  bareMs: number;
  chrootMs: number;
  overheadMs: number;
  createMs: number;
  runMs: number;
  destroyMs: number;
}

const ENV = { PATH: '/usr/bin:/bin' };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function bareRun(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.once('error', reject);
    child.once('close', () => resolve());
  });
}

export async function benchBuildEnv(iterations = 50, runsPerPort = 8): Promise<BuildEnvBenchResult | null> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    console.log('build-env: skipped (the chroot backend needs root on Linux)');
    return null;
  }
  const base = await mkdtemp(join(tmpdir(), 'portsync-bench-env-'));
  const paths = {
    portsTree: join(base, 'ports'),
    distfiles: join(base, 'dist'),
    packages: join(base, 'pkg'),
    buildBase: join(base, 'build'),
  };
  await mkdir(paths.portsTree);
  const backend = environmentBackend('chroot');
  const bare: number[] = [],
    total: number[] = [],
    create: number[] = [],
    run: number[] = [],
    destroy: number[] = [];
  try {
    for (let i = 0; i < iterations + 2; i++) {
      let t = performance.now();
      for (let r = 0; r < runsPerPort; r++) await bareRun();
      const bareMs = performance.now() - t;

      t = performance.now();
      const env = await backend.create(1, paths);
      const c = performance.now();
      for (let r = 0; r < runsPerPort; r++) {
        const res = await env.run({ argv: ['true'], env: ENV });
        if (res.exitCode !== 0) throw new Error(`run failed: ${JSON.stringify(res)}`);
      }
      const rEnd = performance.now();
      await env.destroy();
      const end = performance.now();
      if (i < 2) continue; // warm-up
      bare.push(bareMs);
      total.push(end - t);
      create.push(c - t);
      run.push((rEnd - c) / runsPerPort);
      destroy.push(end - rEnd);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  const result: BuildEnvBenchResult = {
    iterations,
    runsPerPort,
    bareMs: median(bare),
    chrootMs: median(total),
    overheadMs: median(total.map((x, i) => x - bare[i]!)),
    createMs: median(create),
    runMs: median(run),
    destroyMs: median(destroy),
  };
  const r1 = (x: number) => Math.round(x * 10) / 10;
  report('build-env', `chroot sandbox: ${iterations} ports × ${runsPerPort} runs`, [
    { figure: 'bare runs per port', value: r1(result.bareMs), unit: 'ms' },
    { figure: 'in a chroot sandbox per port', value: r1(result.chrootMs), unit: 'ms' },
    { figure: '  create', value: r1(result.createMs), unit: 'ms' },
    { figure: '  each run', value: r1(result.runMs), unit: 'ms' },
    { figure: '  destroy', value: r1(result.destroyMs), unit: 'ms' },
    { figure: 'sandbox overhead per port (median)', value: r1(result.overheadMs), unit: 'ms', max: 50 },
  ]);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchBuildEnv();
}
