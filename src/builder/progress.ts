/**
 * Progress while building: on a terminal, a live bar with each worker's port and phase
 * (cli-progress); otherwise plain timestamped lines, one per event, for logs and CI.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `slots`: builds at once; `where`: where they run, as the executor says it ("with 2 workers", "on the agents of queue …"). */
  start(total: number, slots: number, where: string): void;
  portStarted(slot: number, origin: string): void;
  phase(slot: number, origin: string, phase: string): void;
  portFinished(slot: number, origin: string, status: string, detail?: string): void;
  /** A line that must be printed whatever the mode (e.g. the CRC-match skips). */
  line(text: string): void;
  stop(): void;
}

const ts = () => new Date().toISOString().slice(11, 23);

export class LineProgress implements Progress {
  private done = 0;
  private total = 0;
  constructor(private readonly write: (s: string) => void) {}
  start(total: number, _slots: number, where: string): void {
    this.total = total;
    this.write(`[${ts()}] building ${total} port${total === 1 ? '' : 's'} ${where}`);
  }
  portStarted(slot: number, origin: string): void {
    this.write(`[${ts()}] [${slot}] start ${origin}`);
  }
  phase(slot: number, origin: string, phase: string): void {
    this.write(`[${ts()}] [${slot}] ${origin}: ${phase}`);
  }
  /** `slot` is -1 for a port that never reached a worker (blocked by a failed dependency). */
  portFinished(slot: number, origin: string, status: string, detail?: string): void {
    this.done++;
    this.write(`[${ts()}] ${slot >= 0 ? `[${slot}] ` : ''}${status} ${origin}${detail ? ` (${detail})` : ''} [${this.done}/${this.total}]`);
  }
  line(text: string): void {
    this.write(text);
  }
  stop(): void {}
}

export class BarProgress implements Progress {
  private multi = new cliProgress.MultiBar(
    { clearOnComplete: true, hideCursor: true, format: '{bar} {value}/{total} {label}' },
    cliProgress.Presets.shades_classic,
  );
  private overall?: cliProgress.SingleBar;
  private slots: cliProgress.SingleBar[] = [];
  start(total: number): void {
    this.overall = this.multi.create(total, 0, { label: 'ports' });
  }
  portStarted(slot: number, origin: string): void {
    // A slot's line appears when it is first used: a distributed pass has hundreds of slots, most never used at once.
    for (let i = this.slots.length; i <= slot; i++)
      this.slots.push(this.multi.create(1, 0, { label: `[${i}] idle` }, { format: '  {label}' }));
    this.slots[slot]?.update(0, { label: `[${slot}] ${origin}` });
  }
  phase(slot: number, origin: string, phase: string): void {
    this.slots[slot]?.update(0, { label: `[${slot}] ${origin}: ${phase}` });
  }
  portFinished(slot: number, origin: string, status: string, detail?: string): void {
    this.overall?.increment();
    this.multi.log(`[${ts()}] ${status} ${origin}${detail ? ` (${detail})` : ''}\n`);
    this.slots[slot]?.update(0, { label: `[${slot}] idle` });
  }
  line(text: string): void {
    this.multi.log(`${text}\n`);
  }
  stop(): void {
    this.multi.stop();
  }
}

/** Tells every progress in `list` the same thing. */
export class TeeProgress implements Progress {
  constructor(private readonly list: readonly Progress[]) {}
  start(total: number, slots: number, where: string): void {
    for (const p of this.list) p.start(total, slots, where);
  }
  portStarted(slot: number, origin: string): void {
    for (const p of this.list) p.portStarted(slot, origin);
  }
  phase(slot: number, origin: string, phase: string): void {
    for (const p of this.list) p.phase(slot, origin, phase);
  }
  portFinished(slot: number, origin: string, status: string, detail?: string): void {
    for (const p of this.list) p.portFinished(slot, origin, status, detail);
  }
  line(text: string): void {
    for (const p of this.list) p.line(text);
  }
  stop(): void {
    for (const p of this.list) p.stop();
  }
}

export function progressFor(stream: NodeJS.WriteStream, write: (s: string) => void): Progress {
  return stream.isTTY ? new BarProgress() : new LineProgress(write);
}
