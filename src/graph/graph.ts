/**
 * The dependency graph of a desired state: the closure of the requested ports through all six
 * dependency kinds. Edges point from a port to what it needs, and keep their kinds.
 */
import { sameShape, type ScanProblem, type ScanResult } from '../ports/scanner.js';
import type { ScannedPort } from '../ports/types.js';
import type { DepKind } from '../ports/types.js';

export interface GraphNode {
  /** Canonical origin, or the origin as written when it could not be read. */
  origin: string;
  /** Present when the port was read. */
  port?: ScannedPort;
  /** Present when it could not be read (no such port, make failed, unknown flavor...). */
  problem?: ScanProblem;
  /** What it needs: dependency origin → the kinds of that dependency. */
  deps: Map<string, Set<DepKind>>;
  /** Who needs it directly. */
  rdeps: Set<string>;
}

export class PortGraph {
  readonly nodes = new Map<string, GraphNode>();
  /** The nodes builds.yaml asked for (after resolving flavors). */
  readonly roots: string[] = [];
  /**
   * Identity of the graph's structure (nodes, edges, roots): graphs that differ only in what
   * their nodes' ports say (withPorts) share it, so what depends on the structure alone (the
   * order, the cycles) is computed once per shape.
   */
  readonly shape: object;

  constructor(shape: object = {}) {
    this.shape = shape;
  }

  node(origin: string): GraphNode {
    const n = this.nodes.get(origin);
    if (!n) throw new Error(`internal: ${origin} is not in the graph`);
    return n;
  }

  /** Direct dependencies of a node. */
  depsOf(origin: string): string[] {
    return [...this.node(origin).deps.keys()];
  }

  /** Everything that (transitively) depends on the given nodes, not including them. */
  dependentsOf(origins: Iterable<string>): Set<string> {
    const out = new Set<string>();
    const stack = [...origins];
    while (stack.length) {
      for (const r of this.node(stack.pop()!).rdeps)
        if (!out.has(r)) {
          out.add(r);
          stack.push(r);
        }
    }
    for (const o of origins) out.delete(o);
    return out;
  }

  /** Everything the given nodes (transitively) depend on, not including them. */
  dependenciesOf(origins: Iterable<string>): Set<string> {
    const out = new Set<string>();
    const stack = [...origins];
    while (stack.length) {
      for (const d of this.node(stack.pop()!).deps.keys())
        if (!out.has(d)) {
          out.add(d);
          stack.push(d);
        }
    }
    return out;
  }
}

/** Builds the graph of the scanned closure of `roots` (origins as written in builds.yaml). */
export function buildGraph(roots: readonly string[], scan: ScanResult): PortGraph {
  const g = new PortGraph();
  const ensure = (origin: string): GraphNode => {
    let n = g.nodes.get(origin);
    if (!n) {
      n = { origin, deps: new Map(), rdeps: new Set() };
      g.nodes.set(origin, n);
    }
    return n;
  };
  const nodeFor = (written: string): GraphNode => {
    const canonical = scan.resolve(written);
    if (canonical !== undefined) {
      const n = ensure(canonical);
      n.port = scan.ports.get(canonical);
      return n;
    }
    const n = ensure(written);
    n.problem = scan.problems.get(written) ?? { origin: written, kind: 'no-such-port', message: `no such port: ${written}` };
    return n;
  };
  for (const port of scan.ports.values()) {
    const n = ensure(port.meta.origin);
    n.port = port;
    for (const d of port.meta.depends) {
      const dep = nodeFor(d.origin);
      if (!n.deps.has(dep.origin)) n.deps.set(dep.origin, new Set());
      n.deps.get(dep.origin)!.add(d.kind);
      dep.rdeps.add(n.origin);
    }
  }
  const seen = new Set<string>();
  for (const r of roots) {
    const n = nodeFor(r);
    if (!seen.has(n.origin)) {
      seen.add(n.origin);
      g.roots.push(n.origin);
    }
  }
  return g;
}

/**
 * The graph of `scan` made from `prev` (the graph of an earlier scan of the same roots) when only
 * what its ports say changed, not who depends on whom: unchanged nodes are the same objects, the
 * shape is shared; `prev` itself when no port changed. Undefined when the structure changed (then
 * buildGraph).
 */
export function withPorts(prev: PortGraph, prevScan: ScanResult, scan: ScanResult): PortGraph | undefined {
  if (
    scan.ports.size !== prevScan.ports.size ||
    scan.problems.size !== prevScan.problems.size ||
    scan.roots.length !== prevScan.roots.length
  )
    return undefined;
  for (let i = 0; i < scan.roots.length; i++) if (scan.roots[i] !== prevScan.roots[i]) return undefined;
  for (const [o, p] of scan.problems) {
    const q = prevScan.problems.get(o);
    if (!q || q.kind !== p.kind || q.message !== p.message) return undefined;
  }
  const changed: ScannedPort[] = [];
  for (const [o, p] of scan.ports) {
    const q = prevScan.ports.get(o);
    if (q === p) continue;
    if (!q || !sameShape(q, p)) return undefined;
    changed.push(p);
  }
  if (changed.length === 0) return prev;
  const g = new PortGraph(prev.shape);
  for (const [o, n] of prev.nodes) g.nodes.set(o, n);
  g.roots.push(...prev.roots);
  for (const p of changed) {
    const n = g.nodes.get(p.meta.origin);
    if (!n) return undefined;
    // (Its fields named, not spread: a node may keep its edges behind getters — a kept observation's.)
    g.nodes.set(n.origin, { origin: n.origin, deps: n.deps, rdeps: n.rdeps, port: p, ...(n.problem ? { problem: n.problem } : {}) });
  }
  return g;
}
