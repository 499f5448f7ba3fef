/**
 * The web dashboard and the static report in a real browser: Debian's Chromium driven by
 * playwright-core, against the real daemon (`portsync watch` as a child process) building the
 * example tree (host backend, for speed) with a slow port and a failing one added. Pages load
 * without console errors, the overview updates live while a pass runs (server-sent events), the
 * charts have data, the SQL page answers, `reconcile` streams the daemon's pass as it happens, and
 * the pass's report opens from file://.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TestProject } from './helpers/project.js';
import { BIN } from './helpers/wait.js';
import { startDaemon } from './sql-helpers.js';
import { freePort } from './helpers/net.js';

const CHROMIUM = '/usr/bin/chromium';
const bmake = spawnSync('bmake', ['-V', 'MAKE_VERSION', '-f', '/dev/null']).status === 0;

/** Why the test cannot run here, or undefined. As root a missing Chromium is a failure: setup installs it. */
function skipReason(): string | undefined {
  if (!bmake) return 'bmake is not installed: the daemon reads the ports tree with bmake (npm run setup installs it as root)';
  if (!existsSync(CHROMIUM) && process.getuid?.() !== 0)
    return `no Chromium at ${CHROMIUM}, and not root so setup could not install it: run "sudo apt-get install chromium" to include this test`;
  return undefined;
}

const port = (name: string, body: string) => `PORTNAME=\t${name}
PORTVERSION=\t1.0
CATEGORIES=\tmisc
COMMENT=\tA test port
MAINTAINER=\tports@example.org

DISTFILES=
NO_BUILD=\tyes

${body}
.include <bsd.port.mk>
`;

function httpStatus(url: string, method: string): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(url, { method }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('error', rej);
    req.end();
  });
}

/** A page that records every console error and uncaught exception. */
async function openPage(browser: BrowserContext, errors: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${page.url()}: console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
  if ((await page.getAttribute('body', 'data-ready')) !== 'yes')
    assert.fail(`${page.url()} failed: ${await page.textContent('#page-error')}`);
}

test(
  'the dashboard in Chromium: live overview during real passes, runs, a run, a port, SQL; reconcile streams; the report opens from file://',
  { skip: skipReason(), timeout: 300_000 },
  async (t) => {
    assert.ok(existsSync(CHROMIUM), `running as root, ${CHROMIUM} should have been installed by npm run setup (scripts/setup.mjs)`);
    const httpPort = await freePort();
    const p = new TestProject({
      ports: ['misc/greet', 'misc/slowpoke', 'misc/broken'],
      backend: 'host',
      extra: `server: { listen: "127.0.0.1:${httpPort}" }`,
    });
    t.after(() => p.remove());
    for (const [name, body] of [
      ['slowpoke', 'do-build:\n\t@echo building slowly; sleep 4\n'],
      ['broken', 'do-build:\n\t@echo "the compiler says: undefined reference to frobnicate"; exit 1\n'],
    ] as const) {
      mkdirSync(p.file(`misc/${name}`));
      writeFileSync(p.file(`misc/${name}/Makefile`), port(name, body));
      writeFileSync(p.file(`misc/${name}/pkg-descr`), `${name}\n`);
    }
    const profile = mkdtempSync(join(tmpdir(), 'portsync-chromium-'));
    t.after(() => rmSync(profile, { recursive: true, force: true }));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    t.after(() => browser.close());
    const errors: string[] = [];
    // Started once the browser is up (it takes seconds), so that the overview opens while the startup pass runs.
    const daemon = await startDaemon(t, p.config);
    const base = `http://127.0.0.1:${httpPort}/dashboard/`;

    // The startup pass is running: the overview follows it live.
    const overview = await openPage(browser, errors);
    await overview.goto(base);
    await ready(overview);
    await overview.waitForFunction(() => Number(document.body.dataset.events ?? 0) > 0, undefined, { timeout: 60_000 });
    await overview.waitForFunction(() => /run \S+ (success|failed)/.test(document.querySelector('#events')?.textContent ?? ''), undefined, {
      timeout: 120_000,
    });
    const events = await overview.textContent('#events');
    assert.match(events!, /^\[\d\d:\d\d:\d\d\.\d{3}\] \[\d\] \S+/m, 'the progress lines a local pass prints');
    assert.match(events!, /run \S+ failed: 2 built, 1 failed/, 'misc/broken failed');
    await overview.waitForFunction(() => /Idle/.test(document.querySelector('#current')?.textContent ?? ''), undefined, {
      timeout: 20_000,
    });
    assert.equal(await overview.textContent('#counts .stat:first-child .n'), '3', 'desired ports: the closure of builds.yaml');
    assert.ok((await overview.locator('#runs-chart svg circle').count()) >= 1, 'the runs chart has a point per run');

    await t.test('reconcile streams the daemon pass as it happens; the open overview shows its worker live', async () => {
      const started = Date.now();
      const chunks: { at: number; text: string }[] = [];
      const child = spawn(process.execPath, [BIN, '--config', p.config, 'reconcile', '--force', 'misc/slowpoke'], {
        cwd: p.dir,
        env: { ...process.env, PORTSYNC_FROM_SOURCE: '1' },
      });
      child.stdout.on('data', (d: Buffer) => chunks.push({ at: Date.now(), text: d.toString() }));
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d));
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      // Live: the overview's worker table names the port while it builds.
      await overview.waitForFunction(() => /misc\/slowpoke/.test(document.querySelector('#workers')?.textContent ?? ''), undefined, {
        timeout: 60_000,
      });
      const code = await exited;
      const out = chunks.map((c) => c.text).join('');
      assert.equal(code, 1, `exit 1: misc/broken is blocked\n${out}\n${err}`);
      assert.match(out, /\] \[\d\] start misc\/slowpoke/);
      assert.match(out, /reconciled by the running daemon/);
      assert.match(out, /run [0-9a-f-]{36}: 3 ports: 1 built, 0 failed/);
      const first = chunks.find((c) => /start misc\/slowpoke/.test(c.text));
      const end = chunks.at(-1)!.at;
      assert.ok(
        first && end - first.at >= 2500,
        `the start line came as the build started, not with the result (${first && end - first.at} ms before the end; ${Date.now() - started} ms in all)`,
      );
    });

    await t.test('runs page: every run, with a chart of their durations', async () => {
      const page = await openPage(browser, errors);
      await page.goto(`${base}runs`);
      await ready(page);
      assert.ok((await page.locator('#runs tbody tr').count()) >= 2);
      assert.ok((await page.locator('#runs-chart svg circle').count()) >= 2);
      await page.close();
    });

    await t.test('a run: the Gantt timeline per worker, time per phase, failures with their log tails', async () => {
      const page = await openPage(browser, errors);
      await page.goto(`${base}runs`);
      await ready(page);
      await page.locator('#runs tbody tr').last().locator('a').first().click(); // the startup run
      await ready(page);
      const builds = await page.locator('#builds tbody tr').count();
      assert.equal(builds, 3, 'every port of the closure built in the startup run');
      const lanes = await page.locator('#gantt svg g[aria-label="y-axis tick label"] text').allTextContents();
      assert.ok(lanes.length >= 1 && lanes.length <= 2, `at most workers (2) lanes: ${lanes.join(', ')}`);
      assert.ok((await page.locator('#gantt svg g[aria-label="bar"] rect').count()) >= builds, 'a bar per build and per phase');
      assert.ok((await page.locator('#phases svg g[aria-label="bar"] rect').count()) >= 3, 'time per phase');
      assert.match((await page.textContent('#failures'))!, /misc\/broken[\s\S]*undefined reference to frobnicate/);
      await page.close();
    });

    await t.test('a port: its builds over time plotted, why it last rebuilt, its logs', async () => {
      const page = await openPage(browser, errors);
      await page.goto(`${base}port?origin=misc/slowpoke`);
      await ready(page);
      assert.equal(await page.locator('#builds tbody tr').count(), 2);
      assert.equal(await page.locator('#durations svg circle').count(), 2, 'a point per build');
      assert.match((await page.textContent('#why'))!, /Last rebuilt .*forced/);
      const log = await page.request.get(
        await page
          .locator('#builds a', { hasText: 'log' })
          .first()
          .evaluate((a) => (a as HTMLAnchorElement).href),
      );
      assert.equal(log.status(), 200);
      assert.match(await log.text(), /building slowly/);
      await page.close();
    });

    await t.test('the SQL page runs read-only SQL; the dashboard answers no write', async () => {
      const page = await openPage(browser, errors);
      await page.goto(`${base}sql`);
      await ready(page);
      await page.fill('#sql', "SELECT origin, status FROM builds WHERE origin = 'misc/broken'");
      await page.click('#run-sql');
      await page.waitForSelector('#result table');
      assert.match((await page.textContent('#result table'))!, /misc\/broken\s*failed/);
      await page.fill('#sql', 'DELETE FROM builds');
      await page.click('#run-sql');
      await page.waitForSelector('#sql-error');
      assert.match((await page.textContent('#sql-error'))!, /read-only|only|not allowed|SELECT/i);
      // The browser logs the refused query's 400 as a failed resource: expected, not a page error.
      const refused = errors.findIndex((e) => /\/dashboard\/sql: console: Failed to load resource: .* 400/.test(e));
      assert.ok(refused >= 0, errors.join('\n'));
      errors.splice(refused, 1);
      await page.close();
      for (const path of ['', 'events', 'api/overview', 'run'])
        assert.equal(await httpStatus(`${base}${path}`, 'POST'), 405, `POST /dashboard/${path}`);
    });

    await t.test('the pass report opens from file:// with its timeline and every port', async () => {
      const logs = join(p.dir, '.portsync', 'logs');
      const report = join(logs, 'report.html');
      assert.ok(existsSync(report), 'report.html next to the logs');
      assert.equal(readdirSync(join(logs, 'reports')).filter((f) => f.endsWith('.html')).length, 2, 'a report per pass');
      const page = await openPage(browser, errors);
      await page.goto(pathToFileURL(report).href);
      await ready(page);
      assert.ok((await page.locator('#gantt svg g[aria-label="bar"] rect').count()) >= 1);
      assert.equal(await page.locator('#ports tbody tr').count(), 3, 'every port of the pass');
      assert.match((await page.textContent('#ports'))!, /misc\/broken\s*1\.0\s*blocked/);
      await page.close();
    });

    await t.test('no page logged an error; a screenshot of the overview', async () => {
      await overview.reload();
      await ready(overview);
      const shot = join(tmpdir(), 'portsync-dashboard-overview.png');
      await overview.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`overview screenshot: ${shot}`);
      assert.deepEqual(errors, []);
    });

    assert.equal(await daemon.stop(), 0, daemon.log());
  },
);
