#!/usr/bin/env node
// Entry point. Runs the compiled CLI (dist/, made by `npm run build` / `npm run setup`) while it
// is up to date with src/; otherwise the TypeScript sources through tsx's loader (slower start).
// PORTSYNC_FROM_SOURCE=1 forces the sources.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Is no file or directory under `dir` newer than `than` (ms)? */
function notNewer(dir, than) {
  if (statSync(dir).mtimeMs > than) return false;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!notNewer(p, than)) return false;
    } else if (statSync(p).mtimeMs > than) return false;
  }
  return true;
}

function distUpToDate() {
  if (process.env.PORTSYNC_FROM_SOURCE === '1') return false;
  try {
    const built = statSync(join(root, 'dist', '.built')).mtimeMs;
    return notNewer(join(root, 'src'), built) && statSync(join(root, 'tsconfig.build.json')).mtimeMs <= built;
  } catch {
    return false;
  }
}

if (distUpToDate()) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
