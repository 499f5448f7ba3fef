/**
 * The writer's port_state cache: a write queued while a read runs is never lost (the next read
 * reads that row again), and a failed read leaves everything it was to cover to be read again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortStateCache } from '../src/builddb/portStateCache.js';
import type { KnownStateSummaryRow } from '../src/builddb/types.js';

const row = (origin: string, buildKey: string) => ({ origin, buildKey }) as KnownStateSummaryRow;

test('a row written while the whole table is read is read again next time; a failed read is retried whole', async () => {
  const cache = new PortStateCache<KnownStateSummaryRow>();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const asked: string[][] = [];
  const first = cache.read(
    async () => {
      await gate;
      return [row('a/x', 'k1'), row('b/y', 'k1')];
    },
    async () => [],
  );
  cache.invalidate(['b/y']); // a success recorded while the read runs
  release();
  assert.deepEqual(
    (await first).map((r) => r.buildKey),
    ['k1', 'k1'],
  );
  const second = await cache.read(
    async () => assert.fail('the rest is cached'),
    async (origins) => {
      asked.push([...origins]);
      return [row('b/y', 'k2')];
    },
  );
  assert.deepEqual(asked, [['b/y']], 'the row written during the first read is read again');
  assert.deepEqual(
    second.map((r) => `${r.origin}:${r.buildKey}`),
    ['a/x:k1', 'b/y:k2'],
  );

  cache.invalidate(['a/x']);
  await assert.rejects(
    cache.read(
      async () => assert.fail('not a whole read'),
      async () => {
        throw new Error('database busy');
      },
    ),
    /database busy/,
  );
  const again: string[][] = [];
  await cache.read(
    async () => assert.fail('not a whole read'),
    async (origins) => {
      again.push([...origins]);
      return [row('a/x', 'k3')];
    },
  );
  assert.deepEqual(again, [['a/x']], 'what the failed read was to cover is read again');
});
