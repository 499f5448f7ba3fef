/** Webhook signature checks and the per-address rate limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../src/server/ratelimit.js';
import { signBody, verifySignature } from '../src/signature.js';

test('X-Hub-Signature-256 is checked against the raw body', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const good = signBody('s3cret', body);
  assert.match(good, /^sha256=[0-9a-f]{64}$/);
  assert.equal(verifySignature('s3cret', body, good), true);
  assert.equal(verifySignature('s3cret', body, good.toUpperCase().replace('SHA256', 'sha256')), true);
  assert.equal(verifySignature('other', body, good), false);
  assert.equal(verifySignature('s3cret', Buffer.from(`${body} `), good), false);
  assert.equal(verifySignature('s3cret', body, undefined), false);
  assert.equal(verifySignature('s3cret', body, good.slice(0, -2)), false);
  assert.equal(verifySignature('s3cret', body, `sha1=${good.slice(7)}`), false);
  assert.equal(verifySignature('s3cret', body, [good]), false);
});

test('the rate limiter allows a burst per address, then refills over time', () => {
  const rl = new RateLimiter(3, 60_000);
  const t0 = 1_000_000;
  assert.deepEqual(
    [1, 2, 3, 4].map(() => rl.take('a', t0)),
    [true, true, true, false],
  );
  assert.equal(rl.take('b', t0), true, 'another address has its own bucket');
  assert.equal(rl.take('a', t0 + 10_000), false, 'a sixth of a token is not enough');
  assert.equal(rl.take('a', t0 + 20_000), true, 'one token back after a third of the period');
});
