/**
 * The plan and the one rebuild decision, without bmake: an observation made by hand (a chain
 * app → libmid → libbase, plus a run-only dependency), decided against recorded states.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredState } from '../src/config/types.js';
import type { BuildKeyParts, Cascade, DependencyFact } from '../src/fingerprint/types.js';
import { buildGraph } from '../src/graph/graph.js';
import type { ScanResult } from '../src/ports/scanner.js';
import type { ScannedPort } from '../src/ports/types.js';
import type { DepKind, PortMeta } from '../src/ports/types.js';
import { decide, KEY_PARTS_NOT_READ, settleDependencies, type KnownPortState } from '../src/reconcile/decide.js';
import type { Observation } from '../src/reconcile/observe.js';
import { environmentIdentity, isPlannedWork, makePlan, makePlanReadingParts, type Plan } from '../src/reconcile/plan.js';

const MK = Object.freeze({ 'Mk/bsd.port.mk': '11111111' });
const FRAMEWORK = Object.freeze({ 'Mk/Scripts/package.sh': '22222222' });

interface FakePort {
  origin: string;
  version?: string;
  crc?: string;
  deps?: [string, DepKind][];
  ignore?: string;
}

function state(dir: string, cascade: Cascade, tree = join(dir, 'ports')): DesiredState {
  return {
    file: join(dir, 'builds.yaml'),
    dir,
    portsTree: { path: tree, source: 'worktree', branch: 'main' },
    make: { command: 'bmake', env: { MAKESYSPATH: join(tree, 'Mk') }, vars: {} },
    paths: {
      buildBase: join(dir, 'b'),
      packages: join(dir, 'pkgs'),
      distfiles: join(dir, 'd'),
      logs: join(dir, 'l'),
      database: join(dir, 'db'),
    },
    workers: 1,
    makeJobs: 1,
    environment: { backend: 'chroot' },
    limits: {
      phaseTimeoutMs: 1000,
      noOutputTimeoutMs: 1000,
      network: 'fetch-only',
      pids: 8192,
      tmpfs: { construction: '50%', localbase: '25%', tmp: '10%' },
    },
    ports: [],
    policy: { cascade, prune: false },
    warnings: [],
    watch: { resyncIntervalMs: 1000, debounceMs: 0 },
    server: { socket: join(dir, 's'), webhookSecretEnv: 'X', allowInsecure: false },
    hooks: { commands: {}, timeoutMs: 1000 },
    notify: [],
    repository: { catalogTimeoutMs: 1000, name: 'portsync', keep: 2 },
    logs: { keep: 5 },
  };
}

function observation(ports: FakePort[], cascade: Cascade = 'output', dir = mkdtempSync(join(tmpdir(), 'portsync-plan-'))): Observation {
  const scanned = new Map<string, ScannedPort>();
  for (const p of ports) {
    const name = p.origin.split('/')[1]!;
    const version = p.version ?? '1.0';
    const meta: PortMeta = {
      origin: p.origin,
      dir: p.origin,
      flavor: '',
      flavors: [],
      pkgname: `${name}-${version}`,
      version,
      pkgfile: `${name}-${version}.tgz`,
      distfiles: [],
      distSubdir: '',
      ignore: p.ignore ?? '',
      selectedOptions: [],
      deselectedOptions: [],
      warnings: [],
      vars: {},
      depends: (p.deps ?? []).map(([origin, kind]) => ({ kind, target: 'x', origin, raw: `x:${origin}` })),
    };
    scanned.set(p.origin, { meta, portCrc: p.crc ?? '0000000a', inputs: MK, makefiles: () => [] });
  }
  const scan = {
    ports: scanned,
    problems: new Map(),
    roots: ports.map((p) => p.origin),
    frameworkFiles: FRAMEWORK,
    resolve: (o: string) => (scanned.has(o) ? o : undefined),
    stats: { ports: scanned.size, makeCalls: 0, cached: 0, durationMs: 0, dirsRehashed: 0 },
  } as unknown as ScanResult;
  const s = state(dir, cascade);
  return { state: s, tree: s.portsTree.path, scan, graph: buildGraph(scan.roots, scan), cycles: [], selected: new Map(), emptyGlobs: [] };
}

const CHAIN: FakePort[] = [
  { origin: 'devel/libbase' },
  { origin: 'devel/libmid', deps: [['devel/libbase', 'LIB']] },
  { origin: 'misc/docs' },
  {
    origin: 'www/app',
    deps: [
      ['devel/libmid', 'LIB'],
      ['misc/docs', 'RUN'],
    ],
  },
];

/** Records every port of a plan as built (keys, parts, and a package identity per port). */
function recordAll(plan: Plan, identity: (origin: string) => string = (o) => `pkg-of-${o}`): Map<string, KnownPortState> {
  const known = new Map<string, KnownPortState>();
  const settled = new Map<string, { key: string; package: { identity: string; shlibs: string[] } }>();
  for (const p of plan.ports) {
    const parts = settleDependencies(p.keyParts!, settled);
    const d = decide({ parts, known: undefined, cascade: plan.cascade, pkgExists: false, pkgfile: '', forced: false });
    assert.equal(d.action, 'build');
    const key = (d as { key: string }).key;
    const pkg = { identity: identity(p.origin), shlibs: [`lib${p.origin.split('/')[1]}.so.1`] };
    settled.set(p.origin, { key, package: pkg });
    known.set(p.origin, { buildKey: key, keyParts: parts, failedKey: null, package: pkg });
  }
  return known;
}

const actions = (plan: Plan) => Object.fromEntries(plan.ports.map((p) => [p.origin, p.action]));

test("never built: everything builds, dependencies first, the dependents' keys waiting for their dependencies", () => {
  const plan = makePlan(observation(CHAIN), { known: new Map() });
  assert.deepEqual(
    plan.ports.map((p) => [p.origin, p.action]),
    [
      ['devel/libbase', 'build'],
      ['devel/libmid', 'build'],
      ['misc/docs', 'build'],
      ['www/app', 'build'],
    ],
  );
  assert.ok(plan.ports[0]!.buildKey, 'a port without dependencies has its key');
  assert.equal(plan.ports[1]!.buildKey, undefined, "libmid's key needs libbase's package");
  assert.deepEqual(plan.ports[1]!.reasons, [{ kind: 'new', detail: 'never built' }]);
});

test('output cascade: a changed port builds, what sits above it is pending; packages missing from the repository rebuild', () => {
  const built = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  const missing = makePlan(observation(CHAIN), { known: built });
  assert.ok(
    missing.ports.every((p) => p.action === 'build' && p.reasons.some((r) => r.kind === 'package-missing')),
    'an empty repository: every port is package-missing',
  );
  const same = makePlan(withRepository(observation(CHAIN)), { known: built });
  assert.deepEqual(same.summary, { total: 4, build: 0, skip: 4, pending: 0, ignored: 0, blocked: 0, prune: 0 });

  const present = makePlan(withRepository(observation(CHAIN.map((p) => (p.origin === 'devel/libbase' ? { ...p, crc: '0000000b' } : p)))), {
    known: built,
  });
  assert.deepEqual(actions(present), { 'devel/libbase': 'build', 'devel/libmid': 'pending', 'misc/docs': 'skip', 'www/app': 'pending' });
  assert.deepEqual(present.summary, { total: 4, build: 1, skip: 1, pending: 2, ignored: 0, blocked: 0, prune: 0 });
  const mid = present.ports[1]!;
  assert.ok(isPlannedWork(mid));
  assert.deepEqual(mid.waitingOn, ['devel/libbase']);
  assert.equal(present.ports[1]!.reasons[0]!.detail, "rebuilds only if devel/libbase's package changes");
  assert.deepEqual(
    present.ports[0]!.reasons.map((r) => r.kind),
    ['port-changed'],
  );
});

test('pending without reading the recorded parts: the key with the pending dependencies as last built is the recorded one', () => {
  const recorded = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  // As the database hands them out: with the version built, the parts read only when asked for.
  const read = new Set<string>();
  const versions = new Map(makePlan(observation(CHAIN), { known: new Map() }).ports.map((p) => [p.origin, p.version]));
  const known = new Map(
    [...recorded].map(([o, k]) => [
      o,
      {
        ...k,
        version: versions.get(o)!,
        get keyParts() {
          read.add(o);
          return k.keyParts;
        },
      } satisfies KnownPortState,
    ]),
  );
  const change = (changes: Record<string, Partial<FakePort>>) =>
    makePlan(withRepository(observation(CHAIN.map((p) => ({ ...p, ...changes[p.origin] })))), { known });

  const hub = change({ 'devel/libbase': { crc: '0000000b' } });
  assert.deepEqual(actions(hub), { 'devel/libbase': 'build', 'devel/libmid': 'pending', 'misc/docs': 'skip', 'www/app': 'pending' });
  assert.deepEqual([...read], ['devel/libbase'], 'only the changed port is compared part by part');
  assert.equal(hub.ports[1]!.reasons[0]!.detail, "rebuilds only if devel/libbase's package changes");

  // Its own inputs changed too: not pending, and why is said part by part.
  const both = change({ 'devel/libbase': { crc: '0000000b' }, 'devel/libmid': { crc: '0000000c' } });
  assert.equal(actions(both)['devel/libmid'], 'build');
  assert.deepEqual(
    both.ports[1]!.reasons.map((r) => r.kind),
    ['port-changed'],
  );

  // A new version of the dependency is a new package, known before it is built.
  const bumped = change({ 'devel/libbase': { crc: '0000000b', version: '2.0' } });
  assert.equal(actions(bumped)['devel/libmid'], 'build');
  assert.match(bumped.ports[1]!.reasons[0]!.detail, /^dependency devel\/libbase version changed \(1\.0 -> 2\.0\)$/);
});

test('known states without their key parts: the same plan, reading the parts of only the ports whose own inputs changed', async () => {
  const recorded = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  const versions = new Map(makePlan(observation(CHAIN), { known: new Map() }).ports.map((p) => [p.origin, p.version]));
  const whole = new Map([...recorded].map(([o, k]) => [o, { ...k, version: versions.get(o)! }]));
  // (New objects each time: a state completed with its parts once is taken completed by later plans.)
  const withoutParts = () => new Map([...whole].map(([o, k]) => [o, { ...k, keyParts: KEY_PARTS_NOT_READ } satisfies KnownPortState]));
  const decisions = (plan: Plan) => plan.ports.map((p) => ({ origin: p.origin, action: p.action, reasons: p.reasons, key: p.buildKey }));
  for (const [what, changes, readExpected] of [
    ['nothing changed', {}, []],
    ['the hub changed', { 'devel/libbase': { crc: '0000000b' } }, ['devel/libbase']],
    [
      'the hub and a dependent',
      { 'devel/libbase': { crc: '0000000b' }, 'devel/libmid': { crc: '0000000c' } },
      ['devel/libbase', 'devel/libmid'],
    ],
    // (the dependent compares its parts: the pending shortcut does not hold across a version change)
    ['a new version of the hub', { 'devel/libbase': { crc: '0000000b', version: '2.0' } }, ['devel/libbase', 'devel/libmid']],
  ] as [string, Record<string, Partial<FakePort>>, string[]][]) {
    const obs = () => withRepository(observation(CHAIN.map((p) => ({ ...p, ...changes[p.origin] }))));
    const expected = makePlan(obs(), { known: whole });
    const asked: string[][] = [];
    const plan = await makePlanReadingParts(obs(), { known: withoutParts() }, async (origins) => {
      asked.push([...origins]);
      return new Map(origins.map((o) => [o, whole.get(o)!]));
    });
    assert.deepEqual(decisions(plan), decisions(expected), what);
    assert.deepEqual(plan.keyPartsNotRead, [], what);
    assert.deepEqual(asked, readExpected.length ? [readExpected] : [], `${what}: the parts read`);
  }
  // The first plan alone says which ports wait for their parts, provisionally to build.
  const first = makePlan(withRepository(observation(CHAIN.map((p) => (p.origin === 'devel/libmid' ? { ...p, crc: '0000000c' } : p)))), {
    known: withoutParts(),
  });
  assert.deepEqual(first.keyPartsNotRead, ['devel/libmid']);
  assert.equal(actions(first)['devel/libmid'], 'build');
  // Parts that cannot be read after all (the fail-safe store answers nothing): built as a port without recorded parts.
  const unreadable = await makePlanReadingParts(
    withRepository(observation(CHAIN.map((p) => (p.origin === 'devel/libmid' ? { ...p, crc: '0000000c' } : p)))),
    { known: withoutParts() },
    async () => new Map(),
  );
  assert.deepEqual(unreadable.keyPartsNotRead, []);
  assert.equal(actions(unreadable)['devel/libmid'], 'build');
  assert.equal(unreadable.ports.find((p) => p.origin === 'devel/libmid')!.reasons[0]!.kind, 'new');

  // A long-lived process (the daemon): its memo names the ports decided anew, whose parts are read
  // before the plan; while a port's state is unchanged, its parts are not read again.
  const daemonKnown = withoutParts();
  const asked: string[][] = [];
  const reader = async (origins: readonly string[]) => {
    asked.push([...origins]);
    return new Map(origins.map((o) => [o, whole.get(o)!]));
  };
  let obs = withRepository(observation(CHAIN));
  await makePlanReadingParts(obs, { known: daemonKnown }, reader);
  assert.deepEqual(asked, [], 'nothing changed: no parts read');
  obs = withCrc(obs, 'devel/libbase', '0000000b');
  const changed = await makePlanReadingParts(obs, { known: daemonKnown }, reader);
  assert.deepEqual(asked, [['devel/libbase']], 'the changed port, read once, before the plan');
  assert.deepEqual(decisions(changed), decisions(makePlan({ ...obs, state: { ...obs.state } }, { known: whole })));
  const again = await makePlanReadingParts(obs, { known: daemonKnown }, reader);
  assert.deepEqual(asked, [['devel/libbase']], 'its state unchanged: its parts are not read again');
  assert.deepEqual(decisions(again), decisions(changed));
});

/** The observation with one port's CRC (and so its ScannedPort) replaced; every other port keeps its object, as in the daemon. */
function withCrc(obs: Observation, origin: string, crc: string): Observation {
  const scanned = new Map(obs.scan.ports);
  scanned.set(origin, { ...scanned.get(origin)!, portCrc: crc });
  const scan = { ...obs.scan, ports: scanned } as ScanResult;
  return { ...obs, scan, graph: buildGraph(scan.roots, scan) };
}

/** The observation with every planned package file present in its repository. */
function withRepository(obs: Observation): Observation {
  const all = join(obs.state.paths.packages, 'All');
  mkdirp(all);
  for (const p of obs.scan.ports.values()) touch(join(all, p.meta.pkgfile));
  return obs;
}

const mkdirp = (d: string) => mkdirSync(d, { recursive: true });
const touch = (f: string) => writeFileSync(f, '');

test('after the dependency is built: same package → cut off (skip), another package → build naming it', () => {
  const known = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  const plan = makePlan(withRepository(observation(CHAIN.map((p) => (p.origin === 'devel/libbase' ? { ...p, crc: '0000000b' } : p)))), {
    known,
  });
  const mid = plan.ports.find((p) => p.origin === 'devel/libmid')!;
  const decideWith = (identity: string) =>
    decide({
      parts: settleDependencies(
        mid.keyParts!,
        new Map([['devel/libbase', { key: 'k'.repeat(64), package: { identity, shlibs: ['libbase.so.1'] } }]]),
      ),
      known: plan.known.get('devel/libmid'),
      cascade: 'output',
      pkgExists: true,
      pkgfile: mid.pkgfile!,
      forced: false,
    });
  assert.equal(decideWith('pkg-of-devel/libbase').action, 'skip');
  const changed = decideWith('another-package');
  assert.equal(changed.action, 'build');
  assert.match(changed.reasons[0]!.detail, /^dependency devel\/libbase package changed \(pkg-of-devel -> another-pack\)$/);
  assert.ok((changed as { key?: string }).key, 'the key is final once every dependency is settled');
});

test('version, inputs and none cascades decide at plan time where they can', () => {
  const changedBase = (cascade: Cascade, version = '1.0') =>
    withRepository(
      observation(
        CHAIN.map((p) => (p.origin === 'devel/libbase' ? { ...p, crc: '0000000b', version } : p)),
        cascade,
      ),
    );
  const knownFor = (cascade: Cascade) => recordAll(makePlan(observation(CHAIN, cascade), { known: new Map() }));
  // version: libmid is a LIB_DEPENDS of libbase → waits for its shared libraries; app's LIB dep libmid is pending too.
  assert.deepEqual(actions(makePlan(changedBase('version'), { known: knownFor('version') })), {
    'devel/libbase': 'build',
    'devel/libmid': 'pending',
    'misc/docs': 'skip',
    'www/app': 'pending',
  });
  // version: a new version is known before the build: libmid builds at once.
  const bumped = makePlan(changedBase('version', '1.1'), { known: knownFor('version') });
  assert.equal(actions(bumped)['devel/libmid'], 'build');
  assert.equal(bumped.ports[1]!.reasons[0]!.detail, 'dependency devel/libbase version changed (1.0 -> 1.1)');
  // inputs: keys are known at plan time, so the whole chain builds now.
  assert.deepEqual(actions(makePlan(changedBase('inputs'), { known: knownFor('inputs') })), {
    'devel/libbase': 'build',
    'devel/libmid': 'build',
    'misc/docs': 'skip',
    'www/app': 'build',
  });
  // none: dependents never follow.
  assert.deepEqual(actions(makePlan(changedBase('none'), { known: knownFor('none') })), {
    'devel/libbase': 'build',
    'devel/libmid': 'skip',
    'misc/docs': 'skip',
    'www/app': 'skip',
  });
});

test('a run-only dependency counts by its version under output: a content change does not reach the dependent', () => {
  const known = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  const docsChanged = makePlan(withRepository(observation(CHAIN.map((p) => (p.origin === 'misc/docs' ? { ...p, crc: '0000000c' } : p)))), {
    known,
  });
  assert.deepEqual(actions(docsChanged), { 'devel/libbase': 'skip', 'devel/libmid': 'skip', 'misc/docs': 'build', 'www/app': 'skip' });
  const docsBumped = makePlan(withRepository(observation(CHAIN.map((p) => (p.origin === 'misc/docs' ? { ...p, version: '2.0' } : p)))), {
    known,
  });
  assert.equal(actions(docsBumped)['www/app'], 'build');
});

test('failed at these inputs is blocked until they change or it is forced; forced builds', () => {
  const known = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  const obs = withRepository(observation(CHAIN.map((p) => (p.origin === 'misc/docs' ? { ...p, crc: '0000000c' } : p))));
  const docsKey = makePlan(obs, { known }).ports.find((p) => p.origin === 'misc/docs')!.buildKey!;
  known.set('misc/docs', { ...known.get('misc/docs')!, failedKey: docsKey });
  const plan = makePlan(obs, { known });
  assert.equal(actions(plan)['misc/docs'], 'blocked');
  assert.deepEqual(plan.ports.find((p) => p.origin === 'misc/docs')!.reasons, [
    { kind: 'failed', detail: 'failed at these inputs; change them or --force' },
  ]);
  assert.equal(actions(plan)['www/app'], 'blocked', 'its dependent cannot build either');
  assert.equal(actions(makePlan(obs, { known, force: new Set(['misc/docs']) }))['misc/docs'], 'build');
});

test('keys hold no host path: the same project in two places gives the same keys', () => {
  const a = makePlan(observation(CHAIN, 'output', mkdtempSync(join(tmpdir(), 'portsync-here-'))), { known: new Map() });
  const b = makePlan(observation(CHAIN, 'output', mkdtempSync(join(tmpdir(), 'portsync-there-'))), { known: new Map() });
  assert.equal(a.ports[0]!.buildKey, b.ports[0]!.buildKey);
  const env = environmentIdentity(a.observation.state, a.observation.tree);
  assert.equal(env.makeEnv, JSON.stringify([['MAKESYSPATH', '@tree/Mk']]));
});

test('a dependency fact recorded before 0.2 (a build key string) compares by key', () => {
  const legacy: BuildKeyParts = {
    portCrc: '0000000a',
    makefiles: MK,
    framework: FRAMEWORK,
    vars: {},
    options: [],
    environment: {},
    dependencies: { 'devel/libbase': 'a'.repeat(64) },
  };
  const fact = (key: string): DependencyFact => ({ use: 'build', lib: true, version: '1.0', key, package: 'p' });
  const known: KnownPortState = { buildKey: 'x'.repeat(64), keyParts: legacy, failedKey: null, package: null };
  const input = (key: string) => ({
    parts: { ...legacy, dependencies: { 'devel/libbase': fact(key) } },
    known,
    cascade: 'output' as Cascade,
    pkgExists: true,
    pkgfile: 'f',
    forced: false,
  });
  const same = decide(input('a'.repeat(64)));
  assert.equal(same.action, 'skip', JSON.stringify(same.reasons));
  assert.equal(decide(input('b'.repeat(64))).action, 'build');
  assert.deepEqual(
    decide(input('b'.repeat(64))).reasons.map((r) => r.detail),
    ['dependency devel/libbase key changed'],
  );
});

test('two ports that write one package file are both blocked, each naming the other', () => {
  const plan = makePlan(observation([...CHAIN, { origin: 'misc/docs2' }]), { known: new Map() });
  // misc/docs2's package is docs2-1.0.tgz: no clash; give it docs' name.
  assert.equal(actions(plan)['misc/docs2'], 'build');
  const obs = observation([...CHAIN, { origin: 'misc/docs2' }]);
  obs.scan.ports.get('misc/docs2')!.meta.pkgfile = 'docs-1.0.tgz';
  const clash = makePlan(obs, { known: new Map() });
  assert.equal(actions(clash)['misc/docs'], 'blocked');
  assert.equal(actions(clash)['misc/docs2'], 'blocked');
  assert.equal(actions(clash)['www/app'], 'blocked', 'what needs one of them waits');
  assert.deepEqual(clash.ports.find((p) => p.origin === 'misc/docs')!.reasons[0], {
    kind: 'duplicate-package',
    detail: 'docs-1.0.tgz is also the package of misc/docs2; two ports may not write one package',
    items: ['misc/docs', 'misc/docs2'],
  });
  assert.ok(
    clash.problems.includes(
      'misc/docs and misc/docs2 both produce docs-1.0.tgz: give one of them another PKGNAME (PKGNAMESUFFIX, a flavor) or drop one from builds.yaml',
    ),
  );
});

test('the plan memo of a long-lived process decides like a fresh plan through every change, stopping where a decision looks the same to its dependents', () => {
  const ports: FakePort[] = [
    ...CHAIN,
    { origin: 'lang/old', ignore: 'too old' },
    { origin: 'misc/user', deps: [['lang/old', 'BUILD']] },
    {
      origin: 'misc/top',
      deps: [
        ['misc/user', 'BUILD'],
        ['devel/libbase', 'BUILD'],
      ],
    },
  ];
  const first = withRepository(observation(ports));
  const known = recordAll(makePlan(observation(CHAIN), { known: new Map() }));
  const fresh = (obs: Observation) => makePlan({ ...obs, state: { ...obs.state } }, { known }).ports;
  let obs = first;
  const steps: [string, string, Record<string, string>][] = [
    ['devel/libbase', '0000000a', { 'devel/libbase': 'skip', 'devel/libmid': 'skip', 'www/app': 'skip', 'misc/top': 'blocked' }],
    ['devel/libbase', '0000000b', { 'devel/libbase': 'build', 'devel/libmid': 'pending', 'www/app': 'pending', 'misc/top': 'blocked' }],
    ['devel/libbase', '0000000c', { 'devel/libbase': 'build', 'devel/libmid': 'pending', 'www/app': 'pending', 'misc/top': 'blocked' }],
    ['devel/libbase', '0000000a', { 'devel/libbase': 'skip', 'devel/libmid': 'skip', 'www/app': 'skip', 'misc/top': 'blocked' }],
    ['misc/docs', '0000000d', { 'misc/docs': 'build', 'www/app': 'skip' }],
  ];
  for (const [origin, crc, expected] of steps) {
    obs = withCrc(obs, origin, crc);
    const memoized = makePlan(obs, { known });
    assert.deepEqual(memoized.ports, fresh(obs), `${origin} at ${crc}: the memo decides as a fresh plan`);
    const got = actions(memoized);
    for (const [o, a] of Object.entries(expected)) assert.equal(got[o], a, `${origin} at ${crc}: ${o}`);
  }
  // A blocked port's reason is what its dependents repeat: a new one reaches them, though nothing else changed.
  const scanned = new Map(obs.scan.ports);
  const old = scanned.get('lang/old')!;
  scanned.set('lang/old', { ...old, meta: { ...old.meta, ignore: 'broken on this release' } });
  const scan = { ...obs.scan, ports: scanned } as ScanResult;
  obs = { ...obs, scan, graph: buildGraph(scan.roots, scan) };
  const memoized = makePlan(obs, { known });
  assert.deepEqual(memoized.ports, fresh(obs), 'a new ignore reason: the memo decides as a fresh plan');
  assert.match(memoized.ports.find((p) => p.origin === 'misc/top')!.reasons[0]!.detail, /broken on this release/);
});
