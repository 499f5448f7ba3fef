/**
 * The daemon's repeated observations on a real tree with real bmake: what a change hint touches
 * is read again and nothing else (the other ports are the very same objects), and anything that
 * can change the closure — new dependencies, a framework file, a new port directory — walks it
 * all again, so the result is always what a fresh read would give.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { loadDesiredState } from '../src/config/load.js';
import { observe } from '../src/reconcile/observe.js';
import { forgetOpenCaches } from '../src/ports/scanner.js';
import { bmakeMissing } from './helpers/minitree.js';
import { TestProject } from './helpers/project.js';

const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

test(
  'a hinted change re-reads only what it touches; new dependencies, the framework and new ports walk the closure',
  { skip: bmakeMissing() },
  async () => {
    const p = new TestProject({ ports: ['misc/*', 'devel/libbeta'], backend: 'host' });
    projects.push(p);
    const state = await loadDesiredState(p.config);
    const first = await observe(state);
    const n = first.scan.ports.size;
    assert.ok(n >= 7, `the closure: ${[...first.scan.ports.keys()].join(' ')}`);

    // A comment in libalpha: one make call, libalpha a new object, every other port the same one.
    p.append('devel/libalpha/Makefile', '# a comment\n');
    const second = await observe(state, { changed: new Set([p.file('devel/libalpha/Makefile')]) });
    assert.equal(second.scan.stats.makeCalls, 1);
    assert.notEqual(second.scan.ports.get('devel/libalpha'), first.scan.ports.get('devel/libalpha'));
    for (const [o, port] of first.scan.ports)
      if (o !== 'devel/libalpha') assert.equal(second.scan.ports.get(o), port, `${o} was not read again`);
    assert.equal(second.graph.shape, first.graph.shape, 'same dependencies: the graph keeps its shape');

    // libbeta gains a dependency: the closure is walked again and the new edge is there.
    p.append('devel/libbeta/Makefile', 'BUILD_DEPENDS+=\thelp2man:${PORTSDIR}/misc/help2man\n');
    const third = await observe(state, { changed: new Set([p.file('devel/libbeta/Makefile')]) });
    assert.ok(third.graph.node('devel/libbeta').deps.has('misc/help2man'), 'the new dependency is in the graph');
    assert.notEqual(third.graph.shape, second.graph.shape);

    // A new port directory under a glob: the listing is read again and the port is in.
    mkdirSync(p.file('misc/newcomer'));
    writeFileSync(p.file('misc/newcomer/Makefile'), p.read('misc/greet/Makefile').replace(/PORTNAME=\s*greet/, 'PORTNAME=\tnewcomer'));
    writeFileSync(p.file('misc/newcomer/pkg-descr'), 'new\n');
    if (existsSync(p.file('misc/greet/distinfo'))) writeFileSync(p.file('misc/newcomer/distinfo'), p.read('misc/greet/distinfo'));
    const fourth = await observe(state, { changed: new Set([p.file('misc/newcomer')]) });
    assert.ok(fourth.scan.ports.has('misc/newcomer'), [...fourth.scan.ports.keys()].join(' '));

    // A framework makefile: every port is read again.
    appendFileSync(p.file('Mk/bsd.port.mk'), '# framework comment\n');
    const fifth = await observe(state, { changed: new Set([p.file('Mk/bsd.port.mk')]) });
    // (A flavored node's port directory is read for its flavors too, when it is no node itself.)
    const baseReads = new Set(
      [...fifth.scan.ports.keys()]
        .filter((o) => o.includes('@'))
        .map((o) => o.split('@')[0]!)
        .filter((d) => !fifth.scan.ports.has(d)),
    ).size;
    assert.equal(fifth.scan.stats.makeCalls, fifth.scan.ports.size + baseReads, 'every port read again');

    // Whatever the path, the result is what a fresh process reads.
    forgetOpenCaches();
    const fresh = await observe(await loadDesiredState(p.config));
    assert.deepEqual([...fresh.scan.ports.keys()].sort(), [...fifth.scan.ports.keys()].sort());
    for (const [o, port] of fresh.scan.ports) {
      assert.deepEqual(fifth.scan.ports.get(o)!.meta, port.meta, o);
      assert.equal(fifth.scan.ports.get(o)!.portCrc, port.portCrc, o);
    }
  },
);
