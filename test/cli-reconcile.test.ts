/**
 * `portsync reconcile ORIGIN…`, `--force`, `--dry-run`, `--quiet`/`--verbose`, and the tables of
 * `history`, `report` and `status` fitted to $COLUMNS, through the real CLI on a copy of the
 * example tree (host backend: no root needed), the tree a git repository so runs record commits.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';
import { cli, git, waitFor } from './helpers/wait.js';
import { daemonRequest } from '../src/client/request.js';
import { startDaemon } from './sql-helpers.js';

const skip = bmakeMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

/** textproc/gamma needs devel/libbeta and devel/libalpha; math/numadd needs math/numbase. */
function project(ports: string[]): TestProject {
  const p = new TestProject({ ports, backend: 'host' });
  projects.push(p);
  git(p.tree, 'init', '-q', '-b', 'main');
  git(p.tree, 'add', '-A');
  git(p.tree, 'commit', '-qm', 'import');
  return p;
}

const env = (columns = '') => ({ ...process.env, COLUMNS: columns });
const builtOrigins = async (p: TestProject) =>
  (await p.query<{ origin: string }>(`SELECT DISTINCT origin FROM builds ORDER BY origin`)).map((r) => r.origin);

test(
  'reconcile ORIGIN… builds only those ports and what they need; --force outside the closure is exit 2; --dry-run honours both',
  { skip },
  async () => {
    const p = project(['textproc/gamma', 'math/numadd']);

    const unknown = await cli(p.dir, ['reconcile', 'math/numadd', '--force', 'misc/greet'], env());
    assert.equal(unknown.code, 2, unknown.out + unknown.err);
    assert.match(
      unknown.err,
      /^portsync reconcile: misc\/greet is not in the closure of builds\.yaml's ports; add it to ports: in builds\.yaml, or check the spelling\n$/,
    );
    assert.equal(unknown.out, '');

    const only = await cli(p.dir, ['reconcile', 'math/numadd'], env());
    assert.equal(only.code, 0, only.out + only.err);
    assert.match(
      only.out,
      /Built \(2\):\n {2}math\/numbase numbase-1\.0\n {2}math\/numadd numadd-1\.0\nrun \S+: 2 ports: 2 built, 0 failed, 0 skipped/,
    );
    assert.deepEqual(await builtOrigins(p), ['math/numadd', 'math/numbase'], 'textproc/gamma and its dependencies were left alone');
    assert.deepEqual(
      await p.query(`SELECT total::INTEGER AS total, success::INTEGER AS success FROM runs`),
      [{ total: 2, success: 2 }],
      'the refused pass recorded no run',
    );

    const dry = await cli(p.dir, ['reconcile', 'math/numadd', '--dry-run', '--force', 'math/numbase'], env());
    assert.equal(dry.code, 1, dry.err);
    assert.deepEqual(dry.out.trimEnd().split('\n'), [
      'build   math/numbase (numbase-1.0) — forced from the command line',
      "pending math/numadd (numadd-1.0) — rebuilds only if math/numbase's package changes",
      "plan: 2 ports: 1 to build, 1 pending (rebuilt only if a dependency's result changes), 0 up to date, 0 ignored, 0 blocked",
    ]);
    // The contract's `--force ORIGIN...`: every word after --force is forced, in a pass over everything.
    const forcedBoth = await cli(p.dir, ['reconcile', '--dry-run', '--json', '--force', 'math/numbase', 'math/numadd'], env());
    assert.equal(forcedBoth.code, 1, forcedBoth.err);
    const both = JSON.parse(forcedBoth.out) as { ports: { origin: string; action: string; reasons: { kind: string }[] }[] };
    assert.equal(both.ports.length, 5, 'a pass over every port of builds.yaml');
    for (const o of ['math/numbase', 'math/numadd'])
      assert.deepEqual(
        both.ports.find((x) => x.origin === o)!.reasons.map((r) => r.kind),
        ['forced'],
        o,
      );
    const dryAll = await cli(p.dir, ['reconcile', '--dry-run', '--json'], env());
    assert.equal(dryAll.code, 1);
    const plan = JSON.parse(dryAll.out) as { ports: { origin: string; action: string }[] };
    assert.deepEqual(plan.ports.map((x) => `${x.action} ${x.origin}`).sort(), [
      'build devel/libalpha',
      'build devel/libbeta',
      'build textproc/gamma',
      'skip math/numadd',
      'skip math/numbase',
    ]);
    const dryUnknown = await cli(p.dir, ['reconcile', '--dry-run', '--force', 'misc/greet'], env());
    assert.equal(dryUnknown.code, 2);
    assert.match(dryUnknown.err, /misc\/greet is not in the closure/);
    assert.equal((await p.query(`SELECT count(*)::INTEGER AS n FROM builds`))[0]!.n, 2, '--dry-run built nothing');
  },
);

test('--quiet prints the summary line only; --verbose every port and why; --json is the contract document', { skip }, async () => {
  const p = project(['math/numadd']);
  const first = await cli(p.dir, ['reconcile', '--quiet'], env());
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /^run \S+: 2 ports: 2 built, 0 failed, 0 skipped, 0 ignored, 0 blocked in \d+\.\ds\n$/);

  const verbose = await cli(p.dir, ['reconcile', '-v'], env());
  assert.equal(verbose.code, 0, verbose.err);
  assert.match(verbose.out, /^math\/numbase@1\.0 \(CRC match, skipped\)$/m);
  assert.match(
    verbose.out,
    /^Skipped \(2\):\n {2}math\/numbase numbase-1\.0: up to date \(CRC match\)\n {2}math\/numadd numadd-1\.0: up to date \(CRC match\)\nrun /m,
  );

  p.append('math/numbase/Makefile', '# a change\n');
  const changed = await cli(p.dir, ['reconcile', '--verbose', 'math/numbase'], env());
  assert.equal(changed.code, 0, changed.err);
  assert.match(changed.out, /\[\d\d:\d\d:\d\d\.\d{3}\] \[\d\] math\/numbase: build\n/, 'every phase, as a timestamped line');
  assert.match(changed.out, /Built \(1\):\n {2}math\/numbase numbase-1\.0: port-changed: /);

  const json = await cli(p.dir, ['reconcile', '--json', '--quiet', 'math/numadd'], env());
  assert.equal(json.code, 0, json.err);
  const doc = JSON.parse(json.out) as { runId: string; stats: { total: number }; ports: { origin: string; status: string }[] };
  assert.equal(doc.stats.total, 2);
  assert.deepEqual(doc.ports.map((x) => x.origin).sort(), ['math/numadd', 'math/numbase']);
});

test(
  'tables fit $COLUMNS: the widest column cut, timestamps shortened, commits 12 characters, report days as dates; --wide and --json whole',
  { skip },
  async () => {
    const p = project(['textproc/gamma']);
    const built = await cli(p.dir, ['reconcile', '--quiet'], env());
    assert.equal(built.code, 0, built.err);
    const head = git(p.tree, 'rev-parse', 'HEAD');

    const history = await cli(p.dir, ['history', 'textproc/gamma'], env('110'));
    assert.equal(history.code, 0, history.err);
    const lines = history.out.trimEnd().split('\n');
    for (const l of lines) assert.ok(l.length <= 110, `fits 110 columns: ${l}`);
    assert.match(
      lines[3]!,
      /^│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │ success │ 2\.1 +│ [\d.]+s │ package +│ manual +│ new: never … │ [0-9a-f-]+… │$/,
    );
    const wide = await cli(p.dir, ['history', 'textproc/gamma', '--wide'], env('110'));
    const full = JSON.parse((await cli(p.dir, ['history', 'textproc/gamma', '--json'], env('110'))).out) as {
      builds: { buildId: string; startedAt: string }[];
    };
    assert.ok(wide.out.includes(`│ ${full.builds[0]!.startedAt} │`), 'the full ISO timestamp with --wide');
    assert.ok(wide.out.includes(full.builds[0]!.buildId), 'the whole build id with --wide');
    assert.ok(wide.out.includes('new: never built'));

    const report = await cli(p.dir, ['report'], env('100'));
    assert.equal(report.code, 0, report.err);
    assert.match(report.out, /Builds and build time per day \(UTC\):\n.*\n│ day +│.*\n.*\n│ \d{4}-\d\d-\d\d │ 3 +│/);
    assert.ok(report.out.includes(` ${head.slice(0, 12)} `), 'the run commit, 12 characters');
    assert.ok(!report.out.includes(head), 'never the whole hash');
    assert.ok((await cli(p.dir, ['report', '--wide'], env('100'))).out.includes(head), 'the whole hash with --wide');
    const json = JSON.parse((await cli(p.dir, ['report', '--json'], env('100'))).out) as {
      buildsPerDay: { day: string }[];
      runs: { git_commit: string }[];
    };
    assert.match(json.buildsPerDay[0]!.day, /^\d{4}-\d\d-\d\dT00:00:00\.000Z$/, '--json unchanged');
    assert.equal(json.runs[0]!.git_commit, head);

    const status = await cli(p.dir, ['status'], env('100'));
    assert.match(
      status.out,
      new RegExp(`^last run: \\S+ success \\(manual at ${head.slice(0, 12)}\\) \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d: 3 ports`, 'm'),
    );
    // origin, version, last build, state (desired versus actual), why, when (seconds, no zone), last phase.
    assert.match(status.out, /│ textproc\/gamma │ 2\.1 +│ success +│ in-sync +│ +│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │ package +│/);
  },
);

test(
  'while the daemon runs: reconcile ORIGIN… is refused naming the daemon, --force is checked by it, --dry-run works',
  { skip },
  async (t) => {
    const p = project(['math/numadd']);
    const daemon = await startDaemon(t, p.config);
    await waitFor(
      'the startup pass',
      async () => {
        const s = (await daemonRequest(daemon.socket, 'GET', '/status?ports=none'))?.body as
          { current: unknown; lastRun: unknown } | undefined;
        return s && !s.current && s.lastRun;
      },
      120_000,
    );
    const only = await cli(p.dir, ['reconcile', 'math/numadd'], env());
    assert.equal(only.code, 2, only.out + only.err);
    assert.match(
      only.err,
      new RegExp(
        `^portsync reconcile: the daemon on ${daemon.socket.replaceAll('.', '\\.')} reconciles every port of builds\\.yaml in each pass and cannot limit one to math/numadd: run portsync reconcile without ORIGIN`,
      ),
    );
    const unknown = await cli(p.dir, ['reconcile', '--force', 'misc/greet'], env());
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /misc\/greet is not in the closure of builds\.yaml's ports/);
    const dry = await cli(p.dir, ['reconcile', '--dry-run', '--force', 'math/numbase'], env());
    assert.equal(dry.code, 1, dry.err);
    assert.match(dry.out, /^build {3}math\/numbase \(numbase-1\.0\) — /m);
    assert.match(dry.out, /^plan: 2 ports: 1 to build, 1 pending/m);
  },
);
