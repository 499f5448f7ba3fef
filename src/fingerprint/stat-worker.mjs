// The thread of StatThread (statRecords.ts): checks the records it is sent and answers with
// what changed. Loads the TypeScript source through tsx here; dist/ has a compiled-form
// replacement (scripts/build.mjs).
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';
register();
const { changedIn } = await import('./statRecords.ts');
parentPort.on('message', (r) => parentPort.postMessage(changedIn(r, 0, r.paths.length, () => parentPort.postMessage({ first: true }))));
