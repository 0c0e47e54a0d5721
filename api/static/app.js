// landfall status page: reads /v1 and /readyz every few seconds and renders
// tables, recent runs and quarantined batches. No framework, no build step.
// Every value from the API goes into the page as text, never as HTML.
'use strict';

const REFRESH_MS = 5000;
const TOKEN_KEY = 'landfall.token';
const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

class Unauthorized extends Error {}

async function getJson(path) {
  const headers = { 'Accept': 'application/json' };
  if (token()) headers['Authorization'] = 'Bearer ' + token();
  const res = await fetch(path, { headers, cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized();
  const body = await res.json().catch(() => null);
  if (!res.ok && !(body && 'ready' in body)) {
    const msg = body && body.error ? body.error.code + ': ' + body.error.message : res.status + ' ' + res.statusText;
    throw new Error(path + ': ' + msg);
  }
  return body;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function badge(status) { return el('span', status, 'badge ' + String(status).replace(/[^a-z_]/g, '')); }

function fmtInt(n) { return (n === undefined || n === null) ? '–' : Number(n).toLocaleString('en-US'); }

function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  const ago = s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : s < 86400 ? Math.round(s / 3600) + ' h ago' : d.toISOString().slice(0, 10);
  return ago;
}

function fmtMs(ms) {
  if (ms === undefined || ms === null) return '–';
  return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s';
}

function fill(tableId, rows, columns, empty) {
  const tbody = $(tableId).tBodies[0];
  const fresh = document.createElement('tbody');
  if (rows.length === 0) {
    const tr = el('tr');
    const td = el('td', empty, 'muted');
    td.colSpan = columns;
    tr.appendChild(td);
    fresh.appendChild(tr);
  }
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) tr.appendChild(c);
    fresh.appendChild(tr);
  }
  tbody.replaceWith(fresh);
}

function td(content, cls) {
  const cell = el('td', null, cls);
  if (content instanceof Node) cell.appendChild(content); else cell.textContent = content === undefined || content === null ? '–' : String(content);
  return cell;
}

function renderTables(tables) {
  let rows = 0, pending = 0, quarantined = 0, failed = 0;
  const out = tables.map((t) => {
    const b = t.batches || {};
    rows += t.rows || 0; pending += b.pending || 0; quarantined += b.quarantined || 0;
    if (t.status === 'failed') failed++;
    const last = t.last_run ? t.last_run.action + ' (' + t.last_run.status + ')' : '–';
    const statusCell = td(badge(t.status));
    if (t.last_error) statusCell.title = t.last_error;
    return [td(t.name, 'name'), statusCell, td(fmtInt(t.rows), 'r'), td(fmtInt(b.staged), 'r'),
            td(fmtInt(b.pending), 'r'), td(fmtInt(b.quarantined), 'r'), td(last), td(fmtTime(t.updated_at))];
  });
  fill('tables', out, 8, 'No tables yet: drop Parquet files under <landing>/<table>/.');
  setCard('n-tables', tables.length);
  setCard('n-rows', rows);
  setCard('n-pending', pending);
  setCard('n-quarantined', quarantined);
  setCard('n-failed', failed);
}

function setCard(id, n) {
  $(id).textContent = fmtInt(n);
  $(id).parentElement.classList.toggle('nonzero', n > 0);
}

function renderRuns(runs) {
  fill('runs', runs.map((r) => [td(r.id, 'r'), td(badge(r.status)), td(r.trigger), td(fmtTime(r.started_at)),
                                 td(fmtMs(r.duration_ms), 'r'), td(r.error || '')]), 6, 'No runs yet.');
}

function renderQuarantine(batches) {
  fill('quarantine', batches.map((b) => [td(b.path, 'name'), td(badge(b.error_code || 'quarantined')),
                                          td(b.error_message || ''), td(fmtTime(b.discovered_at))]),
       4, 'No quarantined batches.');
}

async function refreshProbes() {
  try {
    const h = await getJson('/healthz');
    $('version').textContent = 'v' + h.version;
  } catch (e) { /* the token-protected case is handled by /v1 below */ }
  try {
    const r = await getJson('/readyz');
    const b = $('ready');
    b.textContent = r.ready ? 'ready' : 'not ready';
    b.className = 'badge ' + (r.ready ? 'ok' : 'bad');
    b.title = r.ready ? 'GET /readyz' : (r.reasons || []).join('; ');
  } catch (e) {
    $('ready').textContent = 'unreachable';
    $('ready').className = 'badge bad';
  }
}

async function refresh() {
  const error = $('error');
  try {
    const [tables, runs, quarantined] = await Promise.all([
      getJson('/v1/tables'), getJson('/v1/runs?limit=10'), getJson('/v1/batches?status=quarantined&limit=50')]);
    renderTables(tables.tables || []);
    renderRuns(runs.runs || []);
    renderQuarantine(quarantined.batches || []);
    $('login').hidden = true;
    error.hidden = true;
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    if (e instanceof Unauthorized) {
      $('login').hidden = false;
      if (token()) $('login-error').textContent = 'That token was refused.';
      fill('tables', [], 8, 'Enter a token above to see the tables.');
      fill('runs', [], 6, 'Enter a token above to see the runs.');
      fill('quarantine', [], 4, 'Enter a token above to see quarantined batches.');
    } else {
      error.textContent = 'Could not refresh: ' + e.message;
      error.hidden = false;
    }
  }
  $('forget-token').hidden = !token();
  refreshProbes();
}

let timer = null;
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => { if (!document.hidden) await refresh(); schedule(); }, REFRESH_MS);
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  $('login-error').textContent = '';
  refresh();
});
$('forget-token').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); refresh(); });
document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });

refresh().then(schedule);
