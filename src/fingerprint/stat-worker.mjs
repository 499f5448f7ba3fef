// The worker thread of changedSinceInParallel (statRecords.ts): checks the records it is given
// and answers with what changed. Loads the TypeScript source through tsx here; dist/ has a
// compiled-form replacement (scripts/build.mjs).
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';
register();
const { changedSince } = await import('./statRecords.ts');
parentPort.postMessage(changedSince(workerData));
