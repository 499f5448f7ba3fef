/** Dependency cycles: strongly connected components (Tarjan, iterative: trees are deep). */
import type { PortGraph } from './graph.js';

/**
 * Every cycle of the graph, each as the ports on it in dependency order
 * (`[a, b, c]` means a needs b, b needs c, c needs a). One cycle is named per
 * strongly connected component; every member of the component is in `members`.
 */
export interface Cycle {
  path: string[];
  members: string[];
}

export function findCycles(g: PortGraph): Cycle[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: Cycle[] = [];
  let next = 0;
  const origins = [...g.nodes.keys()].sort();
  for (const start of origins) {
    if (index.has(start)) continue;
    const work: { v: string; it: Iterator<string> }[] = [];
    const visit = (v: string) => {
      index.set(v, next);
      low.set(v, next);
      next++;
      stack.push(v);
      onStack.add(v);
      work.push({ v, it: [...g.node(v).deps.keys()].sort()[Symbol.iterator]() });
    };
    visit(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      const step = top.it.next();
      if (!step.done) {
        const w = step.value;
        if (!index.has(w)) visit(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const members: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          members.push(w);
        } while (w !== top.v);
        const selfLoop = members.length === 1 && g.node(top.v).deps.has(top.v);
        if (members.length > 1 || selfLoop) {
          members.sort();
          cycles.push({ path: cyclePath(g, members), members });
        }
      }
    }
  }
  return cycles.sort((a, b) => (a.path[0]! < b.path[0]! ? -1 : 1));
}

/** The shortest cycle through the component's first member, staying inside the component. */
function cyclePath(g: PortGraph, members: string[]): string[] {
  const inside = new Set(members);
  const start = members[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of [...g.node(v).deps.keys()].sort()) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return members;
}

export function formatCycle(c: Cycle): string {
  return [...c.path, c.path[0]].join(' -> ');
}
