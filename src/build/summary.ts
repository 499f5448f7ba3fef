/**
 * Summary lists after a pass, like dsynth's, in the logs directory: 00_last_results.log (every
 * port and what happened to it), 01_success_list.log, 02_failure_list.log, 03_ignore_list.log,
 * 04_skipped_list.log (up to date, blocked or interrupted), and summary.json for web pages.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PortOutcome, PortStatus } from './scheduler.js';

const LISTS: [string, PortStatus[]][] = [
  ['01_success_list.log', ['success']],
  ['02_failure_list.log', ['failed']],
  ['03_ignore_list.log', ['ignored']],
  ['04_skipped_list.log', ['skipped', 'blocked', 'interrupted']],
];

const line = (p: PortOutcome) =>
  [p.status.padEnd(11), p.origin, p.pkgname || '-', p.status === 'success' ? `${((p.durationMs ?? 0) / 1000).toFixed(1)}s` : (p.error ?? p.reason) || '-'].join('\t');

/** Writes each file under a temporary name first, so a reader never sees half a list. */
function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export function writeSummaryLists(logsDir: string, runId: string, ports: readonly PortOutcome[], json: unknown): void {
  mkdirSync(logsDir, { recursive: true });
  const header = `# portsync run ${runId}, ${new Date().toISOString()}\n`;
  writeAtomic(join(logsDir, '00_last_results.log'), header + ports.map(line).join('\n') + '\n');
  for (const [file, statuses] of LISTS) {
    writeAtomic(join(logsDir, file), header + ports.filter((p) => statuses.includes(p.status)).map(line).join('\n') + '\n');
  }
  writeAtomic(join(logsDir, 'summary.json'), JSON.stringify(json, null, 2) + '\n');
}
