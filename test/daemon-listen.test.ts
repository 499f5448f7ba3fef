/** The daemon's listeners: a socket only its owner may use whatever the umask, and a cap on connections. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InsecureListenError } from '../src/server/errors.js';
import { checkListen, MAX_CONNECTIONS, startListeners } from '../src/server/listen.js';

const dir = mkdtempSync(join(tmpdir(), 'portsync-listen-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ok = (_req: unknown, res: { end: (s: string) => void }) => res.end('ok');

test('the socket is created 0600 even under umask 000, and the umask is given back', async () => {
  const socket = join(dir, 'd.sock');
  const old = process.umask(0);
  try {
    const l = await startListeners(ok as never, ok as never, socket, undefined);
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.equal(process.umask(0), 0, 'the umask the daemon found is restored');
    } finally {
      await l.close();
    }
  } finally {
    process.umask(old);
  }
});

test(`idle connections beyond ${MAX_CONNECTIONS} are closed at once instead of exhausting descriptors`, async () => {
  const l = await startListeners(ok as never, ok as never, join(dir, 'e.sock'), '127.0.0.1:0');
  const sockets: Socket[] = [];
  let closed = 0;
  try {
    for (let i = 0; i < MAX_CONNECTIONS + 20; i++) {
      const s = connect(l.tcp!.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closed++);
      s.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never finished
      sockets.push(s);
    }
    const deadline = Date.now() + 5000;
    while (closed < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(closed >= 20, `${closed} of the ${MAX_CONNECTIONS + 20} connections were refused`);
    assert.ok(closed < 40, `only those over the cap are closed (${closed})`);
  } finally {
    sockets.forEach((s) => s.destroy());
    await l.close();
  }
});

test('a non-loopback listen without a webhook secret is refused, unless server.allowInsecure (then with a warning)', () => {
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const server = { listen: '0.0.0.0:8787', webhookSecretEnv: 'PORTSYNC_TEST_SECRET', allowInsecure: false };
  assert.throws(
    () => checkListen(server, {}, log),
    (e) =>
      e instanceof InsecureListenError &&
      /PORTSYNC_TEST_SECRET is empty or unset/.test(e.message) &&
      /server\.allowInsecure: true/.test(e.message),
  );
  checkListen(server, { PORTSYNC_TEST_SECRET: 's3cret' }, log);
  checkListen({ ...server, listen: '127.0.0.1:8787' }, {}, log);
  checkListen({ ...server, listen: '[::1]:8787' }, {}, log);
  assert.deepEqual(lines, []);
  checkListen({ ...server, allowInsecure: true }, {}, log);
  assert.match(lines[0] ?? '', /^warning: serving 0\.0\.0\.0:8787 without a webhook secret/);
});
