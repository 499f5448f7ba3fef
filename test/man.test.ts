/**
 * portsync(1): made from the command declarations, every command and option in it, valid roff
 * (groff reads it without a warning), printed by `portsync help --man` and written by the build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandList, VERSION } from '../src/cli/commands.js';
import { manPage, roffText } from '../src/cli/man.js';
import { REPO } from './helpers/project.js';
import { cli } from './helpers/wait.js';

const page = manPage(commandList, VERSION);

test('every command has its section, with its synopsis, options, exit statuses and examples', () => {
  assert.match(page, /^\.TH PORTSYNC 1 "\d{4}-\d\d-\d\d" "portsync /m);
  for (const c of commandList) {
    const start = page.indexOf(`\n.SS ${roffText(c.info.name)}\n`);
    assert.ok(start > 0, `a section for ${c.info.name}`);
    const next = page.indexOf('\n.SS ', start + 1);
    const section = page.slice(start, next < 0 ? page.indexOf('\n.SH ', start) : next);
    for (const name of Object.keys(c.info.options)) assert.ok(section.includes(`\\fB\\-\\-${name}\\fR`), `${c.info.name}: --${name}`);
    for (const [code] of c.info.exits) assert.ok(section.includes(`.TP\n\\fB${code}\\fR`), `${c.info.name}: exit ${code}`);
    for (const [line] of c.info.examples ?? []) assert.ok(section.includes(roffText(line)), `${c.info.name}: example ${line}`);
  }
});

test('text that roff would read as a request or an escape is quoted', () => {
  assert.equal(roffText('.portsync/ and C:\\dir'), '\\&.portsync/ and C:\\edir');
  assert.equal(roffText('use --force or -q'), 'use \\-\\-force or \\-q');
});

test('groff formats it without a warning', (t) => {
  if (spawnSync('groff', ['--version']).status !== 0)
    return t.skip('groff is not installed (apt-get install groff-base): the page is not formatted here');
  const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'no warnings');
  const text = spawnSync('groff', ['-man', '-Tutf8', '-P', '-cbou'], { input: page, encoding: 'utf8' }).stdout;
  assert.match(text, /portsync \[--config FILE\] reconcile/);
});

test('portsync help --man prints it; help --man COMMAND is a usage error', async () => {
  const r = await cli(REPO, ['help', '--man']);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.startsWith('.\\" portsync(1)'));
  for (const c of commandList) assert.ok(r.out.includes(`\n.SS ${c.info.name}\n`), c.info.name);
  const bad = await cli(REPO, ['help', '--man', 'plan']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--man prints the whole manual page/);
});

test(
  'the build writes dist/portsync.1',
  { skip: existsSync(join(REPO, 'dist', '.built')) ? false : 'dist/ is not built (npm run build)' },
  () => {
    const built = readFileSync(join(REPO, 'dist', 'portsync.1'), 'utf8');
    for (const c of commandList) assert.ok(built.includes(`\n.SS ${c.info.name}\n`), c.info.name);
  },
);
