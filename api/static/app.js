// landfall status page: reads /v1 and /readyz every few seconds and renders
// tables, models (with a drawing of their DAG, a picked column's path through
// it, and the partitions of time-interval models), recent runs and quarantined
// batches. No framework, no build step.
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

function renderModels(list) {
  const models = list.models || [];
  const out = models.map((m) => {
    const r = m.last_run;
    const reason = r && r.reasons && r.reasons.length ? ' · ' + r.reasons[0].code : '';
    const last = r ? r.action + ' (' + r.status + ')' + reason : '–';
    const statusCell = td(badge(m.status));
    if (m.last_error) statusCell.title = m.last_error;
    return [td(m.name, 'name'), td(m.strategy), statusCell, td(last), td(fmtInt(m.rows), 'r'),
            td(fmtMs(r ? r.duration_ms : null), 'r'), td(fmtTime(m.updated_at))];
  });
  fill('models', out, 7, 'No models (models.dir is not set, or holds no .sql file).');
  const error = $('models-error');
  error.hidden = !list.models_error;
  error.textContent = list.models_error ? 'Model files: ' + list.models_error : '';
  return models;
}

// A time-interval model's partitions: one cell per key, coloured by status
// (grey: missing), from its first partition, or `cells` keys back, to the one
// holding now. Keys are "2026", "2026-04", "2026-04-07" or "2026-04-07T13":
// their length says the granularity. step(d, n): the start of the partition n
// keys after the one holding d (n = 0: the start of d's own).
const GRANULARITIES = {
  4: { name: 'year', cells: 20, step: (d, n) => new Date(Date.UTC(d.getUTCFullYear() + n, 0, 1)) },
  7: { name: 'month', cells: 36, step: (d, n) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1)) },
  10: { name: 'day', cells: 90, step: (d, n) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + n)) },
  13: { name: 'hour', cells: 72, step: (d, n) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + n)) },
};

async function loadPartitions(name) {
  const base = '/v1/models/' + encodeURIComponent(name) + '/partitions';
  const first = (await getJson(base + '?limit=1')).partitions || [];
  if (first.length === 0) return { name, partitions: [] };
  const length = first[0].key.length;
  const g = GRANULARITIES[length];
  if (!g) return { name, error: 'unknown key ' + first[0].key };
  const end = g.step(new Date(), 0);
  let start = g.step(end, 1 - g.cells);
  const firstStart = new Date(first[0].window_start);
  if (firstStart > start) start = firstStart > end ? end : g.step(firstStart, 0);
  const key = (d) => d.toISOString().slice(0, length);
  const list = await getJson(base + '?from=' + key(start) + '&to=' + key(end) + '&limit=100000');
  return { name, granularity: g, start, end, key, partitions: list.partitions || [] };
}

function renderPartitions(views) {
  const box = $('partitions');
  $('partitions-box').hidden = views.length === 0;
  box.replaceChildren();
  for (const v of views) {
    const row = el('div', null, 'prow');
    const label = el('div', v.name, 'plabel name');
    row.appendChild(label);
    const cells = el('div', null, 'pcells');
    if (v.error) {
      cells.appendChild(el('span', v.error, 'muted'));
    } else if (v.partitions.length === 0) {
      cells.appendChild(el('span', 'no partitions yet', 'muted'));
    } else {
      const byKey = {};
      for (const p of v.partitions) byKey[p.key] = p;
      const counts = {};
      for (let d = v.start; d <= v.end; d = v.granularity.step(d, 1)) {
        const k = v.key(d);
        const p = byKey[k];
        const status = p ? p.status : 'missing';
        counts[status] = (counts[status] || 0) + 1;
        const cell = el('span', null, 'pcell ' + status.replace(/[^a-z_]/g, ''));
        cell.title = k + ': ' + status + (p ? ' · ' + fmtInt(p.rows) + ' rows · ' + fmtMs(p.duration_ms) : '') +
                     (p && p.error ? ' · ' + p.error : '');
        cells.appendChild(cell);
      }
      label.title = v.granularity.name + ' partitions ' + v.key(v.start) + ' to ' + v.key(v.end) + ': ' +
                    Object.entries(counts).map(([s, n]) => n + ' ' + s).join(', ');
    }
    row.appendChild(cells);
    box.appendChild(row);
  }
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

// The model (and column) picked in the DAG picture. It lives in the URL's
// fragment, #model=NAME&column=COL, so that a link (or a reload) shows the
// same path; picking only rewrites the fragment and draws again.
function picked() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { model: p.get('model') || '', column: p.get('column') || '' };
}

// fresh: read the lineage again (a model's SQL may have changed since; the
// refresh's stamp does not see that).
function pick(model, column, fresh) {
  if (fresh) lineageCache = { stamp: null, byModel: null };
  const p = new URLSearchParams();
  if (model) p.set('model', model);
  if (model && column) p.set('column', column);
  const hash = p.toString();
  // replaceState, not location.hash: each click is not a history entry.
  history.replaceState(null, '', hash ? '#' + hash : location.pathname + location.search);
  drawDag().catch(showDagError);
}

// What the last refresh read, for drawing again on a pick between refreshes;
// `stamp` changes when the graph or a staging table's columns do.
let shown = { dag: {}, models: [], stamp: '' };
// GET /v1/lineage by model name, kept while the stamp holds: the daemon binds
// every model's SQL for it (GET /v1/models/{name}/lineage costs the same, and
// tracing a path needs the upstream and downstream models' lineage too).
let lineageCache = { stamp: null, byModel: null };
let drawSeq = 0;

async function lineageByModel(stamp) {
  if (lineageCache.stamp === stamp && lineageCache.byModel) return lineageCache.byModel;
  const body = await getJson('/v1/lineage');
  const byModel = {};
  for (const m of body.models || []) byModel[m.model] = m;
  lineageCache = { stamp, byModel };
  return byModel;
}

const lower = (s) => String(s).toLowerCase();

// Column `column` of model `model`, followed through the lineage both ways.
// up: node id -> the columns of that table or model the picked column is
// computed from, through upstream models' own column sources down to staging
// tables. down: node id -> the columns of that model computed from it, for
// every model that reads it (read_by) and, recursively, for the readers of
// those columns; a reader that reads it only in WHERE or a join is in down
// with no column. A model whose lineage is unknown may read anything: it and
// everything downstream of it are in down and in `unknown`. Names compare
// case-insensitively, as DuckDB's do.
function tracePath(dag, byModel, model, column) {
  const nodeId = {}, modelId = {}, modelAt = {}, readers = {};
  for (const n of dag.nodes || []) {
    nodeId[lower(n.id)] = n.id;
    if (n.kind === 'model') { modelId[n.name] = n.id; modelAt[lower(n.id)] = n.name; }
  }
  for (const e of dag.edges || []) (readers[e.from] = readers[e.from] || []).push(e.to);
  const out = { self: modelId[model], up: new Map(), down: new Map(), edges: new Set(), unknown: new Set(),
                models: new Set(Object.values(modelId)) };
  const add = (map, id, col) => {
    if (!map.has(id)) map.set(id, new Set());
    if (col !== undefined) map.get(id).add(col);
  };
  const columnOf = (lin, col) => ((lin && lin.columns) || []).find((c) => lower(c.name) === lower(col));
  const unknownLineage = (lin) => !lin || !lin.known || lin.columns_unknown_reason;
  // First visit of a model's column in one direction (a column can be reached twice).
  const firstVisit = (seen, name, col) => {
    const key = lower(name) + '\n' + lower(col);
    return !seen.has(key) && !!seen.add(key);
  };

  const seenUp = new Set();
  const up = (name, col) => {
    if (!firstVisit(seenUp, name, col)) return;
    const lin = byModel[name];
    if (unknownLineage(lin)) { out.unknown.add(modelId[name]); return; }  // it stays in up, columns unknown
    const c = columnOf(lin, col);
    for (const [table, cols] of Object.entries((c && c.sources) || {})) {
      const id = nodeId[lower(table)] || table;
      out.edges.add(id + '\n' + modelId[name]);
      add(out.up, id);
      for (const s of cols) {
        add(out.up, id, s);
        if (modelAt[lower(id)] !== undefined) up(modelAt[lower(id)], s);
      }
    }
  };

  const everythingBelow = (id) => {
    for (const r of readers[id] || []) {
      out.edges.add(id + '\n' + r);
      if (out.unknown.has(r)) continue;
      out.unknown.add(r);
      add(out.down, r);
      everythingBelow(r);
    }
  };
  const seenDown = new Set();
  const down = (name, col) => {
    if (!firstVisit(seenDown, name, col)) return;
    const self = modelId[name];
    const c = columnOf(byModel[name], col);
    for (const reader of (c && c.read_by) || []) {
      const rid = modelId[reader];
      if (rid === undefined) continue;
      out.edges.add(self + '\n' + rid);
      add(out.down, rid);
      const rl = byModel[reader];
      if (unknownLineage(rl)) { out.unknown.add(rid); everythingBelow(rid); continue; }
      for (const rc of rl.columns) {
        const from = Object.entries(rc.sources || {}).find(([t]) => lower(t) === lower(self));
        if (from && from[1].some((s) => lower(s) === lower(col))) {
          add(out.down, rid, rc.name);
          down(reader, rc.name);
        }
      }
    }
  };
  if (out.self !== undefined) { up(model, column); down(model, column); }
  return out;
}

// Draws the DAG left to right: staging tables in the first column, each model
// one column right of the deepest table or model it reads. Edges are curves
// from a node's right side to its reader's left side. Models can be picked
// (click, or Enter on a focused node); with a traced `path` (tracePath) the
// nodes and edges on it are marked, their second line names the columns on
// it, and the rest is dimmed.
function renderDag(dag, models, chosen, path) {
  const box = $('dag');
  const nodes = dag.nodes || [], edges = dag.edges || [];
  const focused = document.activeElement && box.contains(document.activeElement) ?
    document.activeElement.getAttribute('data-id') : null;
  box.replaceChildren();
  if (nodes.length === 0) { box.appendChild(el('p', 'No models.', 'muted')); return; }
  const status = {};
  for (const m of models) status[m.name] = m.status;
  const ups = {};
  for (const e of edges) (ups[e.to] = ups[e.to] || []).push(e.from);
  const depth = {};
  // Nodes come upstream first (staging tables, then models in DAG order).
  for (const n of nodes) {
    depth[n.id] = n.kind === 'staging' ? 0 : 1 + Math.max(0, ...(ups[n.id] || []).map((u) => depth[u] || 0));
  }
  const columns = [];
  for (const n of nodes) (columns[depth[n.id]] = columns[depth[n.id]] || []).push(n);
  const W = 190, H = 38, GX = 70, GY = 14, PAD = 8;
  const at = {};
  let height = 0;
  columns.forEach((col, c) => (col || []).forEach((n, i) => {
    at[n.id] = { x: PAD + c * (W + GX), y: PAD + i * (H + GY) };
    height = Math.max(height, at[n.id].y + H + PAD);
  }));
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GX;
  const root = svg('svg', { width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img' });
  root.appendChild(svg('title', {}, 'DAG: ' + nodes.length + ' nodes, ' + edges.length + ' edges'));
  for (const e of edges) {
    const a = at[e.from], b = at[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
    const onPath = path ? (path.edges.has(e.from + '\n' + e.to) ? ' path' : ' dim') : '';
    const line = svg('path', { class: 'edge' + onPath, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` });
    line.appendChild(svg('title', {}, e.from + ' → ' + e.to));
    root.appendChild(line);
  }
  const short = (s, n) => s.length > n ? s.slice(0, n - 1) + '…' : s;
  for (const n of nodes) {
    const p = at[n.id];
    const state = n.kind === 'model' ? (status[n.name] || 'new') : 'staging';
    let sub = n.kind === 'model' ? n.strategy + ' · ' + state : n.schema;
    let title = n.id + (n.kind === 'model' ? ' (' + n.strategy + ', ' + state + ')' : '');
    let mark = n.kind === 'model' && n.name === chosen ? ' picked' : '';
    if (path) {
      const cols = (m) => [...(m.get(n.id) || [])].sort().join(', ');
      if (n.id === path.self) {
        sub = '● ' + picked().column;
        title += '\npicked: ' + n.id + '.' + picked().column;
      } else if (path.up.has(n.id)) {
        mark += ' path-up';
        sub = path.unknown.has(n.id) ? '? lineage unknown' : '→ ' + cols(path.up);
        title += path.unknown.has(n.id) ? '\nthe picked column comes from it (its lineage is unknown)' :
          '\nthe picked column comes from: ' + cols(path.up);
      } else if (path.down.has(n.id)) {
        mark += ' path-down';
        sub = path.unknown.has(n.id) ? '? may depend on it' : cols(path.down) ? '← ' + cols(path.down) : '← reads it (filter, join)';
        title += path.unknown.has(n.id) ? '\nmay depend on the picked column (its lineage, or one on the way, is unknown)' :
          cols(path.down) ? '\ncomputed from the picked column: ' + cols(path.down) : '\nreads the picked column (no output column is computed from it)';
      } else {
        mark += ' dim';
      }
    }
    const g = svg('g', { class: 'node ' + n.kind + ' ' + state.replace(/[^a-z_]/g, '') + mark,
                         transform: `translate(${p.x},${p.y})`, 'data-id': n.id });
    if (n.kind === 'model') {
      g.setAttribute('tabindex', '0');
      g.setAttribute('role', 'button');
      g.setAttribute('aria-label', 'show the columns of ' + n.id);
      g.addEventListener('click', () => pick(n.name, n.name === chosen ? picked().column : '', true));
      g.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(n.name, '', true); }
      });
    }
    g.appendChild(svg('title', {}, title));
    g.appendChild(svg('rect', { width: W, height: H, rx: 6 }));
    g.appendChild(svg('text', { x: 8, y: 16 }, short(n.name, 24)));
    g.appendChild(svg('text', { x: 8, y: 30, class: 'sub' }, short(sub, 32)));
    root.appendChild(g);
  }
  box.appendChild(root);
  if (focused) {
    const again = root.querySelector('[data-id="' + CSS.escape(focused) + '"]');
    if (again) again.focus();
  }
}

// The picked model's columns, as buttons, and the picked column's path in words.
function renderLineagePanel(chosen, lin, path, error) {
  const box = $('lineage');
  box.hidden = !chosen.model;
  box.replaceChildren();
  if (!chosen.model) return;
  const head = el('div', null, 'lhead');
  head.appendChild(el('span', 'Columns of ' + chosen.model, 'name'));
  const clear = el('button', 'clear');
  clear.type = 'button';
  clear.addEventListener('click', () => pick('', ''));
  head.appendChild(clear);
  box.appendChild(head);
  if (error) { box.appendChild(el('p', 'Could not read the lineage: ' + error, 'error-text')); return; }
  if (!lin) { box.appendChild(el('p', 'No model ' + chosen.model + ' in the lineage.', 'muted')); return; }
  if (!lin.known) box.appendChild(el('p', 'Lineage unknown: ' + (lin.unknown_reason || ''), 'muted lunknown'));
  if (lin.columns_unknown_reason) box.appendChild(el('p', 'Columns unknown: ' + lin.columns_unknown_reason, 'muted lunknown'));
  const list = el('div', null, 'lcols');
  for (const c of lin.columns || []) {
    const b = el('button', c.name, 'lcol');
    b.type = 'button';
    b.setAttribute('aria-pressed', String(lower(c.name) === lower(chosen.column)));
    b.addEventListener('click', () => pick(chosen.model, c.name));
    list.appendChild(b);
  }
  box.appendChild(list);
  if (!chosen.column) {
    if ((lin.columns || []).length) box.appendChild(el('p', 'Pick a column to see where it comes from and which models read it.', 'muted'));
    return;
  }
  if (!columnKnown(lin, chosen.column)) {
    box.appendChild(el('p', 'No column ' + chosen.column + ' in ' + chosen.model + '.', 'muted'));
    return;
  }
  const qualified = (m) => [...m].flatMap(([id, cols]) => [...cols].map((c) => id + '.' + c)).sort();
  const sources = qualified([...path.up].filter(([id]) => !path.models.has(id)));
  const through = qualified([...path.up].filter(([id]) => path.models.has(id)));
  const readers = [...path.down.keys()].sort();
  const line = (label, items) => el('p', label + (items.length ? items.join(', ') : 'nothing'), 'lpath');
  box.appendChild(line('comes from: ', sources));
  if (through.length) box.appendChild(line('through: ', through));
  box.appendChild(line('read by: ', readers));
  if (path.unknown.size) box.appendChild(line('lineage unknown, may be on the path: ', [...path.unknown].sort()));
}

const columnKnown = (lin, col) => (lin.columns || []).some((c) => lower(c.name) === lower(col));

function showDagError(e) {
  if (e instanceof Unauthorized) { refresh(); return; }  // it shows the token form
  $('lineage').hidden = false;
  $('lineage').replaceChildren(el('p', 'Could not draw the path: ' + e.message, 'error-text'));
}

// Draws the DAG of the last refresh with the pick of the URL's fragment,
// reading the lineage first when a model is picked and it is not at hand (the
// DAG is drawn plain meanwhile). A later call supersedes one still waiting.
async function drawDag() {
  const seq = ++drawSeq;
  const chosen = picked();
  let byModel = null, error = null;
  if (chosen.model && (shown.dag.nodes || []).length) {
    if (lineageCache.stamp !== shown.stamp || !lineageCache.byModel) {
      renderDag(shown.dag, shown.models, chosen.model, null);
      $('lineage').hidden = false;
      $('lineage').replaceChildren(el('p', 'Reading the lineage of ' + chosen.model + '…', 'muted'));
    }
    try {
      byModel = await lineageByModel(shown.stamp);
    } catch (e) {
      if (e instanceof Unauthorized) throw e;
      error = e.message;
    }
  }
  if (seq !== drawSeq) return;
  const lin = byModel ? byModel[chosen.model] : null;
  let path = null;
  if (lin && chosen.column && columnKnown(lin, chosen.column)) {
    path = tracePath(shown.dag, byModel, chosen.model, chosen.column);
  }
  renderDag(shown.dag, shown.models, chosen.model, path);
  renderLineagePanel(chosen, lin, path, error);
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
    const [tables, runs, quarantined, models] = await Promise.all([
      getJson('/v1/tables'), getJson('/v1/runs?limit=10'), getJson('/v1/batches?status=quarantined&limit=50'),
      getJson('/v1/models')]);
    renderTables(tables.tables || []);
    const modelList = renderModels(models);
    // Invalid model files have no graph to draw (422): the models' banner says why.
    const dag = await getJson('/v1/dag').catch((e) => { if (e instanceof Unauthorized) throw e; return {}; });
    // Lineage changes with the graph and the staging tables' columns; not
    // with every run, so a picked path does not read it again each refresh.
    const stamp = JSON.stringify([dag, (tables.tables || []).map((t) => [t.name, t.schema_hash])]);
    shown = { dag, models: modelList, stamp };
    // Not awaited: reading the lineage (slow for many models) holds up nothing else.
    drawDag().catch(showDagError);
    // One model's partitions failing to load says so in its row, not for the page.
    const views = await Promise.all(modelList.filter((m) => m.strategy === 'time_interval').map(
      (m) => loadPartitions(m.name).catch((e) => { if (e instanceof Unauthorized) throw e; return { name: m.name, error: e.message }; })));
    renderPartitions(views);
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
      fill('models', [], 7, 'Enter a token above to see the models.');
      $('dag').replaceChildren(el('p', 'Enter a token above to see the DAG.', 'muted'));
      $('lineage').hidden = true;
      renderPartitions([]);
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
window.addEventListener('hashchange', () => drawDag().catch(showDagError));

refresh().then(schedule);
