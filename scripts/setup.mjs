// Installs what the project needs on a fresh Debian machine: npm packages and bmake; compiles the CLI.
// Idempotent and quiet when everything is already there.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (m) => process.stderr.write(`setup: ${m}\n`);

function npmInstallNeeded() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  return existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000;
}

if (npmInstallNeeded()) {
  log('installing npm packages (npm ci)');
  const r = spawnSync('npm', [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    log('npm install failed');
    process.exit(r.status ?? 1);
  }
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// Debian packages for the commands the example tree, the build workers and the tests run.
const TOOLS = {
  bmake: 'bmake',
  make: 'make',
  cc: 'gcc',
  patch: 'patch',
  tar: 'tar',
  perl: 'perl',
  git: 'git',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  'redis-server': 'redis-server',
  // (the shell completion test drives a real interactive zsh)
  zsh: 'zsh',
};
const missing = [
  ...new Set(
    Object.entries(TOOLS)
      .filter(([cmd]) => !have(cmd))
      .map(([, pkg]) => pkg),
  ),
];
if (missing.length) {
  const isRoot = process.getuid?.() === 0;
  if (isRoot && have('apt-get')) {
    log(`installing ${missing.join(' ')} (apt-get install)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
    }
    if (r.status !== 0) log(`could not install ${missing.join(' ')}; tests that need them will say so`);
  } else {
    log(`missing ${missing.join(' ')} and cannot install here (needs root and apt-get): run "sudo apt-get install ${missing.join(' ')}"`);
  }
}

// Chromium, for the dashboard's browser test (test/dashboard.test.ts drives it with playwright-core;
// never `playwright install`: Debian's build is the browser). Only as root, where apt-get works.
if (process.getuid?.() === 0 && have('apt-get') && !existsSync('/usr/bin/chromium')) {
  log('installing chromium (apt-get install), for the dashboard browser test');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  }
  if (r.status !== 0) log('could not install chromium; the dashboard browser test will say so');
}

// The compiled CLI (dist/): rebuilt when a source is newer than the last build (bin/portsync.js
// runs dist/ only while it is up to date, and the sources through tsx otherwise).
function newerThan(dir, than) {
  if (statSync(dir).mtimeMs > than) return true;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() ? newerThan(p, than) : statSync(p).mtimeMs > than) return true;
  }
  return false;
}
function distStale() {
  try {
    const built = statSync(join(root, 'dist', '.built')).mtimeMs;
    return newerThan(join(root, 'src'), built) || statSync(join(root, 'tsconfig.build.json')).mtimeMs > built;
  } catch {
    return true;
  }
}
if (distStale()) {
  log('compiling the CLI to dist/ (npm run build)');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) log('build failed: portsync runs from the TypeScript sources (slower start)');
}
