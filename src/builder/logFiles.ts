/**
 * Where build logs are: one file per build, kept —
 *
 *   <logs>/<cat>___<name>[@flavor]/<UTC start>_<build id>.log   every build of the port
 *   <logs>/<cat>___<name>[@flavor].log -> <that dir>/<newest>    the latest build (a symlink; the
 *                                                                path logs had before, so it still works)
 *   <logs>/<cat>___<name>[@flavor].fetch.log                     the last `portsync fetch` (not a build)
 *
 * A failed build's log survives the next success; `logs.keep` logs per port stay (the newest).
 */
import { lstatSync, mkdirSync, openSync, closeSync, readSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { replaceSymlink } from '../atomicWrite.js';
import { compactUtc, namesIn } from '../fileNames.js';

/** `cat___port[@flavor]`: a port's name among the logs (dsynth's). */
export const portLogName = (origin: string): string => origin.replace('/', '___');

/** The port's directory of build logs. */
export const portLogDir = (logsDir: string, origin: string): string => join(logsDir, portLogName(origin));

/** The stable path of the port's latest build log (a link), or of its last fetch-only log. */
export function logPath(logsDir: string, origin: string, kind: 'build' | 'fetch' = 'build'): string {
  return join(logsDir, `${portLogName(origin)}${kind === 'fetch' ? '.fetch' : ''}.log`);
}

/** `20261127T091432Z_<build id>.log`: sorts by age. */
const BUILD_LOG = /^(\d{8}T\d{6}Z)_(.+)\.log$/;

export interface BuildLogFile {
  path: string;
  buildId: string;
  /** When the build started (from the name), ISO. */
  startedAt: string;
}

/**
 * The log file of a build about to start, created empty, with the port's latest link pointing at
 * it. A log from before logs were kept per build (a plain file at the latest link's path) is
 * moved into the port's directory first, named after the build id its header gives.
 */
export function startBuildLog(logsDir: string, origin: string, buildId: string, at = new Date()): string {
  const dir = portLogDir(logsDir, origin);
  mkdirSync(dir, { recursive: true });
  const link = logPath(logsDir, origin);
  keepOlderLog(link, dir);
  const name = `${compactUtc(at)}_${buildId}.log`;
  closeSync(openSync(join(dir, name), 'a'));
  replaceSymlink(link, `${portLogName(origin)}/${name}`);
  return join(dir, name);
}

/** A plain log file where the latest link goes (portsync before per-build logs): moved into the port's directory. */
function keepOlderLog(link: string, dir: string): void {
  const st = lstatSync(link, { throwIfNoEntry: false });
  if (!st || !st.isFile()) return;
  const id = headerBuildId(link) ?? 'earlier-build';
  renameSync(link, join(dir, `${compactUtc(st.mtime)}_${id}.log`));
}

/** The `build id` line of a log's header. */
function headerBuildId(file: string): string | undefined {
  const buf = Buffer.alloc(1024);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const n = readSync(fd, buf, 0, buf.length, 0);
    return /^build id\s+([0-9a-f-]{8,})$/m.exec(buf.subarray(0, n).toString('utf8'))?.[1];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The port's build logs, newest first. */
export function listBuildLogs(logsDir: string, origin: string): BuildLogFile[] {
  const dir = portLogDir(logsDir, origin);
  const out: BuildLogFile[] = [];
  for (const name of namesIn(dir)) {
    const m = BUILD_LOG.exec(name);
    if (!m) continue;
    const s = m[1]!;
    out.push({
      path: join(dir, name),
      buildId: m[2]!,
      startedAt: `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
    });
  }
  return out.sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
}

/** The origins whose logs are in `logsDir` (as their directory names: `cat___name[@flavor]`). */
export function loggedPorts(logsDir: string): string[] {
  return namesIn(logsDir)
    .filter(
      (n) =>
        n.includes('___') &&
        statSync(join(logsDir, n), { throwIfNoEntry: false })?.isDirectory() &&
        lstatSync(join(logsDir, n)).isDirectory(),
    )
    .map((n) => n.replace('___', '/'));
}

/**
 * Removes the port's logs beyond the newest `keep` (never the one the latest link points at).
 * Returns the files removed and their bytes.
 */
export function trimBuildLogs(
  logsDir: string,
  origin: string,
  keep: number,
  opts: { dryRun?: boolean } = {},
): { path: string; bytes: number }[] {
  const all = listBuildLogs(logsDir, origin);
  const latest = latestTarget(logsDir, origin);
  const removed: { path: string; bytes: number }[] = [];
  for (const f of all.slice(Math.max(1, keep))) {
    if (f.path === latest) continue;
    const bytes = statSync(f.path, { throwIfNoEntry: false })?.size ?? 0;
    if (!opts.dryRun) rmSync(f.path, { force: true });
    removed.push({ path: f.path, bytes });
  }
  return removed;
}

/** The file the port's latest link points at (absolute); the file itself when it is a plain one (a log from before per-build logs). */
export function latestTarget(logsDir: string, origin: string): string | undefined {
  const link = logPath(logsDir, origin);
  const st = lstatSync(link, { throwIfNoEntry: false });
  if (!st) return undefined;
  return st.isSymbolicLink() ? join(logsDir, readlinkSync(link)) : link;
}
