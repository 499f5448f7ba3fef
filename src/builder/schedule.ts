/**
 * The schedule of a pass's builds, and nothing else: which ports are ready, which run, which are
 * done or blocked. No I/O, no decisions about whether a port must be built: the scheduler tells
 * it what happened (started, succeeded, failed) and it answers what became ready or blocked.
 *
 * A port is ready once every dependency of it in the work set succeeded (a port whose
 * dependencies are outside the work set is ready at once); the ready port with the most ports
 * waiting on it comes first, ties by origin (ReadyQueue). A failure blocks every port that
 * depends on it, directly or not, that has not started yet.
 */
import { ReadyQueue } from '../graph/order.js';
import type { PortGraph } from '../graph/graph.js';

/** What the schedule needs of the graph: direct edges, both ways. */
export interface ScheduleGraph {
  /** Who the port needs directly. */
  depsOf(origin: string): Iterable<string>;
  /** Who needs the port directly. */
  dependentsOf(origin: string): Iterable<string>;
}

/** A PortGraph as a ScheduleGraph. */
export const scheduleGraph = (g: PortGraph): ScheduleGraph => ({
  depsOf: (o) => g.node(o).deps.keys(),
  dependentsOf: (o) => g.node(o).rdeps,
});

/** A graph without edges: every port ready at once (fetch-only passes). */
export const NO_EDGES: ScheduleGraph = { depsOf: () => [], dependentsOf: () => [] };

export type ScheduleState = 'waiting' | 'ready' | 'running' | 'succeeded' | 'failed' | 'blocked';

export class BuildSchedule {
  private readonly state = new Map<string, ScheduleState>();
  /** Dependencies in the work set not yet succeeded, per waiting port. */
  private readonly pending = new Map<string, number>();
  private readonly queue: ReadyQueue;
  private runningCount = 0;

  constructor(
    private readonly graph: ScheduleGraph,
    work: Iterable<string>,
    /** Ports waiting on each port (waitingCounts): the higher, the sooner. */
    priority: ReadonlyMap<string, number>,
  ) {
    this.queue = new ReadyQueue(priority);
    const ports = [...work];
    for (const o of ports) this.state.set(o, 'waiting');
    for (const o of ports) {
      let n = 0;
      for (const d of graph.depsOf(o)) if (this.state.has(d)) n++;
      this.pending.set(o, n);
      if (n === 0) this.makeReady(o);
    }
  }

  /** Ports ready to start. */
  get ready(): number {
    return this.queue.size;
  }

  /** Ports started and not finished. */
  get running(): number {
    return this.runningCount;
  }

  stateOf(origin: string): ScheduleState | undefined {
    return this.state.get(origin);
  }

  /** The most-waited-for ready port, now counted as running; undefined when none is ready. */
  next(): string | undefined {
    for (let o = this.queue.pop(); o !== undefined; o = this.queue.pop()) {
      if (this.state.get(o) !== 'ready') continue; // blocked while it waited
      this.state.set(o, 'running');
      this.runningCount++;
      return o;
    }
    return undefined;
  }

  /** The port is done (built, or found not to need a build): the ports that became ready, in the order they did. */
  succeeded(origin: string): string[] {
    this.finish(origin, 'succeeded');
    const ready: string[] = [];
    for (const r of this.graph.dependentsOf(origin)) {
      if (this.state.get(r) !== 'waiting') continue;
      const left = this.pending.get(r)! - 1;
      this.pending.set(r, left);
      if (left === 0) {
        this.makeReady(r);
        ready.push(r);
      }
    }
    return ready;
  }

  /**
   * The port failed (or cannot be built): every port depending on it, directly or through ports
   * outside the work set, that has not started is blocked. Returns them, nearest first along
   * each path.
   */
  failed(origin: string): string[] {
    this.finish(origin, 'failed');
    const blocked: string[] = [];
    const seen = new Set<string>([origin]);
    const stack = [origin];
    while (stack.length) {
      for (const r of this.graph.dependentsOf(stack.pop()!)) {
        if (seen.has(r)) continue;
        seen.add(r);
        stack.push(r);
        const s = this.state.get(r);
        if (s === 'waiting' || s === 'ready') {
          this.state.set(r, 'blocked');
          blocked.push(r);
        }
      }
    }
    return blocked;
  }

  /** Ports never started nor blocked (a pass stopped early leaves them). */
  notStarted(): string[] {
    return [...this.state].filter(([, s]) => s === 'waiting' || s === 'ready').map(([o]) => o);
  }

  private makeReady(origin: string): void {
    this.state.set(origin, 'ready');
    this.queue.push(origin);
  }

  private finish(origin: string, to: 'succeeded' | 'failed'): void {
    const s = this.state.get(origin);
    if (s !== 'running') throw new Error(`internal: ${origin} finished while ${s ?? 'not in the schedule'}`);
    this.state.set(origin, to);
    this.runningCount--;
  }
}
