/**
 * The HTML around the dashboard's front end (web/): the daemon's pages link its assets; the
 * static report inlines them (CSS, d3, Observable Plot, the script and the run's data) so that
 * one file opens from file:// with nothing else.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PortsyncError } from '../errors.js';

/** The project's root: this file is src/report/page.ts or dist/report/page.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/** A front-end file portsync serves or inlines is missing (an incomplete install). */
export class AssetMissingError extends PortsyncError {
  constructor(
    readonly asset: string,
    readonly path: string,
    cause: unknown,
  ) {
    super(
      `the dashboard asset ${asset} cannot be read at ${path} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}): reinstall portsync's files (npm ci)`,
    );
  }
}

/** Asset name → where it lives: the project's web/ folder, and the charting library from node_modules. */
function assetPaths(): Record<string, string> {
  return {
    'dashboard.js': join(ROOT, 'web', 'dashboard.js'),
    'dashboard.css': join(ROOT, 'web', 'dashboard.css'),
    // The UMD builds: Plot's expects the global d3.
    'd3.min.js': join(dirname(require.resolve('d3')), 'd3.min.js'),
    'plot.min.js': join(dirname(require.resolve('@observablehq/plot')), '..', 'dist', 'plot.umd.min.js'),
  };
}

let paths: Record<string, string> | undefined;
const cache = new Map<string, string>();

export const ASSET_NAMES = ['dashboard.css', 'd3.min.js', 'plot.min.js', 'dashboard.js'] as const;
export type AssetName = (typeof ASSET_NAMES)[number];

export function isAssetName(name: string): name is AssetName {
  return (ASSET_NAMES as readonly string[]).includes(name);
}

/** An asset's text (read once per process). */
export function assetText(name: AssetName): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const path = (paths ??= assetPaths())[name];
  try {
    const text = readFileSync(path, 'utf8');
    cache.set(name, text);
    return text;
  } catch (err) {
    throw new AssetMissingError(name, path, err);
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export type DashboardPage = 'overview' | 'runs' | 'run' | 'port' | 'sql';

const NAV: [DashboardPage, string, string][] = [
  ['overview', 'Overview', './'],
  ['runs', 'Runs', 'runs'],
  ['sql', 'SQL', 'sql'],
];

function header(current: DashboardPage | 'report', nav: boolean): string {
  const links = nav
    ? NAV.map(([page, title, href]) => `<a href="${href}"${page === current ? ' class="current"' : ''}>${title}</a>`).join('')
    : '';
  return `<header><span class="brand">portsync</span><nav>${links}</nav><span class="live" id="live"></span></header>`;
}

/** A dashboard page served by the daemon under /dashboard/ (its assets at /dashboard/assets/). */
export function dashboardHtml(page: DashboardPage, title: string): string {
  const scripts = ['d3.min.js', 'plot.min.js', 'dashboard.js'].map((s) => `<script src="assets/${s}"></script>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · portsync</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/dashboard.css">
${scripts}
</head><body data-page="${page}">${header(page, true)}<main><p class="muted">loading…</p></main></body></html>
`;
}

/** Text inside <script>: nothing in it may close the element. */
const scriptSafe = (s: string) => s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

/** A self-contained page: everything inline, `data` (JSON) read by the report page. */
export function reportHtml(title: string, data: unknown): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const inline = (name: AssetName) => `<script>${scriptSafe(assetText(name))}</script>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${assetText('dashboard.css').replace(/<\/style/gi, '<\\/style')}</style>
${inline('d3.min.js')}
${inline('plot.min.js')}
${inline('dashboard.js')}
<script type="application/json" id="portsync-data">${json}</script>
</head><body data-page="report">${header('report', false)}<main><p class="muted">loading…</p></main></body></html>
`;
}
