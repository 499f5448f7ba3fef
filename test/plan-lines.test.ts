/**
 * A printed plan's port lines (carried from a kept plan into the next one): found in the text,
 * read only when asked, and printed again as the very bytes JSON.stringify would make.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlanLine, planLines, renderPlanJson, type PlanJson, type PlanPortJson } from '../src/reconcile/result-json.js';

const printed = (plan: PlanJson) => Buffer.from(`${JSON.stringify(plan, null, 2)}\n`);

function samplePlan(): PlanJson {
  const ports: PlanPortJson[] = [
    { origin: 'devel/a', pkgname: 'a-1.0', action: 'skip', reasons: [], version: '1.0', pkgfile: 'a-1.0.pkg', buildKey: 'k1', crc: 'c1' },
    {
      origin: 'devel/b',
      pkgname: 'b-2',
      action: 'pending',
      reasons: [{ kind: 'pending', detail: "rebuilds only if devel/a's package changes", items: ['devel/a'] }],
      version: '2',
      pkgfile: 'b-2.pkg',
      waitingOn: ['devel/a'],
      crc: 'c2',
    },
    {
      origin: 'misc/ü',
      pkgname: 'ü-1 — "quoted", {braced}\n    }',
      action: 'blocked',
      reasons: [{ kind: 'dependency-blocked', detail: 'dependency x cannot be built', items: ['x'], root: 'x: a\nb' }],
      version: '1',
      pkgfile: null,
      suspended: true,
    },
    {
      origin: 'misc/ign',
      pkgname: 'ign-1',
      action: 'ignored',
      reasons: [{ kind: 'ignored', detail: 'broken' }],
      version: '1',
      pkgfile: 'ign-1.pkg',
    },
    // A package to prune comes after the ports: not a port line.
    {
      origin: null,
      pkgname: 'old-1',
      action: 'prune',
      reasons: [{ kind: 'orphan', detail: 'no port' }],
      version: '',
      pkgfile: 'old-1.pkg',
    },
  ];
  return {
    configWarnings: ['a "warning" with\na newline'],
    ports,
    summary: { total: 4, build: 0, skip: 1, pending: 1, ignored: 1, blocked: 1, prune: 1 },
    cascade: 'output',
    problems: ['    {\n'],
    warnings: [{ origin: 'devel/a', lines: ['w'] }],
  };
}

test('the port lines of a printed plan are found, with their origin and action, and read as they were', () => {
  const plan = samplePlan();
  const text = printed(plan);
  const lines = planLines(text)!;
  assert.deepEqual(
    lines.map((l) => [l.origin, l.action]),
    plan.ports.slice(0, 4).map((p) => [p.origin, p.action]),
    'every port line, in order; the prune line is not a port',
  );
  // The build key read first, alone (what a kept plan's decisions are compared by), then the rest.
  planLines(text)!.forEach((l, i) => assert.equal(l.buildKey, plan.ports[i]!.buildKey, 'the build key read alone'));
  lines.forEach((l, i) => {
    const p = plan.ports[i]!;
    assert.equal(l.pkgname, p.pkgname);
    assert.deepEqual(l.reasons, p.reasons);
    assert.equal(l.pkgfile, p.pkgfile);
    assert.equal(l.buildKey, p.buildKey);
    assert.deepEqual(l.waitingOn, p.waitingOn);
    assert.equal(l.suspended, p.suspended);
    assert.deepEqual(JSON.parse(JSON.stringify(l)), p, 'its JSON is the line');
  });
  assert.equal(planLines(Buffer.from('{"not": "a plan"}')), undefined);
  assert.deepEqual(planLines(printed({ ...plan, ports: [] })), [], 'a plan of no ports');
});

test('a plan that carries lines of a kept plan is printed as JSON.stringify prints it, the lines copied as they were', () => {
  const kept = samplePlan();
  const lines = planLines(printed(kept))!;
  // The next plan: some lines carried, others decided anew (another object, another text), one more port.
  const fresh: PlanPortJson = {
    origin: 'devel/c',
    pkgname: 'c-3',
    action: 'build',
    reasons: [{ kind: 'new', detail: 'never built' }],
    version: '3',
    pkgfile: 'c-3.pkg',
  };
  const anewB: PlanPortJson = { ...kept.ports[1]!, action: 'build', reasons: [{ kind: 'port-changed', detail: 'Makefile changed' }] };
  for (const ports of [
    [lines[0]!, anewB, lines[2]!, lines[3]!, fresh, kept.ports[4]!],
    [fresh, lines[0]!],
    [lines[2]!],
    [lines[0]!, lines[3]!, lines[2]!],
  ] as PlanPortJson[][]) {
    // (Strings that look like what the renderer puts in the lines' place, before and after the ports.)
    const plan: PlanJson = { ...kept, ports, configWarnings: ['ünïcode', '\u0000carried'], problems: ['\u0000carried'] };
    const plain: PlanJson = JSON.parse(JSON.stringify(plan)) as PlanJson;
    assert.ok(ports.some((p) => p instanceof PlanLine));
    const parts = renderPlanJson(plan);
    assert.equal(Buffer.concat(parts).toString(), printed(plain).toString());
    // The carried lines are parts of the kept text itself (not copied), lines that follow each other there in one part.
    const keptText = (ports.find((p) => p instanceof PlanLine) as PlanLine).text;
    const fromKept = parts.filter(
      (b) =>
        b.buffer === keptText.buffer &&
        b.byteOffset >= keptText.byteOffset &&
        b.byteOffset + b.length <= keptText.byteOffset + keptText.length,
    );
    assert.ok(fromKept.length > 0, 'a carried line is a view of the kept text');
    if (ports[0] === lines[0] && ports[2] === lines[2] && ports[3] === lines[3])
      assert.equal(fromKept.length, 2, 'lines 2 and 3, carried one after the other, are one part');
  }
  // Without carried lines it is JSON.stringify itself.
  assert.equal(Buffer.concat(renderPlanJson(kept)).toString(), printed(kept).toString());
});
