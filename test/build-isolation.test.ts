/**
 * Isolation, through the whole engine: only declared dependencies are installed, the tree is
 * read-only, and broken fixture ports fail with their phase named and nothing recorded as good.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject, rootMissing } from './helpers/project.js';

const skip = bmakeMissing() ?? rootMissing();
const BROKEN_TREE = join(REPO, 'test/fixtures/ports-broken');
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

test('undeclared dependency: a port that needs an undeclared package fails even when that package exists', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['devel/libalpha'] });
  projects.push(p);
  const first = await p.pass();
  assert.equal(first.stats.success, 1, first.lines.join('\n'));
  assert.ok(existsSync(join(p.packages, 'libalpha-1.2.0.tgz')));
  p.writeConfig({ tree: BROKEN_TREE, ports: ['devel/libalpha', 'broken/sneaky'] });
  const second = await p.pass();
  const sneaky = second.ports.find((x) => x.origin === 'broken/sneaky')!;
  assert.equal(sneaky.status, 'failed');
  assert.equal(sneaky.lastPhase, 'build');
  assert.match(readFileSync(sneaky.logPath!, 'utf8'), /alpha/);
  const [state] = await p.query("SELECT * FROM port_state WHERE origin = 'broken/sneaky' AND build_id IS NOT NULL");
  assert.equal(state, undefined, 'a failed build never records a good state');
});

test('the ports tree is read-only inside the build', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['broken/dirty'] });
  projects.push(p);
  const r = await p.pass();
  const dirty = r.ports[0]!;
  assert.equal(dirty.status, 'failed');
  assert.equal(dirty.lastPhase, 'build');
  assert.match(readFileSync(dirty.logPath!, 'utf8'), /Read-only file system/);
  assert.equal(existsSync(p.file('broken/dirty/built-here')), false);
});

test('broken fixtures: bad patch, failing build, bad checksum fail in their phase', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['broken/badpatch', 'broken/buildfail', 'broken/badsum'] });
  projects.push(p);
  const r = await p.pass();
  const phase = Object.fromEntries(r.ports.map((x) => [x.origin, `${x.status}:${x.lastPhase}`]));
  assert.equal(phase['broken/badpatch'], 'failed:patch');
  assert.equal(phase['broken/buildfail'], 'failed:build');
  assert.equal(phase['broken/badsum'], 'failed:checksum');
  assert.equal(r.status, 'failed');
});

test('a cycle and a missing dependency are named and block only what hangs on them', { skip }, async () => {
  const p = new TestProject({ tree: BROKEN_TREE, ports: ['broken/cyca', 'broken/needsghost', 'devel/libalpha'] });
  projects.push(p);
  const r = await p.pass();
  const by = Object.fromEntries(r.ports.map((x) => [x.origin, x]));
  assert.equal(by['devel/libalpha']!.status, 'success');
  assert.equal(by['broken/cyca']!.status, 'blocked');
  assert.equal(by['broken/cycb']!.status, 'blocked');
  assert.match(by['broken/cyca']!.reason, /cycle: in a dependency cycle: broken\/cyca -> broken\/cycb -> broken\/cyca/);
  assert.equal(by['broken/needsghost']!.status, 'blocked');
  assert.ok(r.plan.problems.some((x) => /no such port: .*ghost.*needed by broken\/needsghost/.test(x)), r.plan.problems.join('\n'));
});
