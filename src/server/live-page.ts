/**
 * The admin live view's page (`GET /` on the admin listener): one self-contained HTML document,
 * no external asset. Its one inline script polls `/live.json` every second and builds the page
 * with `textContent` and DOM calls only – request data (paths, hosts, user names) is hostile and
 * never becomes markup. The Content-Security-Policy allows exactly this script and this style by
 * their SHA-256 hashes, and connections to this origin only.
 * @see https://www.w3.org/TR/CSP3/#grammardef-hash-source
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root { color-scheme: light dark; font: 13px/1.4 system-ui, sans-serif; }
body { margin: 0 1rem 2rem; }
h1 { font-size: 1.3rem; margin: .8rem 0 .2rem; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
.meta { color: GrayText; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid color-mix(in srgb, currentColor 15%, transparent); vertical-align: top; }
th { position: sticky; top: 0; background: Canvas; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.deny td.decision, tr.error td.decision, .bad { color: #c0392b; font-weight: 600; }
tr.login td.decision { color: #b9770e; }
.ok { color: #1e8449; }
.filters { display: flex; gap: .5rem; flex-wrap: wrap; margin: .4rem 0; }
.filters input { min-width: 16rem; }
svg.spark { height: 28px; vertical-align: middle; }
svg.spark polyline { fill: none; stroke-width: 1.5; }
svg.spark .req { stroke: #2e86c1; }
svg.spark .deny { stroke: #c0392b; }
td.nowrap { white-space: nowrap; }
svg.spark { width: 240px; }
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
};
const row = (cells, cls) => {
  const tr = el('tr', undefined, cls);
  for (const c of cells) tr.append(c instanceof Node ? c : el('td', c));
  return tr;
};
const td = (text, cls) => el('td', text, cls);
const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 23) : '');
const ago = (ms) => (ms ? Math.max(0, Math.round((Date.now() - ms) / 1000)) + ' s ago' : 'never');
const MAX_ROWS = 1000;
/** samples a chart spans: the server keeps two minutes of 1 s samples */
const WINDOW = 120;
let last;

function options(select, values) {
  const want = ['', ...[...new Set(values)].sort()];
  const have = [...select.options].map((o) => o.value);
  if (want.join('\\u0000') === have.join('\\u0000')) return;
  const keep = select.value;
  select.replaceChildren(...want.map((v) => { const o = el('option', v || 'all'); o.value = v; return o; }));
  select.value = want.includes(keep) ? keep : '';
}

function matches(d, f) {
  if (f.route && (d.route || '(none)') !== f.route) return false;
  if (f.decision && d.decision !== f.decision) return false;
  if (f.reason && d.reason !== f.reason) return false;
  if (!f.q) return true;
  const hay = [d.sub, d.email, d.path, d.host, d.route, d.reason, d.rule, d.decision, d.client_ip,
    d.request_id, d.method, d.idp, d.auth_type, String(d.status)].join(' ').toLowerCase();
  return f.q.split(/\\s+/).every((w) => hay.includes(w));
}

function renderDecisions(view) {
  const ds = view.decisions;
  options($('f-route'), ds.map((d) => d.route || '(none)'));
  options($('f-reason'), ds.map((d) => d.reason));
  const f = { route: $('f-route').value, decision: $('f-decision').value, reason: $('f-reason').value,
    q: $('q').value.trim().toLowerCase() };
  const shown = [];
  for (let i = ds.length - 1; i >= 0 && shown.length < MAX_ROWS; i--) if (matches(ds[i], f)) shown.push(ds[i]);
  const cluster = view.mode === 'cluster';
  $('decisions').replaceChildren(...shown.map((d) => row([
    td(time(d.time).slice(11), 'nowrap'), td(d.route || '(none)'), td(d.decision, 'decision'), td(d.reason), td(d.rule || ''),
    td(d.status, 'num'), td(d.method), td(d.host + d.path), td(d.sub || ''), td(d.email || ''),
    td(d.auth_type || ''), td(d.idp || ''), td(d.client_ip), td(d.duration_ms.toFixed(2), 'num'),
    td(cluster ? d.worker : ''), td(d.request_id, 'nowrap'),
  ], d.decision)));
  $('count').textContent = shown.length + ' shown of ' + ds.length + ' kept (at most ' + view.capacity + ')';
}

// One chart per route: requests and denials on one scale, the newest sample at the right edge,
// one unit per sample across the whole window (so a fresh start fills in from the right).
function spark(series, window, max) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 ' + window + ' 28');
  svg.setAttribute('preserveAspectRatio', 'none');
  for (const [values, cls] of series) {
    const line = document.createElementNS(NS, 'polyline');
    line.setAttribute('class', cls);
    const n = values.length;
    line.setAttribute('points', values.map((v, i) => (window - (n - 1 - i)) + ',' + (27 - (v / max) * 25).toFixed(1)).join(' '));
    svg.append(line);
  }
  return svg;
}

function renderRates(view) {
  const routes = Object.entries(view.rates.routes).sort(([a], [b]) => (a < b ? -1 : 1));
  const step = view.rates.interval_s || 1;
  $('rates').replaceChildren(...routes.map(([name, r]) => {
    const max = Math.max(1, ...r.requests);
    const now = r.requests.at(-1) || 0;
    const denied = r.denied.at(-1) || 0;
    const cell = td('');
    cell.append(spark([[r.requests, 'req'], [r.denied, 'deny']], WINDOW, max));
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    return row([td(name), td((now / step).toFixed(1), 'num'), td((denied / step).toFixed(1), 'num'),
      td(sum(r.requests), 'num'), td(sum(r.denied), 'num'), cell]);
  }));
  $('rates-note').textContent = routes.length ? 'last ' + Math.max(0, ...routes.map(([, r]) => r.requests.length)) +
    ' samples of ' + step + ' s; scale per route: highest request count in the window' : 'no requests sampled yet';
}

function keysText(k) {
  if (!k) return '';
  return (k.loaded ? k.keys + ' keys' : 'not loaded') + ', refreshed ' + ago(k.last_refresh) +
    (k.failures ? ', ' + k.failures + ' failed in a row' : '');
}

function renderStatus(view) {
  const out = [];
  for (const p of view.processes) {
    const box = el('section');
    box.append(el('h3', (p.worker !== undefined ? 'worker ' + p.worker + ' · ' : '') + 'pid ' + p.pid +
      ' · ' + p.ready + (p.error ? ' · ' + p.error : ''), p.ready === 'ready' ? 'ok' : 'bad'));
    const t = el('table');
    t.append(row(['', 'name', 'state', 'keys', 'last error'].map((h) => el('th', h))));
    for (const i of p.idps) t.append(row([td('IdP'), td(i.name + ' (' + i.issuer + ')'),
      td('discovery ' + i.discovery + (i.discovered_at ? ' at ' + time(i.discovered_at) : '') +
        (i.attempts ? ', ' + i.attempts + ' failed attempts' : ''), i.discovery === 'ok' ? 'ok' : 'bad'),
      td(keysText(i.keys)), td(i.last_error || (i.keys && i.keys.last_error) || '', 'bad')]));
    for (const b of p.bearer) t.append(row([td('bearer'), td(b.issuer), td(b.keys.loaded ? 'keys loaded' : 'no keys',
      b.keys.loaded ? 'ok' : 'bad'), td(keysText(b.keys)), td(b.keys.last_error || '', 'bad')]));
    const r = p.config.last_reload;
    t.append(row([td('config'), td('loaded ' + time(p.config.loaded_at)),
      td(r ? 'last reload ' + r.result + ' at ' + time(r.at) : 'not reloaded since start', r && r.result !== 'success' ? 'bad' : ''),
      td(''), td(r && r.problems ? r.problems.join('\\n') : '', 'bad')]));
    const s = p.store;
    t.append(row([td('store'), td(s.kind), td(s.synced ? 'synced' : 'not synced', s.synced ? 'ok' : 'bad'),
      td(s.errors + ' errors'), td(s.last_error ? s.last_error.op + ' at ' + time(s.last_error.at) : '', 'bad')]));
    box.append(t);
    out.push(box);
  }
  $('status').replaceChildren(...out);
}

function render() {
  if (!last) return;
  $('updated').textContent = 'updated ' + time(last.generated_at) + ' · ' +
    (last.mode === 'cluster' ? last.workers + ' workers (decisions and rates of all, state per worker)' : 'single process');
  renderDecisions(last);
  renderRates(last);
  renderStatus(last);
}

async function poll() {
  try {
    const res = await fetch('live.json', { cache: 'no-store', credentials: 'omit' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    last = await res.json();
    $('error').textContent = '';
    render();
  } catch (err) {
    $('error').textContent = 'live.json: ' + err.message;
  }
}

for (const id of ['f-route', 'f-decision', 'f-reason']) $(id).addEventListener('change', render);
$('q').addEventListener('input', render);
poll();
setInterval(poll, 1000);
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Nothing but this page's own script and style; `connect-src 'self'` for the poll; no frames,
 * forms, images, fonts or base URL.
 */
export const LIVE_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Gatehouse · live</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Gatehouse · live</h1>
<div class="meta"><span id="updated">loading…</span> <span id="error" class="bad"></span></div>
<h2>Request and deny rate per route</h2>
<div class="meta" id="rates-note"></div>
<table>
<thead><tr><th>route</th><th>req/s</th><th>deny/s</th><th>requests</th><th>denied</th><th>requests (blue), denied (red)</th></tr></thead>
<tbody id="rates"></tbody>
</table>
<h2>Recent decisions</h2>
<div class="filters">
<label>route <select id="f-route"><option value="">all</option></select></label>
<label>decision <select id="f-decision"><option value="">all</option><option>allow</option><option>deny</option><option>login</option><option>error</option></select></label>
<label>reason <select id="f-reason"><option value="">all</option></select></label>
<label>search <input id="q" type="search" placeholder="user, email, path, rule, request id…" autocomplete="off"></label>
<span class="meta" id="count"></span>
</div>
<table>
<thead><tr><th>time UTC</th><th>route</th><th>decision</th><th>reason</th><th>rule</th><th>status</th><th>method</th><th>host + path</th><th>sub</th><th>email</th><th>auth</th><th>idp</th><th>client</th><th>ms</th><th>worker</th><th>request id</th></tr></thead>
<tbody id="decisions"></tbody>
</table>
<h2>Identity providers, config, store</h2>
<div id="status"></div>
<script>${SCRIPT}</script>
</body>
</html>
`;
