/**
 * `npm run bench`: every benchmark, one after another, each in its own process so that one
 * does not warm caches for the next. Arguments after `--` go to each (e.g. `-- --ports 2000`).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extra = process.argv.slice(2);
const benches: [string, string[]][] = [
  ['scan.ts', extra],
  ['reconcile.ts', extra],
  ['build-env.ts', []],
  ['build.ts', extra.length ? extra : ['--ports', '1000']],
  ['builddb.ts', []],
  // The database under a coordinator's write load (8 builds at once, group commit).
  ['builddb-writes.ts', []],
  // The real MidnightBSD tree, when $MPORTS names one (otherwise it says how to get it and skips).
  ['realtree.ts', []],
  // adopt on that tree, when $PORTSYNC_REAL_TREE (or $MPORTS) names one.
  ['adopt.ts', []],
  // Dispatch through a BullMQ queue and the scale simulation (40 agents); skips, saying why, without redis-server.
  ['distributed.ts', []],
];
let failed = 0;
for (const [file, args] of benches) {
  console.log(`\n=== bench/${file} ${args.join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, file), ...args], { stdio: 'inherit' });
  console.log(
    `=== bench/${file}: ${r.status === 0 ? 'done' : `FAILED (exit ${r.status})`} in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
