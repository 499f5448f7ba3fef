// Installs what the project needs on a fresh Debian machine: npm packages and bmake.
// Idempotent and quiet when everything is already there.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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
  const r = spawnSync('npm', [existsSync(join(root, 'package-lock.json')) ? 'ci' : 'install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { log('npm install failed'); process.exit(r.status ?? 1); }
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

if (!have('bmake')) {
  const isRoot = process.getuid?.() === 0;
  if (isRoot && have('apt-get')) {
    log('installing bmake (apt-get install bmake)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', 'bmake'], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', ['install', '-y', '-qq', 'bmake'], { stdio: 'inherit', env });
    }
    if (r.status !== 0) log('could not install bmake; tests that need it will say so');
  } else {
    log('bmake is missing and cannot be installed here (needs root and apt-get): run "sudo apt-get install bmake"');
  }
}
