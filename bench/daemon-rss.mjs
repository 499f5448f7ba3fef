// The memory of a daemon after its passes, measured in a process of its own (bench/realtree.ts):
// the compiled portsync (dist/, as `portsync watch` runs it) makes the passes the daemon makes
// — the first one reading everything, then no-change passes told that nothing changed — over one
// database connection, and prints its RSS as JSON. The benchmark process itself holds far more
// (its own full plans, the seeding), so its RSS is not the daemon's.
//
//   node bench/daemon-rss.mjs BUILDS.YAML [PASSES]
import { FailSafeBuildDB } from '../dist/builddb/failsafe.js';
import { LineProgress } from '../dist/builder/progress.js';
import { loadDesiredState } from '../dist/config/load.js';
import { deferCacheSaves, saveScanCaches } from '../dist/ports/scanner.js';
import { reconcilePass } from '../dist/reconcile/pass.js';
import { collectGarbage } from '../dist/server/memory.js';

const [config, count = '5'] = process.argv.slice(2);
const state = await loadDesiredState(config);
deferCacheSaves();
const db = await FailSafeBuildDB.open(state.paths.database, {}, (l) => console.error(l));
let built = 0;
for (let i = 0; i < Number(count); i++) {
  const r = await reconcilePass(state, {
    trigger: 'bench',
    progress: new LineProgress(() => {}),
    log: () => {},
    db,
    ...(i ? { changed: new Set() } : {}),
  });
  saveScanCaches();
  built += r.stats.success + r.stats.failed;
  collectGarbage(); // (as the daemon does when it goes idle)
}
process.stdout.write(`${JSON.stringify({ rssMb: process.memoryUsage().rss / 2 ** 20, built })}\n`);
await db.close();
