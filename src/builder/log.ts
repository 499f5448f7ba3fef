/** A build log being written: a header, a banner per phase, the result (where logs are: logFiles.ts). */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const stamp = (d = new Date()) => d.toISOString();
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

/** A build log opened for one build; `fd` is handed to the environment so make writes straight into it. */
export class BuildLog {
  readonly fd: number;
  constructor(readonly path: string) {
    mkdirSync(join(path, '..'), { recursive: true });
    this.fd = openSync(path, 'w+');
  }
  line(text: string): void {
    writeSync(this.fd, text.endsWith('\n') ? text : `${text}\n`);
  }
  header(fields: Record<string, string>): void {
    this.line('=== portsync build log ===');
    for (const [k, v] of Object.entries(fields)) this.line(`${k.padEnd(10)} ${v}`);
    this.line(`started    ${stamp()}`);
  }
  phaseStart(phase: string): void {
    this.line(`\n=== ${phase} ${'='.repeat(Math.max(3, 60 - phase.length))}\n=== ${phase}: started ${stamp()}`);
  }
  phaseEnd(phase: string, exitCode: number | null, durationMs: number, note = ''): void {
    this.line(
      `=== ${phase}: ${exitCode === 0 ? 'ok' : `FAILED (exit ${exitCode ?? 'killed'})`} in ${seconds(durationMs)}${note ? ` — ${note}` : ''}`,
    );
  }
  /** The last `bytes` of what was written so far (the log is opened for reading too). */
  tail(bytes = 4096): string {
    const size = fstatSync(this.fd).size;
    const n = Math.min(bytes, size);
    const buf = Buffer.alloc(n);
    readSync(this.fd, buf, 0, n, size - n);
    return buf.toString('utf8');
  }
  close(result: string, durationMs: number): void {
    this.line(`\n=== result: ${result} in ${seconds(durationMs)} (finished ${stamp()})`);
    closeSync(this.fd);
  }
}
