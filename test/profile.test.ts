/**
 * Make profiles (builds.yaml `make.profile`): reading a FreeBSD-family tree with bmake on Linux.
 * The fixture tree (test/fixtures/ports-bsdlike) needs `.include <bsd.port.mk>`, OSVERSION and
 * runs a compiler probe (`_CCVERSION!= ${CC} --version`) whose "compiler" counts its runs.
 * Real bmake, real files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDesiredState } from '../src/config/load.js';
import { ConfigError } from '../src/config/errors.js';
import type { DesiredState } from '../src/config/types.js';
import { lastProbeCache, loadProfile, MakeProfileError, PROFILES_DIR, profileRelative, shippedProfiles } from '../src/ports/profile.js';
import { observe } from '../src/reconcile/observe.js';
import { bmakeMissing } from './helpers/minitree.js';

const skip = bmakeMissing();
if (skip) console.log(`# profile.test.ts skipped: ${skip}`);
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ports-bsdlike');
let root: string;
let counter: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'portsync-profile-'));
  // A copy: the tests change the framework.
  cpSync(join(FIXTURE, 'tree'), join(root, 'tree'), { recursive: true });
  counter = join(root, 'probes.log');
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Compiler probes run so far (lines the fixture's Tools/cc appended). */
const probes = () => (existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);

async function project(name: string, make: string): Promise<DesiredState> {
  const dir = join(root, name);
  const config = join(dir, 'builds.yaml');
  cpSync(join(FIXTURE, 'README.md'), join(dir, 'README.md')); // creates the directory
  writeFileSync(
    config,
    ['portsTree: { path: ../tree }', `make: { command: bmake, ${make} }`, 'environment: { backend: host }', 'ports:\n  - "*/*"', ''].join(
      '\n',
    ),
  );
  return loadDesiredState(config);
}

test('without a profile the tree does not read, and says why (no bsd.port.mk)', { skip }, async () => {
  const state = await project('none', `env: { PROBE_COUNTER: "${counter}" }`);
  const obs = await observe(state);
  assert.equal(obs.scan.ports.size, 0);
  assert.equal(obs.scan.problems.size, 3);
  for (const p of obs.scan.problems.values()) {
    assert.equal(p.kind, 'make-failed');
    assert.match(p.message, /bsd\.port(\.pre)?\.mk/);
  }
});

test('with the profile every port reads, with the target identity; the compiler probe runs once for the whole tree', { skip }, async () => {
  rmSync(counter, { force: true });
  const s = await project('bsdlike', `profile: ${JSON.stringify(join(FIXTURE, 'profile'))}, env: { PROBE_COUNTER: "${counter}" }`);
  const obs = await observe(s);
  assert.deepEqual([...obs.scan.problems.values()], []);
  assert.deepEqual([...obs.scan.ports.keys()].sort(), ['devel/liba', 'misc/osname', 'misc/tool']);
  assert.equal(obs.scan.ports.get('misc/osname')!.meta.pkgname, 'osname-1.0-bsdlike1400000');
  // The probe result (clang) reached the port: tool depends on liba at build time only with clang.
  assert.deepEqual(
    obs.scan.ports.get('misc/tool')!.meta.depends.map((d) => `${d.kind}:${d.origin}`),
    ['BUILD:devel/liba', 'RUN:devel/liba'],
  );
  assert.equal(obs.scan.stats.makeCalls, 3);
  assert.equal(probes(), 1, 'the probe ran when the cache was generated, not once per port');
  const cache = lastProbeCache.get(join(FIXTURE, 'profile'))!;
  assert.equal(cache.generated, true);
  const text = readFileSync(cache.file, 'utf8');
  assert.match(text, /^OSVERSION=\t1400000$/m);
  assert.match(text, /^_CCVERSION_[0-9a-f]+=\tFakeBSD clang version 16\.0\.6 Target: x86_64-unknown-fakebsd14\.0$/m);
  assert.deepEqual(cache.probedOnHost, [`${join(root, 'tree')}/Tools/cc --version`]);

  // Every port changed and read again: the probe cache is reused, no probe runs.
  for (const dir of ['devel/liba', 'misc/osname', 'misc/tool']) appendFileSync(join(root, 'tree', dir, 'Makefile'), '# changed\n');
  const again = await observe(s);
  assert.equal(again.scan.stats.makeCalls, 3);
  assert.equal(lastProbeCache.get(join(FIXTURE, 'profile'))!.generated, false);
  assert.equal(probes(), 1);

  // The profile's files have a location-independent name; so does the probe cache.
  const makefiles = obs.scan.ports.get('devel/liba')!.makefiles();
  const named = makefiles
    .map((f) => profileRelative(f))
    .filter(Boolean)
    .sort();
  assert.deepEqual(named, ['@profile/bsdlike/mk/bsd.port.mk', '@profile/bsdlike/mk/sys.mk', '@profile/bsdlike/probe-cache.mk']);
  assert.equal(profileRelative(join(root, 'tree', 'Mk', 'bsd.mport.mk')), undefined);
  assert.equal(profileRelative(join(PROFILES_DIR, 'midnightbsd', 'mk', 'sys.mk')), '@profile/midnightbsd/mk/sys.mk');
});

test('the probe cache is regenerated when its inputs change, and only then', { skip }, async () => {
  const s = await project('bsdlike', `profile: ${JSON.stringify(join(FIXTURE, 'profile'))}, env: { PROBE_COUNTER: "${counter}" }`);
  await observe(s);
  const before = probes();
  const key = () => lastProbeCache.get(join(FIXTURE, 'profile'))!;
  await observe(s);
  assert.equal(key().generated, false, 'nothing changed');
  const k0 = key().inputsKey;

  // A framework file it was computed from.
  appendFileSync(join(root, 'tree', 'Mk', 'bsd.mport.mk'), '# changed\n');
  const obs = await observe(s);
  assert.equal(key().generated, true);
  assert.notEqual(key().inputsKey, k0);
  assert.equal(probes(), before + 1);
  assert.equal(obs.scan.stats.makeCalls, 3, 'the framework changed: every port is read again');
  await observe(s);
  assert.equal(key().generated, false);

  // make.vars.
  const withVars = await project(
    'bsdlike',
    `profile: ${JSON.stringify(join(FIXTURE, 'profile'))}, env: { PROBE_COUNTER: "${counter}" }, vars: { WITH_DEBUG: "yes" }`,
  );
  await observe(withVars);
  assert.equal(key().generated, true);
  assert.equal(probes(), before + 2);
});

test(
  'the shipped midnightbsd profile reads the tree as MidnightBSD: identity and compiler from the profile, nothing probed',
  { skip },
  async () => {
    assert.ok(shippedProfiles().includes('midnightbsd'));
    rmSync(counter, { force: true });
    const s = await project('midnightbsd', `profile: midnightbsd, env: { PROBE_COUNTER: "${counter}" }`);
    const obs = await observe(s);
    assert.deepEqual([...obs.scan.problems.values()], []);
    const profile = loadProfile('midnightbsd');
    assert.equal(obs.scan.ports.get('misc/osname')!.meta.pkgname, `osname-1.0-midnightbsd${profile.vars.OSVERSION}`);
    // sys.mk sets CC=cc, whose version the profile answers: the host's compiler is never asked.
    assert.equal(probes(), 0);
    const cache = lastProbeCache.get(profile.dir)!;
    const text = readFileSync(cache.file, 'utf8');
    assert.match(text, /^OPSYS=\tMidnightBSD$/m);
    assert.match(text, /MidnightBSD clang version/);
    assert.ok(!text.includes(root), 'no path of this host in the probe cache: it is identified by its content');
  },
);

test('builds.yaml make.profile: a shipped name or a path; anything else is rejected', async () => {
  const dir = join(root, 'config');
  cpSync(join(FIXTURE, 'README.md'), join(dir, 'README.md'));
  const write = (profile: string) => {
    writeFileSync(join(dir, 'builds.yaml'), `portsTree: { path: ../tree }\nmake: { profile: ${profile} }\nports: [ "*/*" ]\n`);
    return loadDesiredState(join(dir, 'builds.yaml'));
  };
  assert.equal((await write('midnightbsd')).make.profile, 'midnightbsd');
  assert.equal((await write('./myprofile')).make.profile, join(dir, 'myprofile'));
  await assert.rejects(write('nosuchos'), (e: unknown) => e instanceof ConfigError && /make\.profile/.test(e.message));
  assert.throws(
    () => loadProfile(join(dir, 'myprofile')),
    (e: unknown) => e instanceof MakeProfileError && /no .*profile\.json/.test(e.message),
  );
  assert.throws(
    () => loadProfile('nosuchos'),
    (e: unknown) => e instanceof MakeProfileError && /shipped profiles: .*midnightbsd/.test(e.message),
  );
});
