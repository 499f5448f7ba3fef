/**
 * The static HTML report every recording pass writes next to its logs, like synth's: one
 * self-contained file (opens from file://) with the run's timeline, time per phase, failures
 * with their log tails, its builds and every port's outcome.
 *
 *   <logs>/report.html                 the latest pass
 *   <logs>/reports/<runId>.html        one per pass, the newest KEEP_REPORTS kept
 */
import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildDB } from '../builddb/db.js';
import { shortId } from '../builddb/ids.js';
import { reportHtml } from './page.js';
import { runDetail, type PortLine } from './runDetail.js';

/** Per-run reports kept (each carries the charting library: a few hundred kB). */
export const KEEP_REPORTS = 50;

export function reportPaths(logsDir: string, runId: string): { latest: string; run: string } {
  return { latest: join(logsDir, 'report.html'), run: join(logsDir, 'reports', `${runId}.html`) };
}

/** Writes a file whole or not at all (a reader never sees half a report). */
async function writeWhole(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Writes the run's report; returns its paths. Throws when the run is not in the database. */
export async function writeRunReport(
  db: BuildDB,
  logsDir: string,
  runId: string,
  ports?: readonly PortLine[],
): Promise<{ latest: string; run: string }> {
  const detail = await runDetail(db, runId);
  if (!detail) throw new Error(`run ${runId} is not in the build database`);
  const html = reportHtml(`portsync run ${shortId(runId)} (${detail.run.status})`, {
    ...detail,
    ...(ports ? { ports } : {}),
    generatedAt: new Date().toISOString(),
  });
  const paths = reportPaths(logsDir, runId);
  await mkdir(join(logsDir, 'reports'), { recursive: true });
  await writeWhole(paths.run, html);
  await writeWhole(paths.latest, html);
  await pruneReports(join(logsDir, 'reports'), KEEP_REPORTS);
  return paths;
}

async function pruneReports(dir: string, keep: number): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.html'));
  if (files.length <= keep) return;
  const dated = await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })));
  dated.sort((a, b) => b.t - a.t);
  await Promise.all(dated.slice(keep).map(({ f }) => unlink(join(dir, f)).catch(() => undefined)));
}

/** A pass's report, never failing the pass: a problem is logged (no database: nothing to report from). */
export async function writePassReport(
  db: BuildDB | null,
  logsDir: string,
  runId: string,
  ports: readonly PortLine[],
  log: (line: string) => void,
): Promise<void> {
  if (!db) return;
  try {
    await writeRunReport(db, logsDir, runId, ports);
  } catch (e) {
    log(`could not write the HTML report in ${logsDir}: ${(e as Error).message}`);
  }
}
