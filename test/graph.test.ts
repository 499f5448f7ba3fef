import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortGraph } from '../src/graph/graph.js';
import { findCycles, formatCycle } from '../src/graph/cycles.js';
import { buildOrder, topologicalOrder, waitingCounts } from '../src/graph/order.js';

/** A graph from "a: b c" lines (a needs b and c). */
function graphOf(spec: Record<string, string[]>): PortGraph {
  const g = new PortGraph();
  const ensure = (o: string) => {
    if (!g.nodes.has(o)) g.nodes.set(o, { origin: o, deps: new Map(), rdeps: new Set() });
    return g.nodes.get(o)!;
  };
  for (const [o, deps] of Object.entries(spec)) {
    const n = ensure(o);
    for (const d of deps) {
      n.deps.set(d, new Set(['BUILD']));
      ensure(d).rdeps.add(o);
    }
  }
  return g;
}

test('a cycle is named with every port on it, in dependency order', () => {
  const g = graphOf({ 'x/top': ['c/a'], 'c/a': ['c/b'], 'c/b': ['c/c'], 'c/c': ['c/a', 'x/leaf'], 'x/leaf': [] });
  const cycles = findCycles(g);
  assert.equal(cycles.length, 1);
  assert.deepEqual(cycles[0]!.path, ['c/a', 'c/b', 'c/c']);
  assert.equal(formatCycle(cycles[0]!), 'c/a -> c/b -> c/c -> c/a');
  assert.deepEqual(g.dependentsOf(cycles[0]!.members), new Set(['x/top']));
});

test('self-loops and several cycles', () => {
  const g = graphOf({ 's/self': ['s/self'], 'p/a': ['p/b'], 'p/b': ['p/a'], 'ok/x': [] });
  assert.deepEqual(
    findCycles(g).map((c) => c.path),
    [['p/a', 'p/b'], ['s/self']],
  );
  assert.deepEqual(findCycles(graphOf({ 'a/a': ['a/b'], 'a/b': [] })), []);
});

test('a deep chain does not overflow the stack', () => {
  const spec: Record<string, string[]> = {};
  for (let i = 0; i < 50_000; i++) spec[`c/p${i}`] = i ? [`c/p${i - 1}`] : [];
  const g = graphOf(spec);
  assert.deepEqual(findCycles(g), []);
  assert.equal(topologicalOrder(g, new Set(g.nodes.keys()))[0], 'c/p0');
});

test('order: dependencies first, the port most others wait on first', () => {
  // hub is needed by everyone; solo by nobody.
  const g = graphOf({
    'a/app1': ['l/mid', 'l/hub'],
    'a/app2': ['l/mid'],
    'a/app3': ['l/hub'],
    'l/mid': ['l/hub'],
    'l/hub': [],
    'z/solo': [],
  });
  const all = new Set(g.nodes.keys());
  const counts = waitingCounts(g, all);
  assert.equal(counts.get('l/hub'), 4);
  assert.equal(counts.get('l/mid'), 2);
  assert.equal(counts.get('z/solo'), 0);
  const order = buildOrder(g, all, counts);
  assert.deepEqual(order, ['l/hub', 'l/mid', 'a/app1', 'a/app2', 'a/app3', 'z/solo']);
  for (const [o, n] of g.nodes) for (const d of n.deps.keys()) assert.ok(order.indexOf(d) < order.indexOf(o), `${d} before ${o}`);
});

test('waiting counts are transitive and exact on a diamond', () => {
  const g = graphOf({ 'd/top': ['d/left', 'd/right'], 'd/left': ['d/base'], 'd/right': ['d/base'], 'd/base': [] });
  const counts = waitingCounts(g, new Set(g.nodes.keys()));
  assert.deepEqual(Object.fromEntries(counts), { 'd/base': 3, 'd/left': 1, 'd/right': 1, 'd/top': 0 });
  assert.deepEqual(g.dependenciesOf(['d/top']), new Set(['d/left', 'd/right', 'd/base']));
});
