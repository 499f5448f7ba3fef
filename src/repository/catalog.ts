/**
 * The catalog step (`repository.catalogCommand`): the operator's command, run in the staging copy
 * before it is published — `pkg repo .` on FreeBSD-family systems (with `rsa:KEY` or
 * `signing_command: …` to sign, as poudriere does), the example framework's index script here.
 * It runs with portsync's environment (a signing command may need an agent socket or a token),
 * plus where the staging copy is. A failure, a kill or a timeout is a CatalogCommandError: the
 * pass then does not publish.
 */
import { spawn } from 'node:child_process';
import type { RepositoryConfig } from '../config/types.js';
import { CatalogCommandError } from './errors.js';

/** Output kept for the error message: the end of it is what explains a failure. */
const TAIL_BYTES = 8192;

export interface CatalogRun {
  command: string;
  durationMs: number;
}

export async function runCatalogCommand(
  repository: RepositoryConfig & { catalogCommand: string },
  stagingDir: string,
  published: string | undefined,
): Promise<CatalogRun> {
  const command = repository.catalogCommand;
  const t0 = performance.now();
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: stagingDir,
    detached: true, // its own process group: a timeout kills whatever it started too
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORTSYNC_REPOSITORY: stagingDir,
      PORTSYNC_REPOSITORY_NAME: repository.name,
      ...(published ? { PORTSYNC_PUBLISHED: published } : {}),
    },
  });
  let stdout = '';
  let stderr = '';
  const keep = (acc: string, chunk: Buffer) => (acc + chunk.toString('utf8')).slice(-TAIL_BYTES);
  child.stdout!.on('data', (c: Buffer) => (stdout = keep(stdout, c)));
  child.stderr!.on('data', (c: Buffer) => (stderr = keep(stderr, c)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, repository.catalogTimeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (e) => {
      stderr = keep(stderr, Buffer.from(e.message));
      resolve({ code: 127, signal: null });
    });
    child.once('close', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);
  const tail = stderr.trim() ? stderr : stdout;
  if (timedOut) throw new CatalogCommandError(command, null, 'SIGKILL', tail, repository.catalogTimeoutMs);
  if (code !== 0) throw new CatalogCommandError(command, code, signal, tail);
  return { command, durationMs: Math.round(performance.now() - t0) };
}
