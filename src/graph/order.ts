/** Build order: dependencies first, the ready set ordered by how many ports wait on each. */
import type { PortGraph } from './graph.js';

/**
 * For each node of `subset`, the number of nodes of `subset` that transitively depend on it.
 * Exact, with one bitset per node, unioned in reverse topological order.
 */
export function waitingCounts(g: PortGraph, subset: ReadonlySet<string>): Map<string, number> {
  const ids = [...subset].sort();
  const index = new Map(ids.map((o, i) => [o, i]));
  const words = (ids.length + 31) >>> 5;
  const sets = ids.map(() => new Uint32Array(words));
  // Dependents before their dependencies: reverse of a dependencies-first order.
  const order = topologicalOrder(g, subset).reverse();
  for (const o of order) {
    const i = index.get(o)!;
    const mine = sets[i]!;
    for (const r of g.node(o).rdeps) {
      const j = index.get(r);
      if (j === undefined) continue;
      const theirs = sets[j]!;
      for (let k = 0; k < words; k++) mine[k]! |= theirs[k]!;
      mine[j >>> 5]! |= 1 << (j & 31);
    }
  }
  const out = new Map<string, number>();
  ids.forEach((o, i) => out.set(o, popcount(sets[i]!)));
  return out;
}

function popcount(a: Uint32Array): number {
  let n = 0;
  for (let v of a) {
    v = v - ((v >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return n;
}

/** Dependencies-first order of `subset` (edges leaving the subset are ignored); cycles' members are left out. */
export function topologicalOrder(g: PortGraph, subset: ReadonlySet<string>): string[] {
  return buildOrder(g, subset, new Map());
}

/**
 * Dependencies-first order in which, at every step, the ready port with the most ports
 * waiting on it comes first (ties by origin): the order the scheduler prefers.
 */
export function buildOrder(g: PortGraph, subset: ReadonlySet<string>, counts = waitingCounts(g, subset)): string[] {
  const pending = new Map<string, number>();
  for (const o of subset) pending.set(o, [...g.node(o).deps.keys()].filter((d) => subset.has(d)).length);
  const ready = new ReadyQueue(counts);
  for (const o of subset) if (pending.get(o) === 0) ready.push(o);
  const out: string[] = [];
  while (ready.size) {
    const o = ready.pop()!;
    out.push(o);
    for (const r of g.node(o).rdeps) {
      if (!subset.has(r)) continue;
      const left = pending.get(r)! - 1;
      pending.set(r, left);
      if (left === 0) ready.push(r);
    }
  }
  return out;
}

/** A priority queue of ready ports: most waiting first, then by origin. */
export class ReadyQueue {
  private heap: string[] = [];
  constructor(private readonly counts: ReadonlyMap<string, number>) {}
  get size(): number {
    return this.heap.length;
  }
  private before(a: string, b: string): boolean {
    const ca = this.counts.get(a) ?? 0,
      cb = this.counts.get(b) ?? 0;
    return ca !== cb ? ca > cb : a < b;
  }
  push(o: string): void {
    const h = this.heap;
    h.push(o);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): string | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
