// The portsync dashboard and static report, in the browser. A classic script (no build step, no
// imports: the static report inlines it and opens from file://). Plots use Observable Plot (the
// global `Plot`, on d3), served by the daemon from node_modules or inlined in the report.
// Every page renders from JSON: the daemon's /dashboard/api/* answers, or the report's data.
/* global Plot */
(function () {
  'use strict';

  const STATUS_COLORS = {
    domain: ['success', 'failed', 'interrupted', 'running', 'skipped', 'blocked', 'ignored', 'error'],
    range: ['#2e9d4f', '#d33b3b', '#e08a1e', '#2f6fdb', '#9aa5b1', '#b36b00', '#7a8694', '#8b0000'],
  };
  /** The status color scale, limited to the statuses present (the legend lists only those). */
  function statusColors(rows) {
    const present = STATUS_COLORS.domain.filter((s) => rows.some((r) => r.status === s));
    return { domain: present, range: present.map((s) => STATUS_COLORS.range[STATUS_COLORS.domain.indexOf(s)]) };
  }
  const PHASES = ['install', 'fetch', 'checksum', 'extract', 'patch', 'configure', 'build', 'stage', 'package'];

  // ---- small DOM helpers ----
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const $ = (sel) => document.querySelector(sel);
  /** Replaces a node's children, nested arrays flattened and empty values (null, false) left out. */
  function fill(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false));
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '—';
    ms = Number(ms);
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
    return `${Math.floor(m / 60)}h ${m % 60}m`;
  }
  const fmtTime = (iso) =>
    iso
      ? String(iso)
          .replace('T', ' ')
          .replace(/\.\d+Z?$|Z$/, '')
      : '—';
  const short = (commit) => (commit ? String(commit).slice(0, 12) : '—');
  const statusSpan = (s) => el('span', { class: `status-${s}` }, s);
  const startOf = (b) => new Date(b.startedAt);
  const endOf = (b, now) =>
    b.finishedAt
      ? new Date(b.finishedAt)
      : b.durationMs != null
        ? new Date(Date.parse(b.startedAt) + Number(b.durationMs))
        : now || new Date();

  function table(columns, rows, attrs) {
    return el(
      'table',
      attrs || {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          columns.map((c) => el('th', { class: c.num ? 'num' : '' }, c.title)),
        ),
      ),
      el(
        'tbody',
        {},
        rows.map((r) =>
          el(
            'tr',
            {},
            columns.map((c) => el('td', { class: c.num ? 'num' : '' }, c.cell(r))),
          ),
        ),
      ),
    );
  }
  function stat(n, label, cls) {
    return el(
      'div',
      { class: `stat ${cls || ''}` },
      el('div', { class: 'n' }, n === null || n === undefined ? '—' : String(n)),
      el('div', { class: 'l' }, label),
    );
  }
  function chartBox(id) {
    return el('div', { class: 'chart', id });
  }
  function width(node) {
    return Math.max(360, Math.min(1300, (node && node.clientWidth) || document.body.clientWidth - 60));
  }
  function plotInto(box, options) {
    box.replaceChildren(Plot.plot({ width: width(box), style: { background: 'transparent', fontSize: '12px' }, ...options }));
  }

  // ---- links: live pages, or plain text in the offline report ----
  const ctx = { offline: false };
  const runLink = (id, text) =>
    ctx.offline
      ? el('span', { class: 'mono' }, text || id.slice(0, 8))
      : el('a', { href: `run?id=${encodeURIComponent(id)}`, class: 'mono' }, text || id.slice(0, 8));
  const portLink = (origin) =>
    ctx.offline ? el('span', {}, origin) : el('a', { href: `port?origin=${encodeURIComponent(origin)}` }, origin);
  function logLink(build) {
    if (!build.log) return '—';
    if (ctx.offline) return el('a', { href: `file://${encodeURI(build.log)}` }, 'log');
    return el('a', { href: `api/log?build=${encodeURIComponent(build.buildId)}` }, 'log');
  }

  async function api(path) {
    const r = await fetch(path, { headers: { accept: 'application/json' } });
    const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
    if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
    return body;
  }

  // ---- charts ----
  /** The Gantt chart: one row per worker lane, each build a bar split into its phases. */
  function ganttChart(box, builds, now) {
    if (!builds.length)
      return box.replaceChildren(
        el('p', { class: 'muted' }, 'No builds in this run (every port was up to date or decided without a build).'),
      );
    const lanes = [...new Set(builds.map((b) => b.lane))].sort((a, b) => a - b).map((l) => `worker ${l}`);
    const segments = builds.flatMap((b) =>
      b.phases.map((p) => ({
        origin: b.origin,
        phase: p.phase,
        lane: `worker ${b.lane}`,
        x1: new Date(p.startedAt),
        x2: new Date(Date.parse(p.startedAt) + Math.max(Number(p.durationMs), 1)),
        ms: p.durationMs,
      })),
    );
    const bars = builds.map((b) => ({ ...b, laneName: `worker ${b.lane}`, x1: startOf(b), x2: endOf(b, now) }));
    const phases = [...new Set([...PHASES, ...segments.map((s) => s.phase)])].filter((p) => segments.some((s) => s.phase === p));
    plotInto(box, {
      height: 60 + lanes.length * 38,
      marginLeft: 70,
      x: { type: 'utc', label: null, grid: true },
      y: { domain: lanes, label: null },
      color: { type: 'categorical', domain: phases.length ? phases : ['build'], scheme: 'tableau10', legend: true },
      marks: [
        Plot.barX(segments, {
          x1: 'x1',
          x2: 'x2',
          y: 'lane',
          fill: 'phase',
          title: (d) => `${d.origin}: ${d.phase} ${fmtMs(d.ms)}`,
          inset: 3,
        }),
        Plot.barX(bars, {
          x1: 'x1',
          x2: 'x2',
          y: 'laneName',
          fill: 'none',
          stroke: (d) => STATUS_COLORS.range[STATUS_COLORS.domain.indexOf(d.status)] || '#444',
          strokeWidth: 1.5,
          inset: 1,
          title: (d) => `${d.origin} ${d.version || ''}: ${d.status} in ${fmtMs(d.durationMs)}`,
        }),
        Plot.text(bars, {
          x: (d) => new Date((+d.x1 + +d.x2) / 2),
          y: 'laneName',
          text: (d) => d.origin.split('/')[1],
          fill: '#10151c',
          fontSize: 10,
          dy: -12,
        }),
      ],
    });
  }

  function phaseChart(box, phases) {
    if (!phases.length) return box.replaceChildren(el('p', { class: 'muted' }, 'No phases recorded.'));
    plotInto(box, {
      height: 40 + phases.length * 24,
      marginLeft: 110,
      x: { label: 'seconds (all builds)', grid: true },
      y: { label: null },
      marks: [
        Plot.barX(phases, {
          x: (d) => d.totalMs / 1000,
          y: 'phase',
          fill: '#2f6fdb',
          sort: { y: '-x' },
          title: (d) => `${d.phase}: ${fmtMs(d.totalMs)} over ${d.builds} builds`,
        }),
        Plot.ruleX([0]),
      ],
    });
  }

  function durationChart(box, points, label) {
    if (!points.length) return box.replaceChildren(el('p', { class: 'muted' }, 'Nothing recorded yet.'));
    const data = points.filter((p) => p.durationMs != null).map((p) => ({ ...p, t: startOf(p), s: Number(p.durationMs) / 1000 }));
    plotInto(box, {
      height: 240,
      x: { type: 'utc', label: null, grid: true, inset: 12 },
      y: { label: label, grid: true, zero: true },
      color: { ...statusColors(data), legend: true },
      marks: [
        Plot.lineY(
          data.filter((d) => d.status === 'success'),
          { x: 't', y: 's', stroke: '#9fb0c3', sort: 't' },
        ),
        Plot.dot(data, {
          x: 't',
          y: 's',
          fill: 'status',
          r: 4,
          title: (d) => `${fmtTime(d.startedAt)}: ${d.status} in ${fmtMs(d.durationMs)}${d.reason ? `\n${d.reason}` : ''}`,
        }),
      ],
    });
  }

  // ---- shared blocks ----
  function runHeader(run) {
    return el(
      'div',
      { class: 'stats' },
      stat(run.status, 'status', run.status === 'success' ? 'ok' : run.status === 'running' ? '' : 'bad'),
      stat(run.total, 'ports'),
      stat(run.success, 'built', 'ok'),
      stat(run.failed, 'failed', run.failed ? 'bad' : ''),
      stat(run.skipped, 'up to date'),
      stat(run.blocked, 'blocked', run.blocked ? 'warn' : ''),
      stat(run.ignored, 'ignored'),
      stat(fmtMs(run.durationMs), 'duration'),
    );
  }

  function renderRun(main, d, now) {
    const r = d.run;
    fill(
      main,
      el('h1', {}, 'Run ', el('span', { class: 'mono' }, r.runId)),
      el(
        'p',
        { class: 'muted' },
        `${r.trigger} · started ${fmtTime(r.startedAt)} · finished ${fmtTime(r.finishedAt)} · commit `,
        el('span', { class: 'mono' }, short(r.gitCommit)),
      ),
      runHeader(r),
      r.error ? el('p', { class: 'error' }, r.error) : null,
      el('h2', {}, 'Timeline (every build per worker)'),
      el('section', { class: 'card' }, chartBox('gantt')),
      el('h2', {}, 'Time per phase'),
      el('section', { class: 'card' }, chartBox('phases')),
      el('h2', {}, `Failures (${d.failures.length})`),
      d.failures.length
        ? el(
            'div',
            { id: 'failures' },
            d.failures.map((f) =>
              el(
                'section',
                { class: 'card' },
                el('strong', {}, portLink(f.origin)),
                ` failed in ${f.lastPhase || '?'}: ${f.error || ''} `,
                logLink({ ...f }),
                el('pre', {}, f.tail),
              ),
            ),
          )
        : el('p', { class: 'muted' }, 'None.'),
      el('h2', {}, `Builds (${d.builds.length})`),
      table(
        [
          { title: 'port', cell: (b) => portLink(b.origin) },
          { title: 'version', cell: (b) => b.version || '' },
          { title: 'status', cell: (b) => statusSpan(b.status) },
          { title: 'worker', num: true, cell: (b) => b.lane },
          { title: 'started', cell: (b) => fmtTime(b.startedAt) },
          { title: 'duration', num: true, cell: (b) => fmtMs(b.durationMs) },
          { title: 'why', cell: (b) => b.reason || '' },
          { title: 'log', cell: logLink },
        ],
        d.builds,
        { id: 'builds' },
      ),
      d.ports
        ? [
            el('h2', {}, `Every port of the pass (${d.ports.length})`),
            table(
              [
                { title: 'port', cell: (p) => p.origin },
                { title: 'version', cell: (p) => p.version },
                { title: 'status', cell: (p) => statusSpan(p.status) },
                { title: 'why', cell: (p) => p.error || p.reason },
              ],
              d.ports,
              { id: 'ports' },
            ),
          ]
        : null,
    );
    ganttChart($('#gantt'), d.builds, now);
    phaseChart($('#phases'), d.phases);
  }

  // ---- pages ----
  const pages = {};

  pages.overview = async function (main) {
    const events = [];
    let seen = 0;
    const eventsBox = el('pre', { id: 'events' }, 'no event since this page opened: the lines of the next pass appear here as it runs');
    async function refresh() {
      const o = await api('api/overview');
      const c = o.counts;
      const cur = o.current;
      const blocks = [
        el('h1', {}, 'Overview'),
        el(
          'div',
          { class: 'stats', id: 'counts' },
          stat(c.desired, 'desired ports'),
          stat(c.upToDate, 'up to date', 'ok'),
          stat(c.failed, 'failed', c.failed ? 'bad' : ''),
          stat(c.blocked, 'blocked', c.blocked ? 'warn' : ''),
          stat(c.ignored, 'ignored'),
          stat(c.interrupted, 'interrupted', c.interrupted ? 'warn' : ''),
          stat(o.passes, 'passes by this daemon'),
        ),
        el(
          'p',
          { class: 'muted' },
          c.source === 'lastPass'
            ? `desired state as of the last pass (${fmtTime(c.at)})`
            : c.source === 'lastRun'
              ? `from the last recorded run (${fmtTime(c.at)})`
              : 'no pass yet',
        ),
        el('h2', {}, 'Current pass'),
      ];
      if (!cur) {
        blocks.push(
          el(
            'section',
            { class: 'card', id: 'current' },
            el(
              'p',
              {},
              'Idle.',
              o.pending ? ` Pending: ${o.pending.reasons.join('; ')}` : '',
              o.retry ? ` Retry ${o.retry.attempt} at ${fmtTime(o.retry.at)}.` : '',
            ),
          ),
        );
      } else {
        blocks.push(
          el(
            'section',
            { class: 'card', id: 'current' },
            el(
              'p',
              {},
              el('strong', {}, cur.trigger),
              ` · ${cur.phase} · started ${fmtTime(cur.startedAt)} · `,
              el('span', { id: 'progress' }, `${cur.done}/${cur.toBuild} ports done`),
              o.eta ? ` · ETA ${fmtTime(o.eta.at)} (${fmtMs(o.eta.remainingMs)} left)` : '',
              o.runId ? [' · run ', runLink(o.runId)] : '',
            ),
            table(
              [
                { title: 'worker', num: true, cell: (b) => b.slot },
                { title: 'port', cell: (b) => portLink(b.origin) },
                { title: 'phase', cell: (b) => b.phase },
                { title: 'since', cell: (b) => fmtTime(b.since) },
              ],
              cur.building,
              { id: 'workers' },
            ),
            el('p', { class: 'muted' }, `Queue (${o.queue.length}): `, o.queue.slice(0, 30).join(', '), o.queue.length > 30 ? ' …' : ''),
          ),
        );
      }
      if (o.lastError) blocks.push(el('p', { class: 'error' }, `last pass failed (${fmtTime(o.lastError.at)}): ${o.lastError.message}`));
      blocks.push(
        el('h2', {}, 'Recent runs'),
        el('section', { class: 'card' }, chartBox('runs-chart')),
        el('h2', {}, 'Live events'),
        eventsBox,
      );
      fill(main, ...blocks);
      durationChart($('#runs-chart'), o.runs, 'run duration (s)');
    }
    let timer = null;
    const soon = () => {
      if (!timer) timer = setTimeout(() => ((timer = null), refresh().catch(showError)), 250);
    };
    await refresh();
    const source = new EventSource('events');
    const live = $('#live');
    source.onopen = () => {
      live.textContent = 'live';
      live.classList.add('on');
    };
    source.onerror = () => {
      live.textContent = 'reconnecting…';
      live.classList.remove('on');
    };
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      seen++;
      document.body.dataset.events = String(seen);
      if (e.line) {
        events.push(e.line);
        if (events.length > 1000) events.shift();
        eventsBox.textContent = events.join('\n');
        eventsBox.scrollTop = eventsBox.scrollHeight;
      }
      soon();
    };
  };

  pages.runs = async function (main) {
    const { runs } = await api('api/runs');
    fill(
      main,
      el('h1', {}, 'Runs'),
      el('section', { class: 'card' }, chartBox('runs-chart')),
      table(
        [
          { title: 'run', cell: (r) => runLink(r.runId) },
          { title: 'started', cell: (r) => fmtTime(r.startedAt) },
          { title: 'trigger', cell: (r) => r.trigger },
          { title: 'status', cell: (r) => statusSpan(r.status) },
          { title: 'ports', num: true, cell: (r) => r.total ?? '' },
          { title: 'built', num: true, cell: (r) => r.success ?? '' },
          { title: 'failed', num: true, cell: (r) => r.failed ?? '' },
          { title: 'skipped', num: true, cell: (r) => r.skipped ?? '' },
          { title: 'blocked', num: true, cell: (r) => r.blocked ?? '' },
          { title: 'duration', num: true, cell: (r) => fmtMs(r.durationMs) },
          { title: 'commit', cell: (r) => el('span', { class: 'mono' }, short(r.gitCommit)) },
        ],
        runs,
        { id: 'runs' },
      ),
    );
    durationChart($('#runs-chart'), runs, 'run duration (s)');
  };

  pages.run = async function (main) {
    const id = new URLSearchParams(location.search).get('id');
    if (!id) throw new Error('no run given: open a run from the runs page');
    renderRun(main, await api(`api/run?id=${encodeURIComponent(id)}`));
  };

  pages.port = async function (main) {
    const origin = new URLSearchParams(location.search).get('origin');
    if (!origin) throw new Error('no port given: open a port from a run or the overview');
    const d = await api(`api/port?origin=${encodeURIComponent(origin)}`);
    const last = d.lastRebuild;
    fill(
      main,
      el('h1', {}, origin),
      el(
        'section',
        { class: 'card', id: 'why' },
        last
          ? [
              el('strong', {}, 'Last rebuilt '),
              `${fmtTime(last.startedAt)} (${last.trigger || '?'}, version ${last.version || '?'}, commit `,
              el('span', { class: 'mono' }, short(last.gitCommit)),
              '): ',
              last.reason || 'no reason recorded',
            ]
          : 'Never built successfully.',
        d.failedAt
          ? el(
              'p',
              { class: 'error' },
              `Blocked: failed at its current inputs (${fmtTime(d.failedAt)}); it is retried when they change or with reconcile --force ${origin}.`,
            )
          : null,
      ),
      el('h2', {}, 'Build durations'),
      el('section', { class: 'card' }, chartBox('durations')),
      el('h2', {}, `Builds (${d.builds.length})`),
      table(
        [
          { title: 'started', cell: (b) => fmtTime(b.startedAt) },
          { title: 'version', cell: (b) => b.version || '' },
          { title: 'status', cell: (b) => statusSpan(b.status) },
          { title: 'duration', num: true, cell: (b) => fmtMs(b.durationMs) },
          { title: 'run', cell: (b) => (b.runId ? runLink(b.runId) : '—') },
          { title: 'why', cell: (b) => b.error || b.reason || '' },
          { title: 'log', cell: logLink },
        ],
        d.builds,
        { id: 'builds' },
      ),
    );
    durationChart($('#durations'), d.builds, 'build duration (s)');
  };

  pages.sql = async function (main) {
    const input = el(
      'textarea',
      { id: 'sql', spellcheck: 'false' },
      new URLSearchParams(location.search).get('q') ||
        'SELECT origin, count(*) AS builds, round(avg(duration_ms) / 1000, 1) AS avg_s\nFROM builds GROUP BY ALL ORDER BY avg_s DESC LIMIT 20',
    );
    const out = el('div', { id: 'result' });
    async function run() {
      out.replaceChildren(el('p', { class: 'muted' }, 'running…'));
      const r = await fetch('../sql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sql: input.value }),
      });
      const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
      if (!r.ok || body.error) return out.replaceChildren(el('p', { class: 'error', id: 'sql-error' }, body.error || `${r.status}`));
      out.replaceChildren(
        el('p', { class: 'muted' }, `${body.rows.length} rows${body.truncated ? ` (truncated: ${body.notice || body.truncatedBy})` : ''}`),
        table(
          body.columns.map((c, i) => ({
            title: c,
            cell: (row) => (row[i] === null ? 'NULL' : typeof row[i] === 'object' ? JSON.stringify(row[i]) : String(row[i])),
          })),
          body.rows,
        ),
      );
    }
    fill(
      main,
      el('h1', {}, 'SQL'),
      el(
        'p',
        { class: 'muted' },
        'Read-only queries on the build database (tables runs, builds, build_phases, port_state), in the same sandbox as portsync sql: one statement, row, time and memory limits.',
      ),
      input,
      el('p', {}, el('button', { id: 'run-sql', onclick: () => run().catch(showError) }, 'Run')),
      out,
    );
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run().catch(showError);
    });
  };

  pages.report = async function (main) {
    ctx.offline = true;
    const data = JSON.parse(document.getElementById('portsync-data').textContent);
    renderRun(main, data, new Date(data.generatedAt));
    main.append(el('p', { class: 'footer' }, `portsync report, written ${fmtTime(data.generatedAt)}`));
  };

  function showError(err) {
    const main = $('main');
    main.append(el('p', { class: 'error', id: 'page-error' }, String((err && err.message) || err)));
    document.body.dataset.ready = 'error';
  }

  document.addEventListener('DOMContentLoaded', () => {
    const page = document.body.dataset.page;
    const main = $('main');
    Promise.resolve(pages[page](main))
      .then(() => (document.body.dataset.ready = 'yes'))
      .catch(showError);
  });
})();
