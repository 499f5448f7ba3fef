/**
 * The schedule alone (src/builder/schedule.ts): plain graphs, no tree, no make, no database.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { BuildSchedule, NO_EDGES, type ScheduleGraph } from '../src/builder/schedule.js';

/** A graph from `port: [its dependencies]` (a port named only as a dependency has none). */
function graph(edges: Record<string, string[]>): ScheduleGraph {
  const deps = new Map<string, string[]>();
  const rdeps = new Map<string, string[]>();
  for (const [o, ds] of Object.entries(edges)) {
    deps.set(o, ds);
    for (const d of ds) rdeps.set(d, [...(rdeps.get(d) ?? []), o]);
  }
  return { depsOf: (o) => deps.get(o) ?? [], dependentsOf: (o) => rdeps.get(o) ?? [] };
}

/** Takes every ready port, in the order the schedule hands them out. */
function drain(s: BuildSchedule): string[] {
  const out: string[] = [];
  for (let o = s.next(); o !== undefined; o = s.next()) out.push(o);
  return out;
}

test('a port is ready only once every dependency in the work set succeeded; dependencies outside it do not count', () => {
  // c needs a and b; b needs x, which is up to date (not in the work set).
  const s = new BuildSchedule(graph({ c: ['a', 'b'], b: ['x'], a: [] }), ['a', 'b', 'c'], new Map());
  assert.deepEqual(drain(s), ['a', 'b']);
  assert.equal(s.running, 2);
  assert.equal(s.stateOf('c'), 'waiting');
  assert.deepEqual(s.succeeded('a'), [], 'c still waits for b');
  assert.equal(s.next(), undefined);
  assert.deepEqual(s.succeeded('b'), ['c']);
  assert.equal(s.next(), 'c');
  assert.deepEqual(s.succeeded('c'), []);
  assert.equal(s.running, 0);
  assert.deepEqual(s.notStarted(), []);
});

test('the ready port with most ports waiting on it comes first, ties by origin', () => {
  const priority = new Map([
    ['lib/few', 1],
    ['lib/many', 5],
    ['lib/none-b', 0],
    ['lib/none-a', 0],
  ]);
  const s = new BuildSchedule(graph({}), ['lib/none-b', 'lib/few', 'lib/none-a', 'lib/many'], priority);
  assert.deepEqual(drain(s), ['lib/many', 'lib/few', 'lib/none-a', 'lib/none-b']);
});

test('ports that become ready later still go by priority, ahead of ports ready before them', () => {
  // top needs mid; mid needs base; side needs nothing. Once base is done, mid (2 waiting) goes before side (0).
  const priority = new Map([
    ['base', 3],
    ['mid', 2],
    ['side', 0],
    ['top', 0],
  ]);
  const s = new BuildSchedule(graph({ top: ['mid'], mid: ['base'], base: [], side: [] }), ['base', 'mid', 'side', 'top'], priority);
  assert.equal(s.next(), 'base');
  assert.deepEqual(s.succeeded('base'), ['mid']);
  assert.equal(s.next(), 'mid', 'mid has ports waiting on it: before side');
  assert.equal(s.next(), 'side');
});

test('a failure blocks every dependent that has not started, through ports outside the work set too, and nothing else', () => {
  // lib fails. app needs lib directly; tool needs it through wrap (up to date, outside the work set); deep needs app.
  // other needs nothing and is unaffected.
  const g = graph({ app: ['lib'], wrap: ['lib'], tool: ['wrap'], deep: ['app'], lib: [], other: [] });
  const s = new BuildSchedule(g, ['lib', 'app', 'tool', 'deep', 'other'], new Map([['lib', 3]]));
  assert.deepEqual(drain(s), ['lib', 'other', 'tool'], 'tool does not wait on lib: wrap is not being built');
  const blocked = s.failed('lib');
  assert.deepEqual([...blocked].sort(), ['app', 'deep']);
  assert.equal(s.stateOf('tool'), 'running', 'a running port is not blocked: it finishes on its own');
  assert.equal(s.stateOf('app'), 'blocked');
  assert.equal(s.stateOf('deep'), 'blocked');
  assert.equal(s.stateOf('other'), 'running');
  assert.equal(s.next(), undefined);
  assert.deepEqual(s.succeeded('other'), []);
  assert.deepEqual(s.succeeded('tool'), []);
  assert.deepEqual(s.notStarted(), [], 'blocked ports are finished, not left unstarted');
});

test('a ready port that gets blocked before it starts is never handed out', () => {
  // a and b are ready; c needs a (through x, outside the work set) and is ready at once.
  const s = new BuildSchedule(graph({ x: ['a'], c: ['x'], a: [] }), ['a', 'c'], new Map([['a', 1]]));
  assert.equal(s.next(), 'a');
  assert.deepEqual(s.failed('a'), ['c']);
  assert.equal(s.next(), undefined);
  assert.equal(s.ready, 0);
});

test('a blocked port is said once even when two of its dependencies fail', () => {
  const s = new BuildSchedule(graph({ app: ['a', 'b'], a: [], b: [] }), ['a', 'b', 'app'], new Map());
  assert.deepEqual(drain(s), ['a', 'b']);
  assert.deepEqual(s.failed('a'), ['app']);
  assert.deepEqual(s.failed('b'), []);
});

test('without edges (a fetch-only pass) every port is ready at once; a failure blocks nothing', () => {
  const s = new BuildSchedule(NO_EDGES, ['b', 'a'], new Map());
  assert.equal(s.ready, 2);
  assert.equal(s.next(), 'a');
  assert.deepEqual(s.failed('a'), []);
  assert.equal(s.next(), 'b');
});

test('a stopped pass leaves the ports it never started, ready or waiting', () => {
  const s = new BuildSchedule(graph({ b: ['a'], a: [], c: [] }), ['a', 'b', 'c'], new Map());
  assert.equal(s.next(), 'a');
  assert.deepEqual(s.notStarted().sort(), ['b', 'c']);
});

test('finishing a port that is not running is an internal error, not a silent miscount', () => {
  const s = new BuildSchedule(graph({ b: ['a'], a: [] }), ['a', 'b'], new Map());
  assert.throws(() => s.succeeded('b'), /internal: b finished while waiting/);
  assert.throws(() => s.failed('zzz'), /internal: zzz finished while not in the schedule/);
});
