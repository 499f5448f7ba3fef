/**
 * Summary lists after a pass, like dsynth's, in the logs directory: 00_last_results.log (every
 * port and what happened to it), 01_success_list.log, 02_failure_list.log, 03_ignore_list.log,
 * 04_skipped_list.log (up to date, blocked or interrupted), 05_up_to_date.log (every port found up
 * to date, one `<origin>@<version> (CRC match, skipped)` line each: the terminal shows the first
 * few), and summary.json for web pages.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PortOutcome, PortStatus } from './outcomes.js';

const LISTS: [string, PortStatus[]][] = [
  ['01_success_list.log', ['success']],
  ['02_failure_list.log', ['failed']],
  ['03_ignore_list.log', ['ignored']],
  ['04_skipped_list.log', ['skipped', 'blocked', 'interrupted']],
];

/** The up-to-date list's file, in the logs directory. */
export const UP_TO_DATE_LIST = '05_up_to_date.log';

/** How an up-to-date port is said, on the terminal and in UP_TO_DATE_LIST. */
export const upToDateLine = (p: { origin: string; version: string }) => `${p.origin}@${p.version} (CRC match, skipped)`;

const line = (p: PortOutcome) =>
  [
    p.status.padEnd(11),
    p.origin,
    p.pkgname || '-',
    p.status === 'success' ? `${((p.durationMs ?? 0) / 1000).toFixed(1)}s` : (p.error ?? p.reason) || '-',
  ].join('\t');

/** Writes each file under a temporary name first, so a reader never sees half a list. */
async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

/** Written off the main thread (a whole tree's lists are megabytes); resolves when all are in place. */
export async function writeSummaryLists(logsDir: string, runId: string, ports: readonly PortOutcome[], json: unknown): Promise<void> {
  await mkdir(logsDir, { recursive: true });
  const header = `# portsync run ${runId}, ${new Date().toISOString()}\n`;
  const lines = ports.map(line);
  const writes = [writeAtomic(join(logsDir, '00_last_results.log'), header + lines.join('\n') + '\n')];
  for (const [file, statuses] of LISTS) {
    const chosen = lines.filter((_, i) => statuses.includes(ports[i]!.status));
    writes.push(writeAtomic(join(logsDir, file), header + chosen.join('\n') + (chosen.length ? '\n' : '')));
  }
  const current = ports.filter((p) => p.upToDate).map(upToDateLine);
  writes.push(writeAtomic(join(logsDir, UP_TO_DATE_LIST), header + current.join('\n') + (current.length ? '\n' : '')));
  // Compact: on a whole tree this is megabytes, read by programs.
  writes.push(writeAtomic(join(logsDir, 'summary.json'), JSON.stringify(json) + '\n'));
  await Promise.all(writes);
}
