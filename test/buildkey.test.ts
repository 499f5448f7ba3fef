import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJSON, computeBuildKey, diffKeyParts, inputFilesDigest, reasonKindOf } from '../src/fingerprint/buildKey.js';
import { createHash } from 'node:crypto';
import type { BuildKeyParts } from '../src/fingerprint/types.js';

function parts(over: Partial<BuildKeyParts> = {}): BuildKeyParts {
  return {
    portCrc: '0a1b2c3d',
    makefiles: { 'Mk/bsd.port.mk': '11111111', 'Mk/Uses/gmake.mk': '22222222' },
    vars: { WITH_DOCS: 'yes' },
    options: ['DOCS', 'NLS'],
    environment: { backend: 'chroot', make: 'bmake', format: '1' },
    dependencies: { 'devel/libfoo': 'a'.repeat(64) },
    ...over,
  };
}

test('build key is a SHA-256 hex digest that ignores key insertion order and option order', () => {
  const a = parts();
  const b: BuildKeyParts = {
    dependencies: { 'devel/libfoo': 'a'.repeat(64) },
    environment: { format: '1', make: 'bmake', backend: 'chroot' },
    options: ['NLS', 'DOCS'],
    vars: { WITH_DOCS: 'yes' },
    makefiles: { 'Mk/Uses/gmake.mk': '22222222', 'Mk/bsd.port.mk': '11111111' },
    portCrc: '0a1b2c3d',
  };
  assert.match(computeBuildKey(a), /^[0-9a-f]{64}$/);
  assert.equal(computeBuildKey(a), computeBuildKey(b));
});

test('every part changes the key', () => {
  const base = computeBuildKey(parts());
  const variants: Partial<BuildKeyParts>[] = [
    { portCrc: '0a1b2c3e' },
    { makefiles: { 'Mk/bsd.port.mk': '11111112', 'Mk/Uses/gmake.mk': '22222222' } },
    { vars: { WITH_DOCS: 'no' } },
    { options: ['DOCS'] },
    { environment: { backend: 'host', make: 'bmake', format: '1' } },
    { dependencies: { 'devel/libfoo': 'b'.repeat(64) } },
    { dependencies: {} },
  ];
  const keys = new Set(variants.map((v) => computeBuildKey(parts(v))));
  assert.equal(keys.size, variants.length);
  assert.ok(!keys.has(base));
});

test('canonicalJSON sorts nested keys and keeps array order', () => {
  assert.equal(canonicalJSON({ b: { y: 1, x: [2, 1] }, a: null }), '{"a":null,"b":{"x":[2,1],"y":1}}');
});

test('equal parts have no changes', () => {
  assert.deepEqual(diffKeyParts(parts(), parts()), []);
});

test('port CRC change is port-changed', () => {
  const ch = diffKeyParts(parts(), parts({ portCrc: 'ffffffff' }));
  assert.equal(ch.length, 1);
  assert.equal(ch[0]!.part, 'port');
  assert.equal(ch[0]!.detail, 'port CRC 0a1b2c3d -> ffffffff');
  assert.equal(reasonKindOf(ch[0]!), 'port-changed');
});

test('framework makefile changes are framework-changed, master port files are port-changed', () => {
  const cur = parts({
    makefiles: { 'Mk/bsd.port.mk': '99999999', 'Mk/Uses/cmake.mk': '33333333', 'lang/python311/Makefile.version': '44444444' },
  });
  const ch = diffKeyParts(parts(), cur);
  const byDetail = Object.fromEntries(ch.map((c) => [c.detail, c]));
  const changed = byDetail['framework file Mk/bsd.port.mk changed (11111111 -> 99999999)'];
  assert.ok(changed, JSON.stringify(ch));
  assert.equal(reasonKindOf(changed), 'framework-changed');
  assert.deepEqual(byDetail['framework file Mk/Uses/cmake.mk added']?.items, ['Mk/Uses/cmake.mk']);
  assert.deepEqual(byDetail['framework file Mk/Uses/gmake.mk removed']?.items, ['Mk/Uses/gmake.mk']);
  const master = byDetail['makefile lang/python311/Makefile.version added'];
  assert.ok(master);
  assert.equal(reasonKindOf(master), 'port-changed');
});

test('many changed items are grouped into one change listing them', () => {
  const old = parts({ makefiles: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`Mk/f${i}.mk`, '00000000'])) });
  const cur = parts({ makefiles: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`Mk/f${i}.mk`, '11111111'])) });
  const ch = diffKeyParts(old, cur);
  assert.equal(ch.length, 1);
  assert.equal(ch[0]!.items?.length, 8);
  assert.match(ch[0]!.detail, /^8 framework files changed: Mk\/f0\.mk, .* and 3 more$/);
});

test('vars and options are options-changed; environment is framework-changed; dependencies are dependency-changed', () => {
  const cur = parts({
    vars: { WITH_DOCS: 'no', WITH_X11: 'yes' },
    options: ['NLS', 'X11'],
    environment: { backend: 'host', make: 'bmake', format: '1' },
    dependencies: { 'devel/libfoo': 'b'.repeat(64), 'devel/gmake': 'c'.repeat(64) },
  });
  const ch = diffKeyParts(parts(), cur);
  const found = ch.map((c) => [c.part, c.detail, reasonKindOf(c)]);
  assert.deepEqual(found, [
    ['vars', 'variable WITH_DOCS changed ("yes" -> "no")', 'options-changed'],
    ['vars', 'variable WITH_X11 added', 'options-changed'],
    ['options', 'options added: X11', 'options-changed'],
    ['options', 'options removed: DOCS', 'options-changed'],
    ['environment', 'environment backend changed ("chroot" -> "host")', 'framework-changed'],
    ['dependencies', 'dependency devel/libfoo key changed', 'dependency-changed'],
    ['dependencies', 'dependency devel/gmake added', 'dependency-changed'],
  ]);
  const removed = diffKeyParts(parts(), parts({ dependencies: {} }));
  assert.deepEqual(removed, [{ part: 'dependencies', detail: 'dependency devel/libfoo removed', items: ['devel/libfoo'] }]);
});

test('the input files digest is the digest of the makefiles over the framework files, however the two maps overlap', () => {
  // The key format of recorded builds: sha256 over "path\0crc\n" of the merged map in sorted path order.
  const reference = (files: Record<string, string>) => {
    const h = createHash('sha256');
    for (const k of Object.keys(files).sort()) h.update(`${k}\0${files[k]}\n`);
    return h.digest('hex');
  };
  const names = [
    'Mk/a.mk',
    'Mk/B',
    'Mk/b',
    'Mk/Uses/x.mk',
    'Mk/é.sh',
    '/usr/share/mk/sys.mk',
    '@profile/m/mk/sys.mk',
    'devel/foo/Makefile',
  ];
  for (let mask = 0; mask < 3 ** names.length; mask += 7) {
    const makefiles: Record<string, string> = {};
    const framework: Record<string, string> = {};
    // Each name in the makefiles, the framework, or both (the makefile's CRC wins, as a spread would do).
    names.forEach((n, i) => {
      const where = Math.floor(mask / 3 ** i) % 3;
      if (where !== 1) makefiles[n] = `m${i}`;
      if (where !== 0) framework[n] = `f${i}`;
    });
    assert.equal(
      inputFilesDigest({ makefiles, framework }),
      reference({ ...framework, ...makefiles }),
      JSON.stringify({ makefiles, framework }),
    );
  }
});

test('the build key is the SHA-256 of the canonical JSON of its parts, whichever path computes it', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const shared = { vars: { B: '2', A: '1' }, environment: { backend: 'chroot', format: '1' } };
  const cases: BuildKeyParts[] = [
    parts(),
    { ...parts(), vars: shared.vars, environment: shared.environment, options: ['Z', 'A'] },
    {
      ...parts(),
      vars: shared.vars,
      environment: shared.environment,
      dependencies: {
        'devel/b': { use: 'build', version: '1', key: 'k', package: 'p' },
        'devel/a': { use: 'run', lib: true, version: '2', key: 'k2', package: '' },
      },
    },
    { ...parts(), vars: undefined as unknown as Record<string, string> },
  ];
  for (const parts of cases) {
    const dependencies = Object.fromEntries(
      Object.entries(parts.dependencies).map(([o, f]) => [
        o,
        typeof f === 'string' ? `key:${f}` : f.use === 'run' ? `version:${f.version}` : f.package ? `package:${f.package}` : `key:${f.key}`,
      ]),
    );
    const definition = sha(
      canonicalJSON({
        portCrc: parts.portCrc,
        inputs: inputFilesDigest(parts),
        vars: parts.vars,
        options: [...parts.options].sort(),
        environment: parts.environment,
        dependencies,
      }),
    );
    assert.equal(computeBuildKey(parts), definition);
    assert.equal(computeBuildKey(parts), definition, 'the second time (shared texts memoized) too');
  }
});
