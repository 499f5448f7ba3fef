/**
 * `portsync validate` through the real CLI on a copy of the example tree: every origin, glob and
 * flavor of builds.yaml checked against the tree (read through the metadata cache), errors as
 * FILE:LINE:COL; `--schema-only` reads only the file; a duration without its unit is an error.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { cli } from './helpers/wait.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

function project(): TestProject {
  const p = new TestProject({ ports: ['textproc/gamma', 'math/*', 'lang/pyish@py312'], backend: 'host' });
  projects.push(p);
  return p;
}

const HEAD = ['portsTree: { path: ports }', 'make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }', 'environment: { backend: host }'];

test('validate: every origin, glob and flavor found in the tree; the tree is read through the metadata cache', { skip }, async () => {
  const p = project();
  const r = await cli(p.dir, ['validate']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  assert.match(
    r.out,
    new RegExp(
      `^${p.config.replaceAll('.', '\\.')}: valid \\(3 port selectors, tree ports: every origin, glob and flavor found; \\d+ ports in the closure\\)\\n$`,
    ),
  );
  assert.ok(
    existsSync(join(p.dir, '.portsync', 'build', 'metadata-cache.json')),
    'validate read the tree as a pass does, through the metadata cache',
  );
});

test(
  'validate: an origin, a flavor or a glob the tree lacks is FILE:LINE:COL, all at once, exit 2; --schema-only does not look',
  { skip },
  async () => {
    const p = project();
    writeFileSync(
      p.config,
      [...HEAD, 'ports:', '  - textproc/gamma', '  - "math/zz*"', '  - lang/pyish@py99', '  - misc/nosuch', ''].join('\n'),
    );
    const fast = await cli(p.dir, ['validate', '--schema-only']);
    assert.equal(fast.code, 0, fast.err);
    assert.match(fast.out, /: valid \(4 port selectors, tree ports\)\n$/);
    assert.ok(!existsSync(join(p.dir, '.portsync', 'build', 'metadata-cache.json')), '--schema-only never read the tree');
    const r = await cli(p.dir, ['validate']);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.out, '');
    assert.deepEqual(r.err.trimEnd().split('\n'), [
      `${p.config}:6:5: "math/zz*" matches no port in ports`,
      `${p.config}:7:5: lang/pyish has no flavor "py99" (its flavors are py311, py312)`,
      `${p.config}:8:5: no such port: misc/nosuch (no ${p.tree}/misc/nosuch/Makefile)`,
    ]);
  },
);

test('a duration without its unit is an error at its place, with both units it could mean; zero needs none', { skip }, async () => {
  const p = project();
  writeFileSync(
    p.config,
    [
      ...HEAD,
      'watch:',
      '  debounce: 500',
      '  resyncInterval: "90"',
      'limits: { phaseTimeout: 2h, noOutputTimeout: 0 }',
      'ports: [textproc/gamma]',
      '',
    ].join('\n'),
  );
  for (const args of [['validate', '--schema-only'], ['validate']]) {
    const r = await cli(p.dir, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.deepEqual(r.err.trimEnd().split('\n'), [
      `${p.config}:5:13: watch.debounce: 500 is not a duration: it has no unit; write 500s for seconds or 500ms for milliseconds (a duration is a number with a unit, largest first: 500ms, 30s, 10m, 2h, 1h30m; or 0)`,
      `${p.config}:6:19: watch.resyncInterval: "90" is not a duration: it has no unit; write 90s for seconds or 90ms for milliseconds (a duration is a number with a unit, largest first: 500ms, 30s, 10m, 2h, 1h30m; or 0)`,
      `${p.config}:7:46: limits.noOutputTimeout must be more than zero`,
    ]);
  }
  writeFileSync(p.config, [...HEAD, 'watch: { debounce: 0, resyncInterval: 90s }', 'ports: [textproc/gamma]', ''].join('\n'));
  const ok = await cli(p.dir, ['validate', '--schema-only']);
  assert.equal(ok.code, 0, ok.err);
});
