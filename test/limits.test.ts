/**
 * Bounded resources (issue 9): limits.cpus, per-port limits, and where the defaults come from.
 * builds.yaml parsing and the pure helpers run anywhere; the build environments are real chroot
 * workers with real cgroups (root), and the per-port limits are read back while a real pass
 * builds a fixture tree whose ports report what their build sees.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigError, type ConfigIssue } from '../src/config/errors.js';
import { DEFAULT_TMPFS } from '../src/config/defaults.js';
import { loadDesiredState } from '../src/config/load.js';
import { limitsFor } from '../src/config/selectors.js';
import type { Limits, PortSelector } from '../src/config/types.js';
import { chrootMountTable, environmentBackend } from '../src/builder/sandbox/index.js';
import { cgroupSupport, cpuQuota, groupDirs, unenforcedLimits } from '../src/builder/sandbox/cgroup.js';
import { describeLimits, envResources } from '../src/builder/task.js';
import { bmakeMissing } from './helpers/minitree.js';
import { REPO, TestProject, rootMissing } from './helpers/project.js';

const tmp = mkdtempSync(join(tmpdir(), 'portsync-limits-'));
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
  rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
function writeConfig(lines: string[]): string {
  const dir = join(tmp, `case${++counter}`);
  mkdirSync(join(dir, 'ports'), { recursive: true });
  const file = join(dir, 'builds.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function issuesOf(lines: string[]): Promise<{ file: string; issues: ConfigIssue[] }> {
  const file = writeConfig(lines);
  const err = await loadDesiredState(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  return { file, issues: err.issues };
}

/** Limits without memory and CPU limits (as builds.yaml's defaults), and with them. */
const BARE: Limits = {
  phaseTimeoutMs: 7_200_000,
  noOutputTimeoutMs: 1_800_000,
  network: 'fetch-only',
  pids: 8192,
  tmpfs: { construction: '50%', localbase: '25%', tmp: '10%' },
};
const GLOBAL: Limits = { ...BARE, memoryBytes: 8 * 2 ** 30, cpus: 2 };
const sel = (pattern: string, limits?: PortSelector['limits']): PortSelector => ({
  pattern,
  isGlob: /[*?[]/.test(pattern),
  vars: {},
  suspend: false,
  ...(limits ? { limits } : {}),
  line: 1,
  col: 1,
});

describe('builds.yaml: limits.cpus and per-port limits', () => {
  test("limits.cpus and a port's own limits are read; what a port does not give stays global", async () => {
    const state = await loadDesiredState(
      writeConfig([
        'portsTree: { path: ports }',
        'limits: { memory: 8g, cpus: 1.5 }',
        'ports:',
        '  - devel/small',
        '  - origin: lang/gcc12',
        '    limits: { memory: 32g, cpus: 3, pids: 20000, phaseTimeout: 8h, noOutputTimeout: 2h, network: never, tmpfs: { construction: 40g } }',
      ]),
    );
    assert.equal(state.limits.cpus, 1.5);
    assert.equal(state.limits.memoryBytes, 8 * 2 ** 30);
    assert.equal(state.ports[0]!.limits, undefined);
    assert.deepEqual(state.ports[1]!.limits, {
      memoryBytes: 32 * 2 ** 30,
      cpus: 3,
      pids: 20000,
      phaseTimeoutMs: 8 * 3_600_000,
      noOutputTimeoutMs: 2 * 3_600_000,
      network: 'never',
      tmpfs: { construction: '40g' },
    });
    // The schema's defaults are not filled into a port's own limits: they would override the global ones.
    const gcc = limitsFor(state.limits, new Map(state.ports.map((s) => [s.pattern, s])), 'lang/gcc12');
    assert.deepEqual(gcc.tmpfs, { construction: '40g', localbase: '25%', tmp: '10%' });
    assert.equal(gcc.memoryBytes, 32 * 2 ** 30);
  });

  test("without limits.cpus there is no CPU limit; the tmpfs defaults are the schema's, and the chroot backend uses the same", async () => {
    const state = await loadDesiredState(writeConfig(['portsTree: { path: ports }', 'ports: []']));
    assert.equal(state.limits.cpus, undefined);
    const schema = JSON.parse(readFileSync(join(REPO, 'schema', 'builds.schema.json'), 'utf8')) as {
      properties: { limits: { properties: { tmpfs: { properties: Record<string, { default: string }> } } } };
    };
    const fromSchema = Object.fromEntries(
      Object.entries(schema.properties.limits.properties.tmpfs.properties).map(([k, v]) => [k, v.default]),
    );
    assert.deepEqual(state.limits.tmpfs, fromSchema);
    assert.deepEqual({ ...DEFAULT_TMPFS }, fromSchema);
    const table = chrootMountTable('/r', { portsTree: '/t', distfiles: '/d', packages: '/p', buildBase: '/b' }, [], '/o');
    const size = (target: string) => /size=([^,]+)/.exec(table.find((m) => m.target === target)!.options)?.[1];
    assert.deepEqual(
      [size('/r/construction'), size('/r/usr/local'), size('/r/tmp')],
      [fromSchema.construction, fromSchema.localbase, fromSchema.tmp],
    );
  });

  test("bad limits, global or a port's, are FILE:LINE:COL errors naming the key, all at once", async () => {
    const { file, issues } = await issuesOf([
      'portsTree: { path: ports }',
      'limits: { cpus: 0, memory: 0g, tmpfs: { tmp: 0m } }',
      'ports:',
      '  - origin: lang/gcc12',
      '    limits:',
      '      memory: lots',
      '      cpus: "2"',
      '      tmpfs: { construction: 0g, work: 1g }',
      '      phaseTimeout: 0',
      '      memroy: 1g',
      '  - { origin: www/big, limits: { memory: 99999999999999999g, pids: 3 } }',
    ]);
    const at = (i: ConfigIssue) => `${i.line}:${i.col} ${i.message}`;
    assert.deepEqual(issues.map(at), [
      '2:17 limits.cpus must be at least 0.01, not 0',
      '2:28 limits.memory: "0g" is zero; give a size above zero, or leave the key out for no limit',
      '2:46 limits.tmpfs.tmp: "0m" is zero; give a size above zero',
      '6:15 ports[0].limits.memory: "lots" does not match ^[0-9]+[kmgtKMGT]$',
      '7:13 ports[0].limits.cpus must be a number, not the string "2"',
      '8:30 ports[0].limits.tmpfs.construction: "0g" is zero; give a size above zero',
      '8:34 unknown key "work" in ports[0].limits.tmpfs (known keys: construction, localbase, tmp)',
      '9:21 ports[0].limits.phaseTimeout must be more than zero',
      '10:7 unknown key "memroy" in ports[0].limits (did you mean "memory"?)',
      '11:42 ports[1].limits.memory: "99999999999999999g" is too large; give a size the machine could have, e.g. 64g',
      '11:68 ports[1].limits.pids must be at least 16, not 3',
    ]);
    assert.ok(issues.every((i) => i.file === file));
  });
});

describe('the limits of one port', () => {
  test("a port's own limits override the global ones key by key, tmpfs sizes one by one; an exact entry beats a glob", () => {
    const selected = new Map([
      ['lang/gcc12', sel('lang/gcc12', { memoryBytes: 32 * 2 ** 30, tmpfs: { construction: '40g' } })],
      ['lang/gcc13', sel('lang/gcc*', { cpus: 1.5 })],
      ['www/firefox', sel('www/firefox')],
    ]);
    const gcc12 = limitsFor(GLOBAL, selected, 'lang/gcc12');
    assert.deepEqual(gcc12, { ...GLOBAL, memoryBytes: 32 * 2 ** 30, tmpfs: { construction: '40g', localbase: '25%', tmp: '10%' } });
    assert.deepEqual(limitsFor(GLOBAL, selected, 'lang/gcc13'), { ...GLOBAL, cpus: 1.5 });
    assert.equal(limitsFor(GLOBAL, selected, 'www/firefox'), GLOBAL, 'an entry without limits: the global ones');
    assert.equal(limitsFor(GLOBAL, selected, 'devel/dep'), GLOBAL, 'a dependency no entry chose: the global ones');
    assert.deepEqual(GLOBAL.tmpfs, { construction: '50%', localbase: '25%', tmp: '10%' }, 'the global limits are not changed');
  });

  test('as with vars, an entry for cat/name@<default flavor> counts for the cat/name node; another flavor has its own', () => {
    const selected = new Map([
      ['lang/py@py312', sel('lang/py@py312', { memoryBytes: 2 ** 30 })],
      ['lang/py@py311', sel('lang/py@py311', { cpus: 4 })],
    ]);
    assert.equal(limitsFor(GLOBAL, selected, 'lang/py', ['py312', 'py311']).memoryBytes, 2 ** 30);
    assert.equal(limitsFor(GLOBAL, selected, 'lang/py', ['py312', 'py311']).cpus, 2);
    assert.equal(limitsFor(GLOBAL, selected, 'lang/py@py311', ['py312', 'py311']).cpus, 4);
  });

  test('cpus become CFS bandwidth per 100 ms period; the environment gets memory, pids, cpus and tmpfs', () => {
    assert.deepEqual(cpuQuota(0.5), { quotaUs: 50_000, periodUs: 100_000 });
    assert.deepEqual(cpuQuota(1.5), { quotaUs: 150_000, periodUs: 100_000 });
    assert.deepEqual(cpuQuota(0.01), { quotaUs: 1000, periodUs: 100_000 });
    assert.deepEqual(envResources(GLOBAL), { tmpfs: GLOBAL.tmpfs, pids: 8192, memoryBytes: 8 * 2 ** 30, cpus: 2 });
    assert.deepEqual(envResources(BARE), { tmpfs: BARE.tmpfs, pids: 8192 });
    assert.match(
      describeLimits(GLOBAL, 'chroot'),
      /^memory 8g; pids 8192; cpus 2; tmpfs \/construction 50%, \/usr\/local 25%, \/tmp 10%; network fetch-only; phase timeout/,
    );
    assert.match(describeLimits(GLOBAL, 'host'), /the host backend applies no other limit/);
  });

  test('what a pass says when the kernel cannot apply a limit: once, naming the limit and why', () => {
    const wanted = { memory: true, pids: true, cpus: true };
    assert.equal(unenforcedLimits({ version: 1 }, wanted), undefined);
    assert.equal(
      unenforcedLimits({ version: 2, noCpu: 'cgroup v2: no cpu' }, { ...wanted, cpus: false }),
      undefined,
      'no cpus set: nothing to say',
    );
    assert.equal(
      unenforcedLimits(
        { version: 2, noCpu: "cgroup v2: the cpu controller is not available to portsync's cgroup /sys/fs/cgroup/x" },
        wanted,
      ),
      "warning: limits.cpus is not enforced in this pass: cgroup v2: the cpu controller is not available to portsync's cgroup /sys/fs/cgroup/x (the memory and pids limits still are)",
    );
    assert.equal(
      unenforcedLimits({ version: 0, why: 'no cgroups here' }, { memory: false, pids: true, cpus: true }),
      'warning: limits.pids and limits.cpus are not enforced in this pass: no cgroups here (tmpfs sizes and time limits still are)',
    );
  });

  test("this machine's cgroups, as probed", () => {
    const s = cgroupSupport();
    if (s.version === 0) assert.match(s.why, /cgroup/);
    else assert.ok(s.noCpu === undefined || /cpu/.test(s.noCpu), JSON.stringify(s));
  });
});

const support = cgroupSupport();
/** Why this machine cannot limit CPU bandwidth, or undefined. */
const cpuWhy = support.version === 0 ? support.why : support.noCpu;
const noCpu = rootMissing() ?? cpuWhy;

/** The file holding a group's CPU limit, and what it says for `cpus`. */
function cpuLimitOf(id: string): { file: string; expect: (cpus: number) => string } {
  if (support.version === 2)
    return { file: join(groupDirs(id, 2).unified!, 'cpu.max'), expect: (c) => `${cpuQuota(c).quotaUs} ${cpuQuota(c).periodUs}` };
  return { file: join(groupDirs(id, 1).cpu!, 'cpu.cfs_quota_us'), expect: (c) => String(cpuQuota(c).quotaUs) };
}
function memoryLimitOf(id: string): string {
  return support.version === 2 ? join(groupDirs(id, 2).unified!, 'memory.max') : join(groupDirs(id, 1).memory!, 'memory.limit_in_bytes');
}

test("limits.cpus 0.5: the environment's cgroup has half a CPU, and a busy loop gets no more", { skip: noCpu ?? false }, async () => {
  const base = join(tmp, 'cpu-env');
  const paths = {
    portsTree: join(base, 'tree'),
    distfiles: join(base, 'distfiles'),
    packages: join(base, 'packages'),
    buildBase: join(base, 'build'),
  };
  mkdirSync(paths.portsTree, { recursive: true });
  const env = await environmentBackend('chroot').create(1, paths, { tmpfs: DEFAULT_TMPFS, pids: 64, cpus: 0.5 });
  try {
    const { file, expect } = cpuLimitOf(env.id);
    assert.equal(readFileSync(file, 'utf8').trim(), expect(0.5));
    let out = '';
    const t0 = performance.now();
    // Two seconds of wall time spent spinning: unlimited, that is two seconds of CPU.
    const r = await env.run({
      argv: ['perl', '-MTime::HiRes=time', '-e', 'my $end = time + 2; my $n = 0; $n++ while time < $end; print "spun $n\\n"'],
      env: { PATH: '/usr/bin:/bin' },
      unprivileged: true,
      onOutput: (c) => (out += c.toString()),
    });
    const wallMs = performance.now() - t0;
    assert.equal(r.exitCode, 0, out);
    const cpuMs = env.usage!()!.cpuMs!;
    // At most half of the wall time (plus a little: the kernel hands out quota in slices), whatever else the machine runs.
    assert.ok(cpuMs <= wallMs * 0.5 + 250, `cpu ${cpuMs} ms over ${Math.round(wallMs)} ms of wall time`);
    assert.ok(cpuMs >= 100, `it did run: ${cpuMs} ms of CPU`);
  } finally {
    await env.destroy();
  }
  assert.equal(existsSync(dirname(cpuLimitOf(env.id).file)), false, 'the group is removed with the environment');
});

const passSkip = bmakeMissing() ?? rootMissing() ?? (support.version === 0 ? support.why : false);

test(
  'one pass, two ports: each build environment gets its own limits (cgroup, tmpfs), read while it runs and from inside',
  { skip: passSkip },
  async () => {
    const p = new TestProject({
      tree: join(REPO, 'test', 'fixtures', 'ports-limits'),
      ports: ['limits/probe', { origin: 'limits/big', limits: { memory: '256m', cpus: 1.5, tmpfs: { construction: '96m' } } }],
      extra: 'limits: { memory: 64m, cpus: 0.5, tmpfs: { construction: 64m } }',
    });
    cleanups.push(() => p.remove());

    // While the pass runs, read every group of this process's environments: what limits they have.
    const seen = new Map<string, { cpu?: string; memory?: string }>();
    const parents = support.version === 2 ? [dirname(groupDirs('x', 2).unified!)] : [dirname(groupDirs('x', 1).memory!)];
    const poll = setInterval(() => {
      for (const parent of parents) {
        for (const id of existsSync(parent) ? readdirSync(parent) : []) {
          try {
            const cpu = cpuWhy ? undefined : readFileSync(cpuLimitOf(id).file, 'utf8').trim();
            const memory = readFileSync(memoryLimitOf(id), 'utf8').trim();
            seen.set(id, { ...(cpu ? { cpu } : {}), memory });
          } catch {
            // made or removed just now
          }
        }
      }
    }, 20);
    let r: Awaited<ReturnType<TestProject['pass']>>;
    try {
      r = await p.pass();
    } finally {
      clearInterval(poll);
    }

    const log = (port: string) => readFileSync(join(p.dir, '.portsync', 'logs', `limits___${port}.log`), 'utf8');
    const envId = (port: string) => {
      const text = log(port);
      const id = /^portsync: environment (\S+):/m.exec(text)?.[1];
      assert.ok(id, `the log names the environment:\n${text}`);
      // The build itself sees its cgroup named after the environment.
      assert.match(text, new RegExp(`^PROBE cgroup .*/portsync/${id}$`, 'm'));
      return id;
    };
    const mount = (port: string, target: string) =>
      new RegExp(`^PROBE mount \\S+ ${target} tmpfs \\S*size=(\\d+)k`, 'm').exec(log(port))?.[1];

    // The big one: its own limits. It takes 96 MiB, more than the global 64m would allow.
    const big = r.ports.find((x) => x.origin === 'limits/big')!;
    assert.equal(big.status, 'success', `${big.error}\n${log('big')}`);
    assert.match(log('big'), /^PROBE allocated 96 MiB$/m);
    assert.match(
      log('big'),
      /^portsync: environment \S+: memory 256m; pids 8192; cpus 1\.5; tmpfs \/construction 96m, \/usr\/local 25%, \/tmp 10%;/m,
    );
    const bigSeen = seen.get(envId('big'));
    assert.equal(bigSeen?.memory, String(256 * 2 ** 20), `its cgroup while it ran: ${JSON.stringify(bigSeen)}`);
    if (!cpuWhy) assert.equal(bigSeen?.cpu, cpuLimitOf('x').expect(1.5));
    assert.equal(mount('big', '/construction'), String(96 * 1024));
    const [rec] = await p.query<{ peak_memory_bytes: number }>("SELECT peak_memory_bytes FROM builds WHERE origin = 'limits/big'");
    assert.ok(Number(rec!.peak_memory_bytes) > 64 * 2 ** 20, `its peak is above the global limit: ${rec!.peak_memory_bytes}`);

    // The probe: the global limits; the same 96 MiB is killed by its memory limit, which the error names.
    const probe = r.ports.find((x) => x.origin === 'limits/probe')!;
    assert.equal(probe.status, 'failed');
    assert.equal(probe.lastPhase, 'build');
    assert.match(probe.error ?? '', /killed by the memory limit \(64m\); raise limits\.memory, or this port's own/);
    assert.equal(probe.transient, true, "a limit is not the port's inputs: the next pass retries it");
    assert.doesNotMatch(log('probe'), /^PROBE allocated/m);
    const probeSeen = seen.get(envId('probe'));
    assert.equal(probeSeen?.memory, String(64 * 2 ** 20), `its cgroup while it ran: ${JSON.stringify(probeSeen)}`);
    if (!cpuWhy) assert.equal(probeSeen?.cpu, cpuLimitOf('x').expect(0.5));
    assert.equal(mount('probe', '/construction'), String(64 * 1024));
    // What neither port overrides is the same for both.
    assert.equal(mount('probe', '/usr/local'), mount('big', '/usr/local'));
    assert.equal(mount('probe', '/tmp'), mount('big', '/tmp'));
    assert.ok(mount('probe', '/tmp'));

    // This machine applies every limit: nothing to say about them.
    assert.ok(!r.lines.some((l) => /not enforced/.test(l)), r.lines.join('\n'));

    // Limits are not part of a build key: changing the big one's rebuilds nothing; raising the probe's memory lets it build.
    p.writeConfig({
      ports: ['limits/probe', { origin: 'limits/big', limits: { memory: '512m' } }],
      extra: 'limits: { memory: 256m, cpus: 0.5, tmpfs: { construction: 64m } }',
    });
    const again = await p.pass();
    assert.deepEqual(Object.fromEntries(again.ports.map((x) => [x.origin, x.status])), {
      'limits/big': 'skipped',
      'limits/probe': 'success',
    });
  },
);
