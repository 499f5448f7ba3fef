/** Small helpers shared by the tests that drive real processes: polling, git, the CLI. */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './project.js';

/** Polls `fn` every 100 ms until it returns something truthy; fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.org',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.org',
};

/** Runs git in `cwd` with a fixed identity; returns its trimmed output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

export const BIN = join(REPO, 'bin', 'portsync.js');

/** `portsync --config <cwd>/builds.yaml ARGS` as a child process. */
export function cli(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, '--config', join(cwd, 'builds.yaml'), ...args], { cwd, env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => res({ code, out, err }));
  });
}
