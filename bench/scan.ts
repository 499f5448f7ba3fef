/**
 * Scan benchmark: reading a 10,000-port tree. Cold (empty metadata cache: one make per port and
 * flavor), warm (everything cached: zero make calls), and after one port changed.
 *   tsx bench/scan.ts [--ports 10000] [--dir DIR]
 */
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { observe } from '../src/reconcile/observe.js';
import { benchArgs, benchProject, ms, report, timed } from './lib.js';

export async function benchScan(args = benchArgs({ ports: 10_000 })): Promise<void> {
  const { state, tree } = await benchProject(args);
  rmSync(join(state.paths.buildBase, 'metadata-cache.json'), { force: true });
  const [cold, coldMs] = await timed(() => observe(state));
  const [warm, warmMs] = await timed(() => observe(state));
  const port = [...cold.scan.ports.values()].find((p) => !p.meta.flavors.length)!.meta.dir;
  appendFileSync(join(tree, port, 'Makefile'), `# touched ${Date.now()}\n`);
  const [one, oneMs] = await timed(() => observe(state));
  report(`scan of ${cold.scan.stats.ports} ports (${args.ports} port directories) on ${tree}`, [
    ['cold scan', ms(coldMs)],
    ['cold rate', `${Math.round(cold.scan.stats.ports / (coldMs / 1000))} ports/s`, '>= 100 ports/s'],
    ['cold make calls', String(cold.scan.stats.makeCalls)],
    ['warm scan', ms(warmMs), '<= 1500 ms'],
    ['warm make calls', String(warm.scan.stats.makeCalls), '0'],
    [`one port changed (${port})`, ms(oneMs), '<= 2000 ms'],
    ['one-port make calls', String(one.scan.stats.makeCalls), '1'],
  ]);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchScan();
