/**
 * The builds.yaml validator `npm run build` generates (ajv standalone code, so the CLI starts
 * without compiling the schema) checks exactly as the compiled one: same errors, same defaults
 * filled in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { compileBuildsValidator, standaloneValidatorSource } from '../src/config/schema.js';

const DOCUMENTS: unknown[] = [
  { portsTree: { path: 'ports' }, ports: ['devel/libalpha'] },
  { portsTree: { path: 'ports' }, ports: [{ origin: 'devel/libalpha', vars: { WITH_X: 'yes' } }], workers: 3, watch: { debounce: '2s' } },
  { portsTree: {}, ports: [] },
  { portsTree: { path: 'ports' }, ports: ['devel/libalpha'], workers: 'many', unknownKey: 1 },
  { portsTree: { path: 'ports' }, ports: [{ origin: 42 }], limits: { memory: 'lots' } },
  'not a mapping',
];

test('the generated validator reports the same errors and fills in the same defaults as the compiled one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portsync-validator-'));
  try {
    const file = join(dir, 'builds-validator.cjs');
    // The generated code requires ajv's runtime helpers: resolvable from the project, as dist/ is.
    writeFileSync(
      file,
      standaloneValidatorSource().replaceAll('require("ajv/', `require(${JSON.stringify(join(process.cwd(), 'node_modules', 'ajv'))}+"/`),
    );
    const generated = createRequire(import.meta.url)(file) as { default: ValidateFunction; schemaDigest: string };
    assert.match(generated.schemaDigest, /^[0-9a-f]{64}$/);
    const compiled = compileBuildsValidator().validate;
    let failures = 0;
    for (const doc of DOCUMENTS) {
      const a = structuredClone(doc);
      const b = structuredClone(doc);
      const okA = compiled(a);
      const okB = generated.default(b);
      assert.equal(okB, okA, JSON.stringify(doc));
      assert.deepEqual(b, a, `defaults filled in alike for ${JSON.stringify(doc)}`);
      assert.deepEqual(generated.default.errors ?? null, compiled.errors ?? null, `errors alike for ${JSON.stringify(doc)}`);
      if (!okA) failures++;
    }
    assert.ok(failures >= 3, 'the invalid documents were refused');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
