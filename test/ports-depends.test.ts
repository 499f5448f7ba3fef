import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDepends } from '../src/ports/depends.js';
import { MalformedDependencyError } from '../src/ports/errors.js';
import { canonicalOrigin, parseOrigin } from '../src/ports/origin.js';

const TREE = '/usr/ports';

test('every dependency form found in real trees', () => {
  const deps = parseDepends(
    'x/y',
    'BUILD',
    ' help2man:misc/help2man  pkg>=1.2:devel/pkgconf@py311\n/usr/local/lib/libfoo.so:devel/foo ' +
      'gmake:/usr/ports/devel/gmake  bar>0:devel/bar:patch /nonexistent:devel/skipped:extract\tbaz:devel/baz',
    TREE,
  );
  assert.deepEqual(
    deps.map((d) => [d.target, d.origin, d.tag ?? '']),
    [
      ['help2man', 'misc/help2man', ''],
      ['pkg>=1.2', 'devel/pkgconf@py311', ''],
      ['/usr/local/lib/libfoo.so', 'devel/foo', ''],
      ['gmake', 'devel/gmake', ''],
      ['bar>0', 'devel/bar', 'patch'],
      ['baz', 'devel/baz', ''],
    ],
  );
  assert.ok(deps.every((d) => d.kind === 'BUILD'));
  assert.equal(deps[4]!.raw, 'bar>0:devel/bar:patch');
});

test('an absolute origin outside the tree keeps its last two components', () => {
  const [d] = parseDepends('x/y', 'RUN', 'foo:/elsewhere/ports/devel/foo', TREE);
  assert.equal(d!.origin, 'devel/foo');
});

test('a malformed entry names the port, the variable and the entry', () => {
  for (const bad of ['justatarget', 'a:b:c:d', 'a:notanorigin', ':devel/foo', 'a:devel/foo:']) {
    assert.throws(
      () => parseDepends('misc/broken', 'LIB', `ok:devel/ok ${bad}`, TREE),
      (e: unknown) => {
        assert.ok(e instanceof MalformedDependencyError, String(e));
        assert.equal(e.port, 'misc/broken');
        assert.equal(e.variable, 'LIB_DEPENDS');
        assert.equal(e.entry, bad);
        assert.match(e.message, /misc\/broken: malformed LIB_DEPENDS entry/);
        return true;
      },
    );
  }
});

test('origins and flavors', () => {
  assert.deepEqual(parseOrigin('lang/py@py311'), { dir: 'lang/py', category: 'lang', name: 'py', flavor: 'py311' });
  assert.throws(() => parseOrigin('lang'), /malformed origin "lang"/);
  assert.equal(canonicalOrigin('lang/py', 'py311', ['py311', 'py312']), 'lang/py');
  assert.equal(canonicalOrigin('lang/py', 'py312', ['py311', 'py312']), 'lang/py@py312');
  assert.equal(canonicalOrigin('misc/x', '', []), 'misc/x');
});
