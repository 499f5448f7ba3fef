/**
 * One log per build, kept: real passes (chroot workers) of a small port that fails, then builds;
 * each build's log stays with its id, the builds table, history and `logs --build` point at
 * it, the closing summary of a failed pass shows the log's path and last lines, `logs -f`
 * follows a running build until it ends, and logs.keep (passes, then cleanup) bounds them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bmakeMissing } from './helpers/minitree.js';
import { BIN, cli, waitFor } from './helpers/wait.js';
import { TestProject, rootMissing } from './helpers/project.js';

const skip = bmakeMissing() ?? rootMissing();
const projects: TestProject[] = [];
after(() => projects.forEach((p) => p.remove()));

/** misc/ticker: no distfiles, a build step of our choosing. */
function ticker(build: string, keep: number): TestProject {
  const p = new TestProject({ ports: ['misc/ticker'], extra: `logs: { keep: ${keep} }` });
  projects.push(p);
  mkdirSync(p.file('misc/ticker'), { recursive: true });
  setBuild(p, build);
  return p;
}

function setBuild(p: TestProject, build: string): void {
  writeFileSync(
    p.file('misc/ticker/Makefile'),
    [
      'PORTNAME=\tticker',
      'PORTVERSION=\t1.0',
      'CATEGORIES=\tmisc',
      'COMMENT=\tPrints what it is told',
      'DISTFILES=',
      'NO_INSTALL=\tyes',
      'do-build:',
      `\t${build}`,
      '',
      '.include <bsd.port.mk>',
      '',
    ].join('\n'),
  );
}

const logsDir = (p: TestProject) => join(p.dir, '.portsync', 'logs');
const portLogs = (p: TestProject) => readdirSync(join(logsDir(p), 'misc___ticker')).sort();

interface BuildRow {
  build_id: string;
  status: string;
  log_path: string;
}

test(
  "every build keeps its own log: a failed build's log survives the next success; the builds table, history and logs --build name each; the summary shows a failure's last lines; logs.keep bounds them",
  { skip },
  async () => {
    const p = ticker('@echo ticker-broken-output; exit 3', 2);
    const failed = await cli(p.dir, ['reconcile']);
    assert.equal(failed.code, 1, failed.err);
    const [bad] = await p.query<BuildRow>(
      "SELECT build_id::VARCHAR AS build_id, status, log_path FROM builds WHERE origin = 'misc/ticker'",
    );
    assert.equal(bad!.status, 'failed');
    assert.equal(bad!.log_path, join(logsDir(p), 'misc___ticker', `${bad!.log_path.split('/').pop()}`));
    assert.match(bad!.log_path, new RegExp(`/misc___ticker/\\d{8}T\\d{6}Z_${bad!.build_id}\\.log$`));
    // The closing summary: the log's path and its last lines.
    assert.ok(failed.out.includes(`(log: ${bad!.log_path})`), failed.out);
    assert.match(failed.out, /\n {4}\| ticker-broken-output\n/);
    assert.match(failed.out, /\n {4}\| === result: failed in build: build exited \d+ in [\d.]+s/);

    setBuild(p, '@echo ticker-fixed-output');
    const fixed = await p.pass();
    assert.equal(fixed.status, 'success', fixed.lines.join('\n'));
    const rows = await p.query<BuildRow>(
      "SELECT build_id::VARCHAR AS build_id, status, log_path FROM builds WHERE origin = 'misc/ticker' ORDER BY started_at",
    );
    assert.deepEqual(
      rows.map((r) => r.status),
      ['failed', 'success'],
    );
    const good = rows[1]!;
    assert.notEqual(good.log_path, bad!.log_path);
    const badLog = readFileSync(bad!.log_path, 'utf8');
    assert.match(badLog, /ticker-broken-output/, "the failed build's log survived the success");
    assert.match(badLog, new RegExp(`^build id\\s+${bad!.build_id}$`, 'm'));
    assert.match(readFileSync(good.log_path, 'utf8'), /ticker-fixed-output/);
    // The stable latest link, where the single log used to be.
    const link = join(logsDir(p), 'misc___ticker.log');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(join(logsDir(p), readlinkSync(link)), good.log_path);

    const latest = await cli(p.dir, ['logs', 'misc/ticker']);
    assert.equal(latest.code, 0, latest.err);
    assert.match(latest.out, /ticker-fixed-output/);
    const old = await cli(p.dir, ['logs', 'misc/ticker', '--build', bad!.build_id]);
    assert.match(old.out, /ticker-broken-output/);
    assert.doesNotMatch(old.out, /ticker-fixed-output/);
    assert.match(
      (await cli(p.dir, ['logs', 'misc/ticker', '--build', good.build_id.slice(-8)])).out,
      /ticker-fixed-output/,
      'the end of an id is enough',
    );
    // Time-ordered ids made close together share their start (how much depends on the moment): said, with both named.
    const shared = [...good.build_id].findIndex((c, i) => c !== bad!.build_id[i]);
    assert.ok(shared >= 4, `ids made seconds apart share their first characters (${good.build_id}, ${bad!.build_id})`);
    const ambiguous = await cli(p.dir, ['logs', 'misc/ticker', '--build', good.build_id.slice(0, shared)]);
    assert.equal(ambiguous.code, 2);
    assert.match(
      ambiguous.err,
      new RegExp(`starts or ends the ids of 2 builds of misc/ticker \\(.*${good.build_id}.*\\); give more of it`),
    );
    assert.match(
      (await cli(p.dir, ['logs', 'misc/ticker', '--build', good.build_id.slice(0, shared + 1)])).out,
      /ticker-fixed-output/,
      'a start no other id has is enough',
    );
    const none = await cli(p.dir, ['logs', 'misc/ticker', '--build', 'ffffffff']);
    assert.equal(none.code, 2);
    assert.match(none.err, /no log of build ffffffff of misc\/ticker in .*misc___ticker\/; portsync history misc\/ticker lists its builds/);

    const history = JSON.parse((await cli(p.dir, ['history', 'misc/ticker', '--json'])).out) as {
      builds: { buildId: string; logPath: string }[];
    };
    assert.deepEqual(
      history.builds.map((b) => [b.buildId, b.logPath]),
      [
        [good.build_id, good.log_path],
        [bad!.build_id, bad!.log_path],
      ],
    );
    const wide = await cli(p.dir, ['history', 'misc/ticker', '--wide']);
    assert.ok(wide.out.includes(bad!.log_path), "history --wide shows each build's log");

    // logs.keep: 2 — each pass trims the logs of the ports it built.
    assert.equal((await p.pass({ force: ['misc/ticker'] })).status, 'success');
    assert.equal(portLogs(p).length, 2);
    assert.equal(existsSync(bad!.log_path), false, 'the oldest went');
    assert.ok(existsSync(good.log_path));

    // cleanup applies a lower keep to every port; --dry-run only lists.
    p.writeConfig({ ports: ['misc/ticker'], extra: 'logs: { keep: 1 }' });
    const dry = await cli(p.dir, ['cleanup', '--dry-run']);
    assert.equal(dry.code, 0, dry.err);
    assert.ok(dry.out.includes(`would remove ${good.log_path} (`), dry.out);
    assert.match(dry.out, /cleanup logs: 1 build log beyond logs\.keep \(1 per port\) would be removed/);
    assert.equal(portLogs(p).length, 2);
    const clean = await cli(p.dir, ['cleanup']);
    assert.equal(clean.code, 0, clean.err);
    assert.ok(clean.out.includes(`removed ${good.log_path} (`), clean.out);
    assert.deepEqual(portLogs(p), [readlinkSync(link).split('/')[1]], 'the latest stays');
  },
);

test('logs -f follows a running build and ends with it', { skip }, async () => {
  const p = ticker('@for i in 1 2 3 4 5 6 7 8; do echo tick-$$i; sleep 1; done', 5);
  const pass = spawn(process.execPath, [BIN, '--config', p.config, 'reconcile', '--quiet'], { stdio: 'ignore' });
  try {
    const link = join(logsDir(p), 'misc___ticker.log');
    await waitFor('the build to print tick-1', () => existsSync(link) && readFileSync(link, 'utf8').includes('tick-1'), 120_000);
    const follower = spawn(process.execPath, [BIN, '--config', p.config, 'logs', '-f', 'misc/ticker'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let atFirstOutput: string | undefined;
    follower.stdout!.on('data', (d: Buffer) => {
      atFirstOutput ??= readFileSync(link, 'utf8');
      out += d.toString();
    });
    const code = await new Promise<number | null>((r) => follower.once('exit', r));
    assert.equal(code, 0);
    assert.ok(atFirstOutput !== undefined && !atFirstOutput.includes('=== result:'), 'it started while the build was running');
    for (let i = 1; i <= 8; i++) assert.ok(out.includes(`tick-${i}\n`), `tick-${i} followed:\n${out}`);
    assert.match(out, /\n=== result: success in [\d.]+s \(finished [^)]+\)\n$/, 'it ended with the build');
  } finally {
    pass.kill('SIGKILL');
  }
});
