/** An agent's job events (src/distributed/eventSender.ts): in order, a burst as one progress update, none left behind. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { EventSender } from '../src/distributed/eventSender.js';
import type { JobEvent, JobProgress } from '../src/distributed/job.js';

const phase = (type: 'phase-start' | 'phase-end', name: string): JobEvent =>
  type === 'phase-start'
    ? { type: 'task', attempt: 'a', event: { type, phase: name, at: 't' } }
    : { type: 'task', attempt: 'a', event: { type, phase: name, startedAt: 't', durationMs: 0, exitCode: 0 } };

test('events sent in one burst go as one update, in order; a later event goes on its own', async () => {
  const updates: JobProgress[] = [];
  const sender = new EventSender(async (p) => updates.push(p));
  const burst = [phase('phase-start', 'fetch'), phase('phase-end', 'fetch'), phase('phase-start', 'build')];
  for (const e of burst) sender.send(e);
  assert.equal(updates.length, 0, 'nothing goes out in the middle of a burst');
  await Promise.resolve();
  assert.deepEqual(updates, [burst]);
  await new Promise((r) => setImmediate(r));
  const alive: JobEvent = { type: 'alive', attempt: 'a' };
  sender.send(alive);
  await Promise.resolve();
  assert.deepEqual(updates, [burst, alive], 'a single event is sent as itself');
});

test('flush sends what waits at once (before the job returns), and a failed update costs nothing but that update', async () => {
  const updates: JobProgress[] = [];
  let fail = true;
  const sender = new EventSender(async (p) => {
    if (fail) {
      fail = false;
      throw new Error('redis went away');
    }
    updates.push(p);
  });
  sender.send({ type: 'alive', attempt: 'a' });
  sender.flush();
  const end = phase('phase-end', 'package');
  sender.send(end);
  sender.flush();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(updates, [end]);
});
