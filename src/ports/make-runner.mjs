// The make runner: a small, long-lived Node process that starts the metadata make calls for
// the scanner (src/ports/make.ts starts it on the first make call and talks to it over pipes).
//
// Why a separate process: child_process.spawn() forks the calling process, and forking a Node
// process with a large heap (the scanner of a 10,000-port tree) blocks its main thread for
// milliseconds per call; make then ran at half the machine. This process stays small, so its
// forks are cheap, and the big process never forks for make.
//
// Protocol: newline-delimited JSON, one object per line.
//   stdin  (request): {"id":1,"command":"bmake","args":[...],"env":{...},"timeoutMs":60000}
//   stdout (answer):  {"id":1,"code":0,"signal":null,"stdout":"...","stderr":"...","timedOut":false}
//                 or  {"id":1,"spawnError":"spawn bmake ENOENT","errno":"ENOENT"}
// Each make runs in its own process group (setsid); past timeoutMs the whole group (make and
// the shells of its `!=` commands) is SIGKILLed and answered with timedOut: true.
// EOF on stdin (the scanner's process ended): every running group is killed, then it exits.
import { spawn } from 'node:child_process';

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const running = new Map();

function answer(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function killGroup(child) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}

function run(req) {
  let child;
  let done = false;
  const finish = (obj) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    running.delete(req.id);
    answer({ id: req.id, ...obj });
  };
  let timer;
  try {
    child = spawn(req.command, req.args, { env: req.env, cwd: req.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  } catch (e) {
    finish({ spawnError: String(e?.message ?? e), errno: e?.code ?? null });
    return;
  }
  running.set(req.id, child);
  const out = [];
  const err = [];
  let timedOut = false;
  if (req.timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, req.timeoutMs);
  }
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  child.on('error', (e) => finish({ spawnError: String(e?.message ?? e), errno: e?.code ?? null }));
  child.on('close', (code, signal) => {
    finish({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut });
  });
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (!line) continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      process.stderr.write(`make-runner: ignoring a malformed request line\n`);
      continue;
    }
    run(req);
  }
});
process.stdin.on('end', () => {
  for (const child of running.values()) killGroup(child);
  process.exit(0);
});
// Terminal signals (Ctrl-C reaches the whole foreground group) are the scanner's to handle: it
// decides whether to stop; its end closes stdin. SIGTERM aimed at this process stops it.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.on('SIGTERM', () => {
  for (const child of running.values()) killGroup(child);
  process.exit(0);
});
