/**
 * The machine's file-system faults, caused for real (a read-only tmpfs where portsync keeps its
 * state): a clear message naming the path, the cause and the remedy, exit 2, never "internal
 * error" with a stack trace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bmakeMissing } from './helpers/minitree.js';
import { rootMissing, TestProject } from './helpers/project.js';
import { cli } from './helpers/wait.js';

const mountMissing = () => (rootMissing() ? 'mounting a read-only tmpfs needs root (CI runs as root)' : undefined);

test(
  'a read-only state directory (.portsync): plan and reconcile say which path, why and what to do; exit 2',
  { skip: bmakeMissing() || mountMissing() },
  async (t) => {
    const p = new TestProject({ ports: ['misc/help2man'], backend: 'host' });
    const state = join(p.dir, '.portsync');
    mkdirSync(state);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', state]);
    t.after(() => {
      execFileSync('umount', [state]);
      rmSync(p.dir, { recursive: true, force: true });
    });
    for (const command of ['plan', 'reconcile']) {
      const r = await cli(p.dir, [command]);
      assert.equal(r.code, 2, `${command}: ${r.err}`);
      assert.match(
        r.err,
        new RegExp(`portsync ${command}: cannot mkdir ${state}/\\S+: the file system is read-only \\(EROFS\\)\\. .*make them writable`),
        r.err,
      );
      assert.doesNotMatch(r.err, /internal error|\n\s+at /, `${command}: no stack trace`);
    }
  },
);
