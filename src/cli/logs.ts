/**
 * `portsync logs ORIGIN [--build ID] [-f]`: prints one of the port's build logs — the latest by
 * default — and with -f keeps printing while that build runs. Exit 0, 2 when there is none.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { loadDesiredState } from '../config/load.js';
import { PortsyncError } from '../errors.js';
import { latestTarget, listBuildLogs, portLogDir } from '../builder/logFiles.js';
import { passLockHolder } from '../reconcile/passLock.js';
import { defineCommand } from './command.js';

export class NoLogError extends PortsyncError {
  constructor(
    readonly origin: string,
    readonly path: string,
    readonly buildId?: string,
  ) {
    super(
      buildId === undefined
        ? `no build log for ${origin} (looked for ${path}); it has not been built yet`
        : `no log of build ${buildId} of ${origin} in ${path}; portsync history ${origin} lists its builds (the newest logs.keep logs are kept)`,
    );
  }
}

export class AmbiguousBuildError extends PortsyncError {
  constructor(
    readonly origin: string,
    readonly part: string,
    readonly matches: readonly string[],
  ) {
    super(`${part} starts or ends the ids of ${matches.length} builds of ${origin} (${matches.join(', ')}); give more of it`);
  }
}

/** How often -f looks for more. */
const FOLLOW_POLL_MS = 200;
/** The line BuildLog.close ends every log with. */
const RESULT_LINE = /\n=== result: [^\n]*\n$/;

export const logs = defineCommand({
  name: 'logs',
  summary: "print ORIGIN's latest build log (or one build's; -f follows a running build)",
  args: [{ name: 'ORIGIN', kind: 'origin', description: 'the port: category/name or category/name@flavor' }],
  options: {
    build: {
      value: 'ID',
      kind: 'text',
      description: "that build's log: its build id (as history prints it), or enough of its start to name one",
    },
    follow: { short: 'f', description: 'keep printing as the log grows, until its build finishes' },
  },
  description: `Prints a build log of the port: every phase's output, what the build environment got (limits, tmpfs sizes) and how it ended. Every build has its own log, <paths.logs>/<category>___<name>[@flavor]/<UTC start>_<build id>.log, and <paths.logs>/<category>___<name>[@flavor].log links to the latest; the newest logs.keep (default 5) of each port are kept, so a failed build's log survives the next success. portsync history ORIGIN lists the builds and their ids.

With --follow (-f) it prints what is there, then what the build writes, until the build ends (its log's closing "=== result:" line) or no pass runs any more. Fetch-only runs (portsync fetch) write <category>___<name>.fetch.log next to the links.`,
  exits: [
    ['0', 'printed'],
    ['2', 'no such log: the port has not been built, or that build is not (or no longer) kept'],
  ],
  examples: [
    ['portsync logs devel/libalpha', 'the latest build of devel/libalpha'],
    ['portsync logs devel/libalpha --build 3e6c1f2a', 'that build (history prints the ids)'],
    ['portsync logs -f misc/help2man', 'follow the running build'],
  ],
  async run(ctx, { args, values }) {
    const origin = args[0]!;
    const state = await loadDesiredState(ctx.configFile);
    const path = values.build !== undefined ? buildLog(state.paths.logs, origin, values.build) : latestTarget(state.paths.logs, origin);
    if (!path) throw new NoLogError(origin, `${portLogDir(state.paths.logs, origin)}/`);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      throw new NoLogError(origin, path, values.build);
    }
    try {
      const done = await copyOut(fd, values.follow ? state.paths.buildBase : undefined);
      if (values.follow && done === 'no-pass')
        ctx.io.err(`portsync logs: no pass is running and ${path} has no result line: its build was stopped before it could finish`);
    } finally {
      closeSync(fd);
    }
    return 0;
  },
});

/**
 * The log of build `id`, or of the one build whose id starts or ends with it. Ids are time-ordered
 * (UUIDv7): builds of the same minute share their first characters, and differ in their last.
 */
function buildLog(logsDir: string, origin: string, id: string): string {
  const all = listBuildLogs(logsDir, origin);
  const exact = all.find((f) => f.buildId === id);
  if (exact) return exact.path;
  const matches = all.filter((f) => f.buildId.startsWith(id) || f.buildId.endsWith(id));
  if (matches.length > 1)
    throw new AmbiguousBuildError(
      origin,
      id,
      matches.map((m) => m.buildId),
    );
  if (!matches.length) throw new NoLogError(origin, `${portLogDir(logsDir, origin)}/`, id);
  return matches[0]!.path;
}

/**
 * Writes the file to stdout; following (`buildBase` given), goes on writing what is appended until
 * the build's result line, or until no pass holds the project's pass lock.
 */
async function copyOut(fd: number, buildBase: string | undefined): Promise<'end' | 'finished' | 'no-pass'> {
  const buf = Buffer.alloc(1 << 16);
  let pos = 0;
  let tail = '';
  for (;;) {
    let n: number;
    while ((n = readSync(fd, buf, 0, buf.length, pos)) > 0) {
      pos += n;
      const chunk = buf.subarray(0, n);
      await write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    }
    if (buildBase === undefined) return 'end';
    if (RESULT_LINE.test(tail)) return 'finished';
    if (!(await passLockHolder(buildBase))) {
      // The pass may have ended just after the last read: one more look before giving up.
      if ((n = readSync(fd, buf, 0, buf.length, pos)) > 0) continue;
      return 'no-pass';
    }
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
  }
}

function write(chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(chunk, (e) => (e ? reject(e) : resolve())));
}
