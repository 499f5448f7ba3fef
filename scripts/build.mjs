// `npm run build`: compiles src/ to dist/ (tsconfig.build.json) so that bin/portsync.js starts
// without compiling TypeScript. Plain .mjs files of src/ are copied; dist/.built marks a finished
// build, dated when the build started (a source edited during the build leaves dist stale).
// bin/portsync.js runs dist/ only while no file under src/ is newer than that mark.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const started = new Date();

rmSync(join(dist, '.built'), { force: true });
// tsc builds incrementally from dist/.tsbuildinfo, which trusts what it wrote last time: a
// compiled file removed since (a cleaned or half-copied dist/) would stay missing. Then it builds
// everything again.
const missing = (dir) =>
  readdirSync(dir, { withFileTypes: true }).some((e) =>
    e.isDirectory()
      ? missing(join(dir, e.name))
      : e.name.endsWith('.ts') &&
        !e.name.endsWith('.d.ts') &&
        !existsSync(join(dist, relative(src, join(dir, e.name))).replace(/\.ts$/, '.js')),
  );
if (missing(src)) rmSync(join(dist, '.tsbuildinfo'), { force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
// Exit 2: type errors, but every file was emitted — what tsx would run anyway (it does not check
// types either; `npm run typecheck` does). Exit 1 or other: nothing usable.
if (r.status === 2) {
  const n = (r.stdout.match(/error TS\d+/g) ?? []).length;
  process.stderr.write(`build: compiled with ${n} type error(s) (see npm run typecheck)\n`);
} else if (r.status !== 0) {
  process.stderr.write(`${r.stdout}${r.stderr}build: tsc failed; bin/portsync.js keeps running the sources through tsx\n`);
  process.exit(r.status ?? 1);
}

// Compiled-form replacements for .mjs files that load TypeScript sources through tsx.
const OVERRIDES = {
  'builder/worker-entry.mjs':
    "// Piscina's worker file (compiled form: dist/ needs no TypeScript loader).\nexport { default } from './worker.js';\n",
  'fingerprint/stat-worker.mjs':
    "// The thread of StatThread (compiled form).\nimport { parentPort } from 'node:worker_threads';\nimport { serveStatJobs } from './statRecords.js';\nserveStatJobs(parentPort);\n",
};
function copyMjs(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) copyMjs(p);
    else if (e.name.endsWith('.mjs')) {
      const rel = relative(src, p);
      const out = join(dist, rel);
      mkdirSync(dirname(out), { recursive: true });
      if (OVERRIDES[rel]) writeFileSync(out, OVERRIDES[rel]);
      else copyFileSync(p, out);
    }
  }
}
copyMjs(src);

// The builds.yaml validator as generated code (ajv standalone): the CLI starts without compiling
// the schema. It carries the schema's digest; schema.ts uses it only for that same schema.
{
  const { standaloneValidatorSource } = await import(join(dist, 'config', 'schema.js'));
  writeFileSync(join(dist, 'config', 'builds-validator.cjs'), standaloneValidatorSource());
}
// The manual page, from the command declarations (`man ./dist/portsync.1`).
try {
  const [{ commandList, VERSION }, { manPage }] = await Promise.all([
    import(join(dist, 'cli', 'commands.js')),
    import(join(dist, 'cli', 'man.js')),
  ]);
  writeFileSync(join(dist, 'portsync.1'), manPage(commandList, VERSION));
} catch (err) {
  process.stderr.write(`build: could not write dist/portsync.1: ${err?.message ?? err}\n`);
}
const mark = join(dist, '.built');
writeFileSync(mark, `${started.toISOString()}\n`);
utimesSync(mark, started, started);
