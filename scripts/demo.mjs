// `npm run demo`: a real reconcile of the example ports tree, then a look at what was recorded.
// As root it builds in chroot workers (builds.yaml); otherwise in plain host directories
// (examples/builds-host.yaml), since isolation needs root.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const isRoot = process.getuid?.() === 0;
const config = isRoot ? 'builds.yaml' : 'examples/builds-host.yaml';
if (!isRoot) console.log('demo: not root, so builds run without isolation (environment.backend: host); run as root for chroot workers\n');

function portsync(...args) {
  console.log(`\n$ portsync --config ${config} ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [join(root, 'bin/portsync.js'), '--config', config, ...args], { cwd: root, stdio: 'inherit' });
  return r.status;
}

const steps = [
  ['validate'],
  ['plan'],
  ['reconcile'],
  ['reconcile'],
  ['why', 'textproc/gamma'],
  ['status'],
  ['sql', 'SELECT origin, status, duration_ms, last_phase FROM builds ORDER BY started_at DESC LIMIT 8'],
  ['report'],
];
for (const step of steps) {
  const code = portsync(...step);
  if (code === 2) {
    console.error(`demo: "portsync ${step.join(' ')}" failed (exit 2)`);
    process.exit(2);
  }
}
console.log(
  `\ndemo: done. Packages are in ${isRoot ? '.portsync/packages/All' : 'examples/.portsync/packages/All'}; try "node bin/portsync.js --config ${config} watch".`,
);
