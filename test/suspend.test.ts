/**
 * `portsync suspend` / `resume`: builds.yaml edited in place — only the port's entry changes,
 * comments and alignment stay byte for byte — and, in commit mode, committed alone to a real git
 * repository with a message saying what; an origin outside the desired state is exit 2.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDesiredState } from '../src/config/load.js';
import { setSuspended } from '../src/config/suspend.js';
import { bmakeMissing } from './helpers/minitree.js';
import { runNamed as run } from './helpers/cli.js';
import { EXAMPLE_TREE } from './helpers/project.js';

const skip = bmakeMissing();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const YAML = `# the desired state
portsTree: { path: ports, source: worktree, branch: main }
make: { command: bmake, env: { MAKESYSPATH: ./ports/Mk } }
environment: { backend: host }
ports:
  - misc/help2man        # man pages
  - "textproc/*"
  - origin: misc/greet
    vars: { GREETING: "Hi" }   # friendlier
policy:
  cascade: output        # early cutoff
`;

function project(yaml = YAML): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-suspend-'));
  chmodSync(dir, 0o755); // the tree is read as the unprivileged reader, as in production
  dirs.push(dir);
  cpSync(EXAMPLE_TREE, join(dir, 'ports'), { recursive: true });
  writeFileSync(join(dir, 'builds.yaml'), yaml);
  return { dir, config: join(dir, 'builds.yaml') };
}

/** The lines of `after` that are not in `before`, and those of `before` not in `after`. */
function lineDiff(before: string, after: string): { added: string[]; removed: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  return { added: b.filter((l) => !a.includes(l)), removed: a.filter((l) => !b.includes(l)) };
}

test('setSuspended edits flow and block entries, adds one for a port no entry names, and resumes to the text it started from', () => {
  for (const [origin, entry] of [
    ['misc/help2man', '  - { origin: misc/help2man, suspend: true }        # man pages'],
    ['devel/libalpha', '  - { origin: devel/libalpha, suspend: true }'],
  ] as const) {
    const on = setSuspended(YAML, 'f', origin, true, (p) => p === origin);
    assert.deepEqual(lineDiff(YAML, on.text).added, [entry]);
    const off = setSuspended(on.text, 'f', origin, false, (p) => p === origin);
    assert.equal(off.change, 'changed');
    if (origin === 'misc/help2man') assert.equal(off.text, YAML, 'back to the very same text');
  }
  const block = setSuspended(YAML, 'f', 'misc/greet', true, (p) => p === 'misc/greet');
  assert.deepEqual(lineDiff(YAML, block.text), { added: ['    suspend: true'], removed: [] });
  assert.equal(setSuspended(block.text, 'f', 'misc/greet', false, (p) => p === 'misc/greet').text, YAML);
  const flow = 'ports: [misc/a, { origin: misc/b, vars: { X: "1" } }]\n';
  const fb = setSuspended(flow, 'f', 'misc/b', true, (p) => p === 'misc/b').text;
  assert.equal(fb, 'ports: [misc/a, { origin: misc/b, vars: { X: "1" }, suspend: true }]\n');
  assert.equal(setSuspended(fb, 'f', 'misc/b', false, (p) => p === 'misc/b').text, flow);
  assert.equal(
    setSuspended(flow, 'f', 'misc/c', true, (p) => p === 'misc/c').text,
    'ports: [misc/a, { origin: misc/b, vars: { X: "1" } }, { origin: misc/c, suspend: true }]\n',
  );
});

test('suspend and resume edit builds.yaml in place; unknown origins are exit 2', { skip }, async () => {
  const p = project();
  const s = await run('suspend', p.config, ['misc/greet', 'devel/libalpha']);
  assert.equal(s.code, 0, s.err);
  assert.match(s.out, /misc\/greet suspended\ndevel\/libalpha suspended \(a new entry in ports:\)/);
  const text = readFileSync(p.config, 'utf8');
  assert.deepEqual(lineDiff(YAML, text), { added: ['    suspend: true', '  - { origin: devel/libalpha, suspend: true }'], removed: [] });
  const state = await loadDesiredState(p.config);
  assert.deepEqual(
    state.ports.filter((x) => x.suspend).map((x) => x.pattern),
    ['misc/greet', 'devel/libalpha'],
  );
  const plan = JSON.parse((await run('plan', p.config, ['--json'])).out);
  assert.equal(plan.ports.find((x: { origin: string }) => x.origin === 'misc/greet').reasons[0].kind, 'suspended');

  const again = await run('suspend', p.config, ['misc/greet']);
  assert.equal(again.code, 0);
  assert.match(again.out, /misc\/greet is already suspended/);
  assert.equal(readFileSync(p.config, 'utf8'), text);

  const bad = await run('suspend', p.config, ['misc/nosuchport']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /misc\/nosuchport is not in the closure of builds\.yaml's ports/);
  assert.equal(readFileSync(p.config, 'utf8'), text, 'nothing written');

  const r = await run('resume', p.config, ['misc/greet']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(lineDiff(YAML, readFileSync(p.config, 'utf8')), {
    added: ['  - { origin: devel/libalpha, suspend: true }'],
    removed: [],
  });
  assert.match((await run('resume', p.config, ['misc/help2man'])).out, /misc\/help2man is not suspended/);
});

test(
  'commit mode: the edit is committed alone, with a message; a dirty builds.yaml or another branch is refused first',
  { skip },
  async () => {
    const p = project(YAML.replace('source: worktree', 'source: commit'));
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', ...args], { cwd: p.dir, encoding: 'utf8' }).trim();
    writeFileSync(join(p.dir, '.gitignore'), '.portsync/\n');
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'initial');
    writeFileSync(join(p.dir, 'unrelated.txt'), 'staged, not to be committed\n');
    git('add', 'unrelated.txt');

    const s = await run('suspend', p.config, ['misc/help2man']);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /committed [0-9a-f]{12} on main: portsync suspend misc\/help2man/);
    assert.equal(git('log', '-1', '--format=%s'), 'portsync suspend misc/help2man');
    assert.match(git('log', '-1', '--format=%b'), /never built, never pruned/);
    assert.deepEqual(git('show', '--name-only', '--format=', 'HEAD').split('\n'), ['builds.yaml']);
    assert.equal(git('status', '--porcelain'), 'A  unrelated.txt', 'the staged file stays staged, uncommitted');
    // Passes read the committed builds.yaml: the port is suspended there.
    assert.match(git('show', 'HEAD:builds.yaml'), /\{ origin: misc\/help2man, suspend: true \}/);

    writeFileSync(p.config, readFileSync(p.config, 'utf8') + '# an edit of my own\n');
    const dirty = await run('resume', p.config, ['misc/help2man']);
    assert.equal(dirty.code, 2);
    assert.match(dirty.err, /cannot commit .*builds\.yaml: it has changes that are not committed/);
    git('checkout', '--', 'builds.yaml');
    git('checkout', '-q', '-b', 'other');
    const branch = await run('resume', p.config, ['misc/help2man']);
    assert.equal(branch.code, 2);
    assert.match(branch.err, /has branch other checked out, not main/);
    git('checkout', '-q', 'main');
    const r = await run('resume', p.config, ['misc/help2man']);
    assert.equal(r.code, 0, r.err);
    assert.equal(git('log', '-1', '--format=%s'), 'portsync resume misc/help2man');
    assert.equal(git('show', 'HEAD:builds.yaml'), YAML.replace('source: worktree', 'source: commit').trimEnd());
  },
);
