/**
 * Does the agent's ports tree match the tree the coordinator planned from? A build from another
 * tree would be recorded under a key it was not built from, so a job is refused on a mismatch.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { computeFileCRC, computePortCRC } from '../fingerprint/portCrc.js';
import { TreeMismatchError } from './errors.js';
import type { BuildJob } from './job.js';

const run = promisify(execFile);

/** Throws TreeMismatchError naming what differs. */
export async function checkTree(job: Pick<BuildJob, 'origin' | 'dir' | 'tree'>, tree: string): Promise<void> {
  const mismatch = (detail: string) => new TreeMismatchError(job.origin, tree, detail);
  if (job.tree.kind === 'commit') {
    let head: string;
    try {
      head = (await run('git', ['-C', tree, 'rev-parse', 'HEAD'])).stdout.trim();
    } catch (e) {
      throw mismatch(
        `the job is for commit ${job.tree.commit}, and this tree is not a git work tree (${(e as Error).message.split('\n')[0]})`,
      );
    }
    if (head !== job.tree.commit) throw mismatch(`the job is for commit ${job.tree.commit}, this tree is at ${head}`);
    return;
  }
  let crc: string;
  try {
    crc = await computePortCRC(join(tree, job.dir));
  } catch (e) {
    throw mismatch(`${job.dir} cannot be read here (${(e as Error).message})`);
  }
  if (crc !== job.tree.portCrc) throw mismatch(`${job.dir} has CRC ${crc} here, ${job.tree.portCrc} on the coordinator`);
  for (const [rel, want] of Object.entries(job.tree.files)) {
    // Files outside the tree (a make profile's, @profile/…) are the coordinator's business: not checked here.
    if (rel.startsWith('@') || rel.startsWith('/') || rel.split('/').includes('..')) continue;
    let got: string;
    try {
      got = computeFileCRC(join(tree, rel));
    } catch {
      throw mismatch(`${rel} is missing here`);
    }
    if (got !== want) throw mismatch(`${rel} has CRC ${got} here, ${want} on the coordinator`);
  }
}
