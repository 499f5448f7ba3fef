// The thread of StatThread (statRecords.ts): checks the records of each job it is sent and
// answers with what changed. Loads the TypeScript source through tsx here; dist/ has a compiled-form
// replacement (scripts/build.mjs).
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';
register();
const { serveStatJobs } = await import('./statRecords.ts');
serveStatJobs(parentPort);
