/**
 * Scan benchmark: reading a real-shaped 10,000-port tree (bench/gen-tree.ts --shape real: ~45
 * framework makefiles per port, fuller port directories).
 *  - cold scan (empty metadata cache: one make per port and flavor) against plain bmake doing the
 *    very same calls side by side (xargs -P <cores>, no Node at all);
 *  - warm scan in this process, and warm in a fresh process (`portsync plan`, and observe alone);
 *  - the metadata cache: size, load time (JSON.parse, and v8.deserialize of the same data);
 *  - daemon-style scans (`changed` = what the watcher saw): nothing changed, one port changed,
 *    with heap and RSS;
 *  - optionally the old implementation on the same tree (`--baseline DIR`: a checkout of an
 *    earlier commit, e.g. `git archive <commit> | tar -x -C DIR` with node_modules linked in).
 * Figures on a shared 2-core machine are noisy: compare numbers from one run, and repeat.
 *   tsx bench/scan.ts [--ports 10000] [--dir DIR] [--shape real|simple] [--baseline DIR] [--no-cold]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deserialize, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeSettingsOf, observe } from '../src/reconcile/observe.js';
import { makeEnvironment, metadataArgs } from '../src/ports/make.js';
import { scanPorts } from '../src/ports/scanner.js';
import { listPortDirs } from '../src/ports/tree.js';
import { loadDesiredState } from '../src/config/load.js';
import { generateTree } from './gen-tree.js';
import { benchProject, type Figure, ms, report, timed } from './lib.js';

const here = import.meta.dirname;

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** Runs `fn` `n` times; the median. */
async function median(n: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

export async function benchScan(argv = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ports: { type: 'string' },
      dir: { type: 'string' },
      shape: { type: 'string' },
      baseline: { type: 'string' },
      'no-cold': { type: 'boolean' },
    },
    strict: false,
  });
  const ports = Number(values.ports ?? 10_000);
  const shape = values.shape === 'simple' ? 'simple' : 'real';
  const dir = typeof values.dir === 'string' ? values.dir : join(tmpdir(), `portsync-bench-${shape === 'real' ? 'real-' : ''}${ports}`);
  const treeDir = join(dir, 'ports');
  if (!existsSync(join(treeDir, 'Mk'))) {
    mkdirSync(dir, { recursive: true });
    const t = performance.now();
    const s = generateTree({ ports, out: treeDir, shape });
    console.log(`generated ${s.ports} ports (${shape} shape) in ${ms(performance.now() - t)}`);
  }
  // dist/ (the compiled CLI) up to date, as `npm run bench` leaves it.
  spawnSync(process.execPath, [join(here, '../scripts/setup.mjs')], { stdio: 'inherit' });
  const { state, tree, config } = await benchProject({ ports, dir });
  const cacheFile = join(state.paths.buildBase, 'metadata-cache.json');
  const cores = availableParallelism();
  const rows: Figure[] = [];
  const row = (figure: string, value: number | string, unit = '', target: { max?: number; min?: number } = {}): Figure => ({
    figure,
    value: typeof value === 'number' ? Math.round(value * 10) / 10 : value,
    ...(unit ? { unit } : {}),
    ...target,
  });

  // --- cold: portsync, then plain bmake with the same calls, side by side -----------------
  let nodes = 0;
  if (!values['no-cold']) {
    rmSync(cacheFile, { force: true });
    const [cold, coldMs] = await timed(() => observe(state));
    nodes = cold.scan.stats.ports;
    const settings = makeSettingsOf(state, tree);
    const lines = [...cold.scan.ports.values()].map((p) => {
      const flavor = p.meta.origin.includes('@') ? p.meta.flavor : '';
      return metadataArgs(settings, p.meta.dir, flavor, p.meta.vars).join(' ');
    });
    const list = join(dir, 'plain-bmake.args');
    writeFileSync(list, lines.join('\n') + '\n');
    const env = makeEnvironment(settings);
    const t = performance.now();
    spawnSync('sh', ['-c', `xargs -P ${cores} -L 1 ${state.make.command} < '${list}' > /dev/null 2>&1`], { env, stdio: 'ignore' });
    const plainMs = performance.now() - t;
    const plainRate = Math.round(nodes / (plainMs / 1000));
    rows.push(
      row(`cold scan (${nodes} nodes, ${cold.scan.stats.makeCalls} make calls)`, coldMs, 'ms'),
      row("cold rate, portsync (target: plain bmake's rate)", Math.round(nodes / (coldMs / 1000)), 'nodes/s', { min: plainRate }),
      row(`cold rate, plain bmake (xargs -P ${cores})`, plainRate, 'nodes/s'),
    );
  }

  // --- the cache file -------------------------------------------------------------------
  const data = deserialize(readFileSync(cacheFile)) as unknown;
  const json = JSON.stringify(data);
  rows.push(
    row('metadata cache (v8.serialize)', mb(statSync(cacheFile).size)),
    row('  read + v8.deserialize', await median(5, () => deserialize(readFileSync(cacheFile))), 'ms'),
    row(`  JSON.parse of the same (${mb(json.length)})`, await median(5, () => JSON.parse(json)), 'ms'),
  );

  // --- warm ------------------------------------------------------------------------------
  const cpu0 = process.cpuUsage();
  const [warm, warmMs] = await timed(() => observe(state));
  const cpu1 = process.cpuUsage(cpu0);
  rows.push(
    row('warm observe, same process (stat check)', warmMs, 'ms'),
    row('  its cpu', (cpu1.user + cpu1.system) / 1000, 'ms'),
    row('  make calls', warm.scan.stats.makeCalls, '', { max: 0 }),
  );
  nodes ||= warm.scan.stats.ports;

  const cli = (args: string[], env: Record<string, string> = {}) => {
    const t = performance.now();
    spawnSync(process.execPath, [join(here, '../bin/portsync.js'), '--config', config, ...args], {
      stdio: 'ignore',
      env: { ...process.env, ...env },
    });
    return performance.now() - t;
  };
  const distFresh = existsSync(join(here, '../dist/.built'));
  rows.push(
    row(`fresh process: portsync plan (${distFresh ? 'dist if up to date' : 'no dist: tsx'})`, await median(3, () => cli(['plan'])), 'ms', {
      max: 1500,
    }),
    row('fresh process: portsync plan from sources (tsx)', await median(3, () => cli(['plan'], { PORTSYNC_FROM_SOURCE: '1' })), 'ms'),
  );
  // The scan alone in a fresh process: node start, load the config, observe.
  const observeOnly = `
    const t0 = performance.now();
    const { loadDesiredState } = await import(${JSON.stringify(join(here, '../dist/config/load.js'))});
    const { observe } = await import(${JSON.stringify(join(here, '../dist/reconcile/observe.js'))});
    const t1 = performance.now();
    const state = await loadDesiredState(${JSON.stringify(config)});
    const o = await observe(state);
    const t2 = performance.now();
    const c = process.cpuUsage();
    console.log(JSON.stringify({ imports: t1 - t0, observe: t2 - t1, calls: o.scan.stats.makeCalls, heap: process.memoryUsage().heapUsed, cpu: (c.user + c.system) / 1000 }));`;
  if (existsSync(join(here, '../dist/reconcile/observe.js'))) {
    const t = performance.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', observeOnly], { encoding: 'utf8' });
    const total = performance.now() - t;
    try {
      const o = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        imports: number;
        observe: number;
        calls: number;
        heap: number;
        cpu: number;
      };
      rows.push(
        row('fresh process (dist): start+imports+observe', total, 'ms'),
        row('  its cpu', o.cpu, 'ms'),
        row('  imports', o.imports, 'ms'),
        row('  load config + observe', o.observe, 'ms'),
        row('  make calls', o.calls, '', { max: 0 }),
        row('  heap after', mb(o.heap)),
      );
    } catch {
      rows.push(row('fresh process (dist) observe', `failed: ${r.stderr.split('\n')[0]}`));
    }
  }

  // --- daemon: the watcher says what changed (its own process: heap and RSS are the scanner's) ---
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, 'scan.ts'), '--daemon-child', config], {
    encoding: 'utf8',
    cwd: join(here, '..'),
  });
  try {
    const d = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number | string>;
    rows.push(
      row('daemon process: first scan (loads the cache file)', d.firstMs as number, 'ms'),
      row('daemon warm scan, nothing changed (changed = {})', d.noneMs as number, 'ms', { max: 500 }),
      row('daemon warm scan, full stat check (no hint)', d.allMs as number, 'ms'),
      row(`daemon, one port changed (${d.port})`, d.oneMs as number, 'ms'),
      row('  its make calls', d.oneCalls as number, '', { max: 1 }),
      row('  heap used (after gc)', (d.heap as number) / 1048576, 'MB'),
      row('  RSS (after gc)', (d.rss as number) / 1048576, 'MB', { max: 400 }),
    );
  } catch {
    rows.push(row('daemon process', `failed: ${child.stderr.slice(0, 500)}`));
  }
  report('scan', `scan of ${nodes} nodes (${ports} port directories, ${shape} shape) on ${tree}; ${cores} cores, shared: noisy`, rows);

  if (typeof values.baseline === 'string') {
    console.log(`\nbaseline (${values.baseline}), same tree:`);
    try {
      execFileSync(process.execPath, ['--import', 'tsx', join(values.baseline, 'bench/scan.ts'), '--ports', String(ports), '--dir', dir], {
        stdio: 'inherit',
        cwd: values.baseline,
      });
    } catch (e) {
      console.log(`baseline failed: ${(e as Error).message}`);
    }
  }
}

/** `--daemon-child CONFIG`: scans as the daemon does, in a process of its own; prints one JSON line. */
async function daemonChild(config: string): Promise<void> {
  const state = await loadDesiredState(config);
  const tree = state.portsTree.path;
  const settings = makeSettingsOf(state, tree);
  const roots = listPortDirs(tree);
  const opts = { settings, cacheFile: join(state.paths.buildBase, 'metadata-cache.json'), optional: new Set(roots) };
  const scan = async (changed?: ReadonlySet<string> | 'all') => {
    const c = process.cpuUsage();
    const t = performance.now();
    const r = await scanPorts(roots, { ...opts, ...(changed ? { changed } : {}) });
    const cpu = process.cpuUsage(c);
    return { r, ms: performance.now() - t, cpu: (cpu.user + cpu.system) / 1000 };
  };
  const first = await scan('all');
  const none: { ms: number; cpu: number }[] = [];
  for (let i = 0; i < 5; i++) none.push(await scan(new Set()));
  none.sort((a, b) => a.ms - b.ms);
  const all = await scan();
  gc();
  const mem = process.memoryUsage();
  const port = [...first.r.ports.values()].find((p) => !p.meta.flavors.length)!.meta.dir;
  appendFileSync(join(tree, port, 'Makefile'), `# touched ${Date.now()}\n`);
  const one = await scan(new Set([join(tree, port, 'Makefile')]));
  console.log(
    JSON.stringify({
      firstMs: first.ms,
      firstCpu: first.cpu,
      noneMs: none[2]!.ms,
      noneCpu: none[2]!.cpu,
      allMs: all.ms,
      allCpu: all.cpu,
      heap: mem.heapUsed,
      rss: mem.rss,
      port,
      oneMs: one.ms,
      oneCalls: one.r.stats.makeCalls,
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--daemon-child');
  if (i >= 0) await daemonChild(process.argv[i + 1]!);
  else await benchScan();
}
