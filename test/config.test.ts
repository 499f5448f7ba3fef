import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PortsyncError } from '../src/errors.js';
import { ConfigError, DurationError, OriginGlobError, type ConfigIssue } from '../src/config/errors.js';
import { parseDuration } from '../src/config/duration.js';
import { listenProblem, loadDesiredState, parseDesiredState } from '../src/config/load.js';
import { matchSelectors, originGlobToRegExp, originPatternProblem } from '../src/config/selectors.js';
import type { PortSelector } from '../src/config/types.js';
import { runValidate } from '../src/cli/validate.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
let tmp: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'portsync-config-'));
  await mkdir(join(tmp, 'ports'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let counter = 0;
/** Writes `text` to a fresh builds.yaml in its own directory, next to a `ports` directory. */
async function writeConfig(text: string): Promise<string> {
  const dir = join(tmp, `case${++counter}`);
  await mkdir(join(dir, 'ports'), { recursive: true });
  const file = join(dir, 'builds.yaml');
  await writeFile(file, text);
  return file;
}

/** Loads a config that must be invalid and returns its issues. */
async function issuesOf(text: string): Promise<{ file: string; issues: ConfigIssue[]; error: ConfigError }> {
  const file = await writeConfig(text);
  const error = await loadDesiredState(file).then(
    () => assert.fail('expected a ConfigError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
  return { file, issues: error.issues, error };
}

const MINIMAL = 'portsTree:\n  path: ports\nports:\n  - misc/help2man\n';

describe('loadDesiredState: valid files', () => {
  test('applies every default and resolves paths against the file directory', async () => {
    const file = await writeConfig(MINIMAL);
    const dir = dirname(file);
    const s = await loadDesiredState(file);
    assert.equal(s.file, file);
    assert.equal(s.dir, dir);
    assert.deepEqual(s.portsTree, { path: join(dir, 'ports'), source: 'worktree', branch: 'main' });
    assert.deepEqual(s.make, {
      command: process.platform === 'linux' ? 'bmake' : 'make',
      env: {},
      vars: {},
      readAs: { uid: 65533, gid: 65533 },
    });
    assert.deepEqual(s.paths, {
      buildBase: join(dir, '.portsync/build'),
      packages: join(dir, '.portsync/packages'),
      distfiles: join(dir, '.portsync/distfiles'),
      logs: join(dir, '.portsync/logs'),
      database: join(dir, '.portsync/builddb.duckdb'),
    });
    assert.equal(s.workers, 2);
    assert.equal(s.makeJobs, 1);
    assert.deepEqual(s.environment, { backend: 'chroot' });
    assert.deepEqual(s.limits, {
      phaseTimeoutMs: 2 * 3600_000,
      noOutputTimeoutMs: 30 * 60_000,
      network: 'fetch-only',
      pids: 8192,
      tmpfs: { construction: '50%', localbase: '25%', tmp: '10%' },
    });
    assert.deepEqual(s.policy, { cascade: 'output', prune: false });
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(s.watch, { resyncIntervalMs: 600_000, debounceMs: 500 });
    assert.deepEqual(s.server, {
      socket: join(dir, '.portsync/portsync.sock'),
      webhookSecretEnv: 'PORTSYNC_WEBHOOK_SECRET',
      allowInsecure: false,
    });
    assert.equal('listen' in s.server, false);
  });

  test('keeps explicit values; resolves ./ and ../ in make.env only', async () => {
    const file = await writeConfig(
      [
        'portsTree: { path: ./ports, source: commit, branch: release }',
        'make:',
        '  command: make',
        '  env: { MAKESYSPATH: ./ports/Mk, UP: ../shared, ABS: /usr/share/mk, PLAIN: yes, DOTFILE: .hidden }',
        '  vars: { BATCH: "yes", WITH_DEBUG.foo: "" }',
        'paths: { packages: /srv/pkgs, logs: ../logs }',
        'workers: 4',
        'makeJobs: 3',
        'environment: { backend: host }',
        'limits: { phaseTimeout: 90s, noOutputTimeout: 1h30m, network: never, memory: 6g, pids: 500, tmpfs: { construction: 12g, tmp: 1g } }',
        'policy: { cascade: version }',
        'watch: { resyncInterval: 45s, debounce: 0 }',
        'server: { socket: /run/portsync.sock, listen: "[::1]:8787", webhookSecretEnv: MY_SECRET }',
        'ports: [misc/help2man]',
        '',
      ].join('\n'),
    );
    const dir = dirname(file);
    const s = await loadDesiredState(file);
    assert.deepEqual(s.portsTree, { path: join(dir, 'ports'), source: 'commit', branch: 'release' });
    assert.equal(s.make.command, 'make', 'an explicit make.command is kept even on Linux');
    assert.deepEqual(s.make.env, {
      MAKESYSPATH: join(dir, 'ports/Mk'),
      UP: join(dirname(dir), 'shared'),
      ABS: '/usr/share/mk',
      PLAIN: 'yes',
      DOTFILE: '.hidden',
    });
    assert.deepEqual(s.make.vars, { BATCH: 'yes', 'WITH_DEBUG.foo': '' });
    assert.equal(s.paths.packages, '/srv/pkgs');
    assert.equal(s.paths.logs, join(dirname(dir), 'logs'));
    assert.equal(s.paths.buildBase, join(dir, '.portsync/build'));
    assert.equal(s.workers, 4);
    assert.equal(s.makeJobs, 3);
    assert.equal(s.environment.backend, 'host');
    assert.deepEqual(s.limits, {
      phaseTimeoutMs: 90_000,
      noOutputTimeoutMs: 5_400_000,
      network: 'never',
      memoryBytes: 6 * 2 ** 30,
      pids: 500,
      tmpfs: { construction: '12g', localbase: '25%', tmp: '1g' },
    });
    assert.equal(s.policy.cascade, 'version');
    assert.deepEqual(s.watch, { resyncIntervalMs: 45_000, debounceMs: 0 });
    assert.deepEqual(s.server, { socket: '/run/portsync.sock', listen: '[::1]:8787', webhookSecretEnv: 'MY_SECRET', allowInsecure: false });
  });

  test('string and object port entries become selectors with their positions', async () => {
    const file = await writeConfig(
      [
        'portsTree: { path: ports }',
        'ports:',
        '  - misc/help2man',
        '  - devel/*',
        '  - origin: lang/pyish@py312',
        '    vars: { WITH_DOCS: "yes" }',
        '    suspend: true',
        '  - { origin: "lang/py[0-9]*" }',
        '',
      ].join('\n'),
    );
    const s = await loadDesiredState(file);
    const expected: PortSelector[] = [
      { pattern: 'misc/help2man', isGlob: false, vars: {}, suspend: false, line: 3, col: 5 },
      { pattern: 'devel/*', isGlob: true, vars: {}, suspend: false, line: 4, col: 5 },
      { pattern: 'lang/pyish@py312', isGlob: false, vars: { WITH_DOCS: 'yes' }, suspend: true, line: 5, col: 5 },
      { pattern: 'lang/py[0-9]*', isGlob: true, vars: {}, suspend: false, line: 8, col: 5 },
    ];
    assert.deepEqual(s.ports, expected);
  });

  test('the shipped builds.yaml validates', async (t) => {
    if (!existsSync(join(repoRoot, 'examples/ports'))) {
      t.skip('examples/ports does not exist yet (written by the ports-tree helper)');
      return;
    }
    const s = await loadDesiredState(join(repoRoot, 'builds.yaml'));
    assert.equal(s.portsTree.path, join(repoRoot, 'examples/ports'));
    assert.equal(s.make.env.MAKESYSPATH, join(repoRoot, 'examples/ports/Mk'));
    assert.ok(
      s.ports.some((p) => p.isGlob),
      'the example shows a glob',
    );
  });

  test('the shipped builds.yaml passes the schema and semantic checks (no filesystem)', async () => {
    const { readFile } = await import('node:fs/promises');
    const file = join(repoRoot, 'builds.yaml');
    const s = parseDesiredState(await readFile(file, 'utf8'), file);
    assert.equal(s.make.command, 'bmake');
    assert.equal(s.environment.backend, 'chroot');
    assert.ok(s.ports.length >= 3);
  });
});

describe('loadDesiredState: errors', () => {
  test('an unknown key is reported at the key itself, with a suggestion', async () => {
    const { file, issues, error } = await issuesOf(
      ['portsTree:', '  path: ports', 'wokers: 3', 'make:', '  comand: bmake', 'ports: [misc/help2man]', ''].join('\n'),
    );
    assert.deepEqual(issues, [
      { file, line: 3, col: 1, message: 'unknown key "wokers" in builds.yaml root (did you mean "workers"?)' },
      { file, line: 5, col: 3, message: 'unknown key "comand" in make (did you mean "command"?)' },
    ]);
    assert.equal(
      error.message,
      `${file}:3:1: unknown key "wokers" in builds.yaml root (did you mean "workers"?)\n` +
        `${file}:5:3: unknown key "comand" in make (did you mean "command"?)`,
    );
    assert.equal(error.file, file);
    assert.equal(error.exitCode, 2);
    assert.ok(error instanceof PortsyncError);
  });

  test('an unknown key with no close match lists the known keys', async () => {
    const { issues } = await issuesOf('portsTree: { path: ports, color: red }\nports: []\n');
    assert.equal(issues.length, 1);
    assert.deepEqual([issues[0]!.line, issues[0]!.col], [1, 27]);
    assert.equal(issues[0]!.message, 'unknown key "color" in portsTree (known keys: path, source, branch)');
  });

  test('wrong types and enum values are reported at the value', async () => {
    const { issues } = await issuesOf(
      [
        'portsTree: { path: ports }',
        'workers: two',
        'makeJobs: 0',
        'environment: { backend: jail }',
        'ports: misc/help2man',
        'make: { vars: 3 }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.col} ${i.message}`),
      [
        '2:10 workers must be a whole number, not the string "two"',
        '3:11 makeJobs must be at least 1, not 0',
        '4:25 environment.backend must be one of "chroot", "host", not the string "jail"',
        '5:8 ports must be a list, not the string "misc/help2man"',
        '6:15 make.vars must be a mapping (key: value), not the number 3',
      ],
    );
  });

  test('make variable values must be strings; a number asks to be quoted', async () => {
    const { issues } = await issuesOf(
      [
        'portsTree: { path: ports }',
        'make:',
        '  vars: { WITH_DOCS: 1, 9LIVES: "x" }',
        'ports:',
        '  - origin: misc/help2man',
        '    vars: { DEBUG: true }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.col} ${i.message}`),
      [
        '3:22 make.vars.WITH_DOCS must be a string, not the number 1: quote it, e.g. WITH_DOCS: "1"',
        '3:25 "9LIVES" in make.vars is not a make variable name (letters, digits, _ and ., not starting with a digit)',
        '6:20 ports[0].vars.DEBUG must be a string, not the boolean true: quote it, e.g. DEBUG: "true"',
      ],
    );
  });

  test('a missing ports tree names the resolved path; a file is not a tree', async () => {
    const missing = await issuesOf('portsTree:\n  path: no/such/tree\nports: []\n');
    const expectedPath = join(dirname(missing.file), 'no/such/tree');
    assert.deepEqual(missing.issues, [
      { file: missing.file, line: 2, col: 9, message: `portsTree.path: ${expectedPath} does not exist; point it at a ports tree` },
    ]);

    const notDir = await issuesOf('portsTree: { path: builds.yaml }\nports: []\n');
    assert.equal(notDir.issues.length, 1);
    assert.match(notDir.issues[0]!.message, /builds\.yaml is not a directory/);
  });

  test('a malformed origin is reported at its entry', async () => {
    const { issues } = await issuesOf(
      [
        'portsTree: { path: ports }',
        'ports:',
        '  - misc/help2man',
        '  - help2man',
        '  - origin: "misc/help 2man"',
        '  - lang/pyish@py-3',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      issues.map((i) => [i.line, i.col]),
      [
        [4, 5],
        [5, 13],
        [6, 5],
      ],
    );
    assert.match(issues[0]!.message, /^ports\[1\]: malformed origin "help2man": expected category\/name/);
    assert.match(issues[1]!.message, /malformed origin "misc\/help 2man"/);
    assert.match(issues[2]!.message, /malformed origin "lang\/pyish@py-3"/);
  });

  test('an origin that points outside the tree is malformed: no ".." or "." parts, no leading dot', async () => {
    const { issues } = await issuesOf(
      [
        'portsTree: { path: ports }',
        'ports:',
        '  - ../outside',
        '  - ../..',
        '  - misc/..',
        '  - ./x',
        '  - misc/.hidden',
        '  - misc/ok.port',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      issues.map((i) => i.line),
      [3, 4, 5, 6, 7],
    );
    for (const i of issues)
      assert.match(i.message, /malformed origin ".*": expected category\/name or category\/name@flavor inside the tree/);
  });

  test('a duplicate origin is reported at the second occurrence, naming the first line', async () => {
    const { issues } = await issuesOf(
      [
        'portsTree: { path: ports }',
        'ports:',
        '  - misc/help2man',
        '  - devel/*',
        '  - origin: misc/help2man',
        '    suspend: true',
        '  - devel/*',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.col} ${i.message}`),
      ['5:13 duplicate port "misc/help2man": already listed at line 3', '7:5 duplicate port "devel/*": already listed at line 4'],
    );
  });

  test('bad globs are errors, each at its entry', async () => {
    const bad = ['devel/[abc', 'devel/', '/foo', 'a/b/c', '**/foo', 'de]vel/*', 'devel/[]x', '*'];
    const { issues } = await issuesOf(['portsTree: { path: ports }', 'ports:', ...bad.map((b) => `  - "${b}"`), ''].join('\n'));
    assert.equal(issues.length, bad.length);
    issues.forEach((issue, i) => {
      assert.equal(issue.line, 3 + i);
      assert.equal(issue.col, 5);
    });
    assert.match(issues[0]!.message, /bad port glob "devel\/\[abc": unbalanced "\[" in the name part/);
    assert.match(issues[1]!.message, /malformed origin "devel\/"/);
    assert.match(issues[2]!.message, /malformed origin "\/foo"/);
    assert.match(issues[3]!.message, /malformed origin "a\/b\/c"/);
    assert.match(issues[4]!.message, /"\*\*" is not supported/);
    assert.match(issues[5]!.message, /"\]" without "\["/);
    assert.match(issues[6]!.message, /empty "\[\]"/);
    assert.match(issues[7]!.message, /expected category\/name \(one "\/"\)/);
  });

  test('a YAML syntax error is reported with its position', async () => {
    const { file, issues } = await issuesOf('portsTree: { path: ports }\nports: [misc/help2man\nworkers: 2\n');
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.file, file);
    assert.equal(issues[0]!.line, 3);
    assert.equal(issues[0]!.col, 1);
    assert.match(issues[0]!.message, /^YAML syntax: /);

    const dup = await issuesOf('portsTree: { path: ports }\nports: []\nports: []\n');
    assert.deepEqual([dup.issues[0]!.line, dup.issues[0]!.col], [3, 1]);
    assert.match(dup.issues[0]!.message, /YAML syntax: Map keys must be unique/);
  });

  test('an unquoted glob starting with * (a YAML alias) gets a hint to quote it', async () => {
    const { file, issues } = await issuesOf('portsTree: { path: ports }\nports:\n  - misc/help2man\n  - */*\n');
    assert.deepEqual(issues, [
      { file, line: 4, col: 5, message: 'YAML: */* refers to no anchor (&/*); a glob starting with * must be quoted: "*/*"' },
    ]);
  });

  test('every problem is reported at once, in file order', async () => {
    const { issues, error } = await issuesOf(
      [
        'portsTree: { path: missing-tree }',
        'workers: -1',
        'limits: { phaseTimeout: 10x, noOutputTimeout: 0 }',
        'watch: { resyncInterval: 30m1h }',
        'ports:',
        '  - bad',
        '  - 42',
        '  - { origin: devel/x, extra: 1 }',
        'server: { listen: localhost, webhookSecretEnv: 1X }',
        'bogus: true',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.col}`),
      ['1:20', '2:10', '3:25', '3:47', '4:26', '6:5', '7:5', '8:24', '9:19', '9:48', '10:1'],
    );
    assert.match(issues[0]!.message, /missing-tree does not exist/);
    assert.match(issues[2]!.message, /limits\.phaseTimeout: "10x" is not a duration/);
    assert.equal(issues[3]!.message, 'limits.noOutputTimeout must be more than zero');
    assert.match(issues[4]!.message, /unit "h" is repeated or out of order/);
    assert.match(issues[6]!.message, /ports\[1\] must be an origin string or a mapping \{origin, vars, suspend\}, not the number 42/);
    assert.match(issues[8]!.message, /server\.listen: "localhost" is not host:port/);
    assert.equal(error.message.split('\n').length, issues.length);
  });

  test('an empty file reports both required keys', async () => {
    const { issues } = await issuesOf('');
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.col} ${i.message}`),
      ['1:1 missing required key "portsTree" in builds.yaml root', '1:1 missing required key "ports" in builds.yaml root'],
    );
  });

  test('a missing config file is a ConfigError naming it', async () => {
    const file = join(tmp, 'nope', 'builds.yaml');
    await assert.rejects(loadDesiredState(file), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, file);
      assert.match(e.message, /no such file; create it or pass --config FILE/);
      return true;
    });
  });
});

describe('parseDesiredState', () => {
  test('checks text without touching the filesystem', () => {
    const s = parseDesiredState('portsTree: { path: /does/not/exist }\nports: ["*/*"]\n', '/repo/builds.yaml');
    assert.equal(s.portsTree.path, '/does/not/exist');
    assert.equal(s.dir, '/repo');
    assert.equal(s.paths.database, '/repo/.portsync/builddb.duckdb');
    assert.equal(s.ports[0]!.isGlob, true);
    assert.throws(
      () => parseDesiredState('ports: []\n', 'x/builds.yaml'),
      (e: unknown) => e instanceof ConfigError && e.message === 'x/builds.yaml:1:1: missing required key "portsTree" in builds.yaml root',
    );
  });
});

describe('parseDuration', () => {
  test('accepts unit groups, and zero without a unit', () => {
    const cases: [string | number, number][] = [
      [0, 0],
      ['0', 0],
      ['90s', 90_000],
      ['1.5s', 1500],
      ['500ms', 500],
      ['30s', 30_000],
      ['10m', 600_000],
      ['2h', 7_200_000],
      ['1h30m', 5_400_000],
      ['1d2h3m4s5ms', 93_784_005],
      ['1.5h', 5_400_000],
      [' 10m ', 600_000],
    ];
    for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, `parseDuration(${JSON.stringify(input)})`);
  });

  test('rejects bad durations with a DurationError carrying the value', () => {
    for (const bad of ['', '10x', 'm10', '30m1h', '1h1h', '10 m', '-5s', -1, Number.NaN, Infinity, '1h30', 90, 1.5, '90', '500']) {
      assert.throws(
        () => parseDuration(bad),
        (e: unknown) => e instanceof DurationError && Object.is(e.value, bad) && /is not a duration/.test(e.message),
        `parseDuration(${String(bad)})`,
      );
    }
  });

  test('a bare number other than zero is refused, naming both units it could mean', () => {
    assert.throws(
      () => parseDuration(500),
      (e: unknown) =>
        e instanceof DurationError &&
        /500 is not a duration: it has no unit; write 500s for seconds or 500ms for milliseconds/.test(e.message),
    );
  });
});

describe('origin globs and selectors', () => {
  test('originGlobToRegExp matches within category, name and flavor parts only', () => {
    const all = originGlobToRegExp('*/*');
    assert.ok(all.test('devel/foo'));
    assert.ok(!all.test('lang/pyish@py311'), 'a glob without @ matches only plain origins');
    assert.ok(originGlobToRegExp('lang/*@py3*').test('lang/pyish@py311'));
    const dev = originGlobToRegExp('devel/lib?');
    assert.ok(dev.test('devel/libz'));
    assert.ok(!dev.test('devel/libzz'));
    assert.ok(!dev.test('devel/lib/'));
    const cls = originGlobToRegExp('devel/[a-c]*');
    assert.ok(cls.test('devel/bison'));
    assert.ok(!cls.test('devel/gmake'));
    const neg = originGlobToRegExp('devel/[!a-c]*');
    assert.ok(neg.test('devel/gmake'));
    assert.ok(!neg.test('devel/bison'));
    assert.ok(originGlobToRegExp('x11-toolkits/gtk+*').test('x11-toolkits/gtk+3'));
    assert.ok(!originGlobToRegExp('a.b/*').test('axb/c'), '"." is literal');
    assert.throws(
      () => originGlobToRegExp('devel/[abc'),
      (e: unknown) => e instanceof OriginGlobError && e.pattern === 'devel/[abc',
    );
    assert.equal(originPatternProblem('misc/help2man'), undefined);
    assert.equal(originPatternProblem('devel/*'), undefined);
  });

  test('matchSelectors: exact entries beat globs, unmatched selectors are returned', () => {
    const sel = (pattern: string, line: number, vars: Record<string, string> = {}): PortSelector => ({
      pattern,
      isGlob: /[*?[]/.test(pattern),
      vars,
      suspend: false,
      line,
      col: 5,
    });
    const origins = ['devel/bison', 'devel/gmake', 'lang/pyish', 'misc/help2man', 'lang/pyish@py312'];
    const exact = sel('devel/gmake', 2, { A: '1' });
    const devel = sel('devel/*', 1);
    const flavored = sel('lang/pyish@py311', 3);
    const missing = sel('misc/nope', 4);
    const empty = sel('www/*', 5);
    const { selected, unmatched } = matchSelectors(origins, [devel, exact, flavored, missing, empty]);
    assert.deepEqual([...selected.keys()], ['devel/bison', 'devel/gmake', 'lang/pyish@py311']);
    assert.equal(selected.get('devel/gmake'), exact);
    assert.equal(selected.get('devel/bison'), devel);
    assert.equal(selected.get('lang/pyish@py311'), flavored, 'a flavor is kept when its port directory exists');
    assert.deepEqual(unmatched, [missing, empty]);
    // A glob with a flavor asks each matching directory for that flavor (ports are directories).
    const py = sel('lang/*@py312', 6);
    const flavoredGlob = matchSelectors(['devel/bison', 'lang/pyish', 'lang/perlish'], [py]);
    assert.deepEqual([...flavoredGlob.selected.keys()], ['lang/perlish@py312', 'lang/pyish@py312']);
    assert.deepEqual(flavoredGlob.unmatched, []);
  });

  test('listenProblem accepts host:port and rejects the rest', () => {
    for (const ok of ['127.0.0.1:8787', 'localhost:80', '[::1]:8787', 'build-host.example.org:65535'])
      assert.equal(listenProblem(ok), undefined, ok);
    for (const bad of ['localhost', ':8787', '127.0.0.1:0', '127.0.0.1:70000', '[zz]:1', '::1:8787', 'bad_host:1'])
      assert.ok(listenProblem(bad), bad);
  });
});

describe('runValidate', () => {
  test('valid: exit 0 and a one-line summary', async () => {
    const file = await writeConfig('portsTree: { path: ports }\nports: [misc/help2man, "devel/*"]\n');
    const out: string[] = [];
    const err: string[] = [];
    assert.equal(
      await runValidate(
        file,
        (s) => out.push(s),
        (s) => err.push(s),
      ),
      0,
    );
    assert.equal(err.length, 0);
    assert.equal(out.length, 1);
    assert.match(out[0]!, /: valid \(2 port selectors, tree .*ports\)$/);
  });

  test('invalid: exit 2 and one FILE:LINE:COL line per problem', async () => {
    const file = await writeConfig('portsTree: { path: ports }\nwokers: 1\nports: [bad]\n');
    const out: string[] = [];
    const err: string[] = [];
    assert.equal(
      await runValidate(
        file,
        (s) => out.push(s),
        (s) => err.push(s),
      ),
      2,
    );
    assert.equal(out.length, 0);
    assert.equal(err.length, 2);
    assert.ok(err[0]!.startsWith(`${file}:2:1: unknown key "wokers"`), err[0]);
    assert.ok(err[1]!.startsWith(`${file}:3:9: ports[0]: malformed origin "bad"`), err[1]);
  });
});

describe('policy.cascade', () => {
  test('the deprecated policy.rebuildDependents still works, with a warning naming its replacement and where it stands', async () => {
    for (const [value, meant] of [
      ['true', 'inputs'],
      ['false', 'none'],
    ] as const) {
      const file = await writeConfig(
        ['portsTree: { path: ./ports }', 'ports: [misc/help2man]', 'policy:', `  rebuildDependents: ${value}`, ''].join('\n'),
      );
      const s = await loadDesiredState(file);
      assert.equal(s.policy.cascade, meant);
      assert.equal(s.warnings.length, 1);
      assert.equal(
        s.warnings[0],
        `${file}:4:3: policy.rebuildDependents is deprecated: it means "policy.cascade: ${meant}"; write that instead (the default, output, rebuilds dependents only when a dependency's package changed)`,
      );
    }
  });

  test('cascade wins over rebuildDependents, and an unknown cascade is an error at its position', async () => {
    const both = await writeConfig(
      ['portsTree: { path: ./ports }', 'ports: [misc/help2man]', 'policy: { cascade: none, rebuildDependents: true }', ''].join('\n'),
    );
    const s = await loadDesiredState(both);
    assert.equal(s.policy.cascade, 'none');
    assert.match(s.warnings[0] ?? '', /rebuildDependents is deprecated and ignored: policy\.cascade \(none\) is set/);
    const bad = await writeConfig(
      ['portsTree: { path: ./ports }', 'ports: [misc/help2man]', 'policy: { cascade: sometimes }', ''].join('\n'),
    );
    await assert.rejects(
      loadDesiredState(bad),
      (e) =>
        e instanceof ConfigError && e.message.includes(`${bad}:3:20: policy.cascade must be one of "output", "version", "inputs", "none"`),
    );
  });
});

describe('paths that would hurt are refused', () => {
  const cfg = (paths: string) => ['portsTree: { path: ports }', 'ports: [misc/help2man]', `paths: { ${paths} }`, ''].join('\n');

  test('system directories, the inside of a port, the tree itself and overlapping outputs, each at its key', async () => {
    const cases: [string, RegExp][] = [
      ['packages: /', /paths\.packages \(\/\) is a system directory/],
      ['logs: /etc/portsync', /paths\.logs \(\/etc\/portsync\) is inside the system directory \/etc/],
      [
        'logs: ports/misc/help2man/logs',
        /paths\.logs \(.*\/ports\/misc\/help2man\/logs\) is inside the ports tree .*: ports or the framework would change with every pass/,
      ],
      ['buildBase: ports', /paths\.buildBase \(.*\/ports\) is inside the ports tree/],
      ['buildBase: ., logs: l', /paths\.buildBase \(.*\) contains the ports tree/],
      ['packages: d/pkgs, distfiles: d', /paths\.packages \(.*\/d\/pkgs\) is inside paths\.distfiles/],
      ['packages: same, logs: same', /paths\.logs \(.*\/same\) is the same directory as paths\.packages/],
      ['database: pk/db.duckdb, packages: pk', /paths\.database \(.*\/pk\/db\.duckdb\) is inside paths\.packages/],
    ];
    for (const [paths, message] of cases) {
      const { issues } = await issuesOf(cfg(paths));
      assert.equal(issues.length, 1, `${paths}: ${JSON.stringify(issues)}`);
      assert.equal(issues[0]!.line, 3, paths);
      assert.match(issues[0]!.message, message, paths);
    }
  });

  test('portsync directories at the top of the tree are fine (.portsync/, distfiles/, packages/)', async () => {
    const file = await writeConfig(
      cfg(
        'buildBase: ports/.portsync/build, database: ports/.portsync/db.duckdb, distfiles: ports/distfiles, packages: ports/packages, logs: ports/.portsync/logs',
      ),
    );
    const s = await loadDesiredState(file);
    assert.equal(s.paths.distfiles, join(dirname(file), 'ports/distfiles'));
  });
});
