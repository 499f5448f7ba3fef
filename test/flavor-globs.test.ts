/**
 * Flavors in builds.yaml, read from the real example tree with bmake: a glob with `@flavor`
 * (`lang/*@py312`) selects that flavor of every port that has it and drops the ports that do
 * not; asking for a flavor does not make the port's default flavor (or what it needs) a node.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadDesiredState } from '../src/config/load.js';
import { observe } from '../src/reconcile/observe.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';

const skip = bmakeMissing();
if (skip) console.log(`flavor-globs tests skipped: ${skip}`);
const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((f) => f()));

async function nodesFor(ports: string[]) {
  const p = new TestProject({ ports, backend: 'host' });
  cleanup.push(() => p.remove());
  const obs = await observe(await loadDesiredState(p.config));
  return {
    nodes: [...obs.graph.nodes.keys()].sort(),
    problems: [...obs.scan.problems.keys()],
    emptyGlobs: obs.emptyGlobs.map((s) => s.pattern),
  };
}

test('a glob with a flavor selects that flavor of each port that has it, and nothing else', { skip }, async () => {
  assert.deepEqual(await nodesFor(['*/*@py312']), { nodes: ['lang/pyish@py312'], problems: [], emptyGlobs: [] });
  assert.deepEqual(
    await nodesFor(['lang/*@py311']),
    { nodes: ['lang/pyish'], problems: [], emptyGlobs: [] },
    'py311 is the default flavor: the plain node',
  );
  assert.deepEqual(
    await nodesFor(['*/*@py99']),
    { nodes: [], problems: [], emptyGlobs: ['*/*@py99'] },
    'no port has it: the glob matches no port',
  );
});

test('an exact flavored origin is that node alone; an unknown flavor is its problem', { skip }, async () => {
  assert.deepEqual((await nodesFor(['lang/pyish@py312'])).nodes, ['lang/pyish@py312']);
  const unknown = await nodesFor(['lang/pyish@py99']);
  assert.deepEqual(unknown.problems, ['lang/pyish@py99']);
});
