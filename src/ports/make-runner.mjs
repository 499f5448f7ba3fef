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
//
// As root, portsync starts this process as the unprivileged reader (src/ports/make-user.ts),
// usually in a PID namespace of its own (`--sweep`): there, whenever no make is running, any
// process still alive was left behind by a Makefile (a `!=` that daemonized out of its process
// group) and is killed; and when this process exits, the kernel kills whatever remains.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const running = new Map();

// Sweeping is kill(-1): only ever inside the namespace make.ts made for it (its pid 1 is the
// init shell make.ts names portsync-make-init), where it reaches this namespace's processes only.
const sweeps =
  process.argv.includes('--sweep') &&
  (() => {
    try {
      return readFileSync('/proc/1/cmdline', 'utf8').split('\0').includes('portsync-make-init');
    } catch {
      return false;
    }
  })();

/** Kills every process of the namespace but its init and this one (nothing of ours runs: leftovers). */
function sweep() {
  if (!sweeps || running.size > 0) return;
  try {
    process.kill(-1, 'SIGKILL');
  } catch {
    /* ESRCH: nothing left */
  }
}

function answer(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function killGroup(child) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

// After make exits, its output is read for at most this long: a process a Makefile left behind
// may hold the pipes open (a `!=` that daemonized), and the call must not wait for it.
const DRAIN_MS = 1000;

function run(req) {
  let child;
  let done = false;
  let timer;
  let drain;
  const finish = (obj) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    clearTimeout(drain);
    running.delete(req.id);
    answer({ id: req.id, ...obj });
    child?.stdout?.destroy();
    child?.stderr?.destroy();
    sweep();
  };
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
  const result = (code, signal) => ({
    code,
    signal,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
    timedOut,
  });
  if (req.timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, req.timeoutMs);
  }
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  child.on('error', (e) => finish({ spawnError: String(e?.message ?? e), errno: e?.code ?? null }));
  child.on('exit', (code, signal) => {
    drain = setTimeout(() => finish(result(code, signal)), DRAIN_MS);
  });
  child.on('close', (code, signal) => finish(result(code, signal)));
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
  running.clear();
  sweep();
  process.exit(0);
});
// Terminal signals (Ctrl-C reaches the whole foreground group) are the scanner's to handle: it
// decides whether to stop; its end closes stdin. SIGTERM aimed at this process stops it.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.on('SIGTERM', () => {
  for (const child of running.values()) killGroup(child);
  running.clear();
  sweep();
  process.exit(0);
});
