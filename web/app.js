/*
 * app.js - Tessera's page: forms that call the endpoints and render the answers as tables,
 * live counters from /metrics, and the bearer token (kept in sessionStorage, sent as an
 * Authorization header). Vanilla JS, no build step, nothing loaded from elsewhere.
 */
'use strict';

const TOKEN_KEY = 'tessera.token';
const MAX_ROWS = 500; /* rows rendered per table; the rest are counted, not drawn */

/* ---- small helpers -------------------------------------------------------------------- */

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function fmt(v) {
  if (v === null || v === undefined) return '\u2014';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number' && !Number.isInteger(v)) return v.toPrecision(6).replace(/\.?0+$/, '');
  return String(v);
}

function bytes(n) {
  if (typeof n !== 'number') return fmt(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/* A table from column specs [{key, label, num, render}] and row objects. */
function table(columns, rows, total) {
  const head = el('tr', {}, columns.map((c) => el('th', c.num ? { class: 'n' } : {}, c.label)));
  const body = rows.slice(0, MAX_ROWS).map((row, i) => el('tr', {}, columns.map((c) => {
    const v = c.render ? c.render(row, i) : fmt(row[c.key]);
    return el('td', c.num ? { class: 'n' } : {}, v);
  })));
  const t = el('table', {}, el('thead', {}, head), el('tbody', {}, body));
  const shown = Math.min(rows.length, MAX_ROWS);
  const count = total ?? rows.length;
  const box = el('div', { class: 'scroll' }, t);
  if (shown < count) return [box, el('p', { class: 'muted small' }, `showing ${shown} of ${count} rows`)];
  return [box];
}

function kvTable(obj, keys) {
  return el('table', { class: 'kv' }, el('tbody', {}, (keys || Object.keys(obj)).map((k) =>
    el('tr', {}, el('th', {}, k), el('td', {}, fmt(obj[k]))))));
}

function problemBox(p, status) {
  const box = el('div', { class: 'problem', role: 'alert' });
  if (p && typeof p === 'object' && 'detail' in p) {
    box.append(el('strong', {}, `${p.status ?? status} ${p.title ?? ''}`), el('div', { class: 'detail' }, p.detail));
    if (p.request_id) box.append(el('div', { class: 'rid' }, `request id ${p.request_id}`));
  } else {
    box.append(el('strong', {}, `HTTP ${status}`), el('div', { class: 'detail' }, String(p)));
  }
  return box;
}

/* ---- the token and fetch ---------------------------------------------------------------- */

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}

function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

/* Call an endpoint; resolves to {ok, status, body} where body is JSON, text or a problem. */
async function call(method, url, body) {
  const headers = authHeaders({ Accept: 'application/json' });
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    return { ok: false, status: 0, body: `the server did not answer (${e.message})` };
  }
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (res.status === 401) showTokenNeeded();
  return { ok: res.ok, status: res.status, body: data };
}

function showTokenNeeded() {
  $('#token-state').textContent = 'this server needs a token';
  $('#token-card').classList.add('needed');
  $('#token').focus();
}

function setupToken() {
  const form = $('#token-form');
  const state = $('#token-state');
  const show = () => { state.textContent = token() ? 'token set for this tab' : ''; };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('#token').value.trim();
    try { if (v) sessionStorage.setItem(TOKEN_KEY, v); } catch { /* storage off: nothing kept */ }
    $('#token').value = '';
    show();
    loadRoot();
    pollMetrics();
  });
  $('#token-forget').addEventListener('click', () => {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* nothing kept */ }
    show();
  });
  show();
}

/* The data root is in the page that GET / renders; the public copy (/ui) asks / for it. */
async function loadRoot() {
  const meta = document.querySelector('meta[name="tessera-root"]');
  if (meta && meta.content) return;
  try {
    const res = await fetch('/', { headers: authHeaders() });
    if (!res.ok) { if (res.status === 401) showTokenNeeded(); return; }
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const root = doc.querySelector('meta[name="tessera-root"]');
    if (root && root.content) $('#root').textContent = root.content;
  } catch { /* keep the placeholder */ }
}

/* ---- forms ------------------------------------------------------------------------------ */

/* Wire a form: collect its values, call run(values) -> {ok, status, body}, render. */
function wire(id, run, render) {
  const form = $(`#${id}-form`);
  const out = $(`#${id}-result`);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = $('button[type=submit]', form);
    button.disabled = true;
    out.replaceChildren(el('p', { class: 'muted' }, 'working\u2026'));
    const started = performance.now();
    try {
      const r = await run(new FormData(form), form);
      const ms = Math.round(performance.now() - started);
      if (r.ok) out.replaceChildren(...render(r.body), el('p', { class: 'muted small' }, `${form.dataset.endpoint} \u00b7 ${ms} ms`));
      else out.replaceChildren(problemBox(r.body, r.status));
    } catch (e) {
      out.replaceChildren(problemBox(e.message, 0));
    } finally {
      button.disabled = false;
    }
  });
}

function checked(form, name) { return form.elements[name].checked; }

function classifyLink(path) {
  return el('button', {
    type: 'button', class: 'linkish', title: 'classify this path',
    onclick: () => { const f = $('#classify-form'); f.elements.path.value = path; f.requestSubmit(); },
  }, path);
}

function renderScan(body) {
  const withClass = body.entries.some((e) => e.classification);
  const cols = [
    { label: 'Path', render: (e) => classifyLink(e.path) },
    { label: 'Preview', render: (e) => (canPreview(e) ? previewImg(e.path, THUMB, `thumbnail of ${e.path}`, 'thumb') : '\u2014') },
    { key: 'type', label: 'Type' },
    { key: 'suffix', label: 'Suffix' },
    { label: 'Size', num: true, render: (e) => (e.type === 'zarr' ? '\u2014' : bytes(e.size)) },
    { label: 'Modified (UTC)', render: (e) => (e.mtime ? e.mtime.slice(0, 16).replace('T', ' ') : '\u2014') },
  ];
  if (withClass) {
    cols.push({ label: 'Format', render: (e) => (e.classification?.error ? e.classification.error.title : fmt(e.classification?.format)) });
    cols.push({ label: 'Reader', render: (e) => fmt(e.classification?.reader) });
  }
  const parts = [el('p', { class: 'summary' },
    `${body.count} entr${body.count === 1 ? 'y' : 'ies'} under ${body.dir === '' ? 'the data root' : body.dir}`,
    body.truncated ? ' (truncated: a depth, count or time bound was hit)' : '')];
  parts.push(...table(cols, body.entries, body.count));
  if (body.errors.length > 0) {
    parts.push(el('h3', {}, 'Not listed'));
    parts.push(...table([{ key: 'path', label: 'Path' }, { key: 'detail', label: 'Why' }], body.errors));
  }
  return parts;
}

function renderClassify(body) {
  /* list fields (associated_images, warnings, series): joined with '; ', a dash when empty;
   * objects (physical_size, zarr, stack, a series) as compact JSON */
  const text = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v);
  const flat = Object.fromEntries(Object.entries(body).map(([k, v]) =>
    [k, Array.isArray(v) ? (v.length ? v.map(text).join('; ') : null) : text(v)]));
  return [...classifyFigure(body), kvTable(flat)];
}

function renderOverlap(body) {
  const p = body.pairs;
  const rows = p.a.map((a, i) => ({ a, b: p.b[i], count: p.count[i], iou: p.iou ? p.iou[i] : undefined }));
  const parts = [kvTable({ height: body.height, width: body.width, 'labels in a': body.labels_a,
    'labels in b': body.labels_b, 'overlapping pairs': rows.length })];
  if (body.matching) {
    /* one row per threshold of the sweep (an object when a single number was sent) */
    const sweep = Array.isArray(body.matching) ? body.matching : [body.matching];
    const names = { iou: 'IoU', iot: 'IoT', iop: 'IoP' };
    parts.push(el('h3', {}, `Matching at ${names[sweep[0].criterion] ?? sweep[0].criterion} \u2265 threshold`));
    const cols = [{ key: 'threshold', label: 'Threshold', num: true },
      ...['tp', 'fp', 'fn'].map((k) => ({ key: k, label: k.toUpperCase(), num: true })),
      ...[['precision', 'Precision'], ['recall', 'Recall'], ['f1', 'F1'], ['accuracy', 'Accuracy'],
        ['panoptic_quality', 'PQ']].map(([k, label]) => ({ label, num: true, render: (m) => m[k].toFixed(4) }))];
    const [box, ...rest] = table(cols, sweep);
    box.id = 'overlap-sweep';
    parts.push(evaluationFigures(sweep), box, ...rest);
  }
  parts.push(el('h3', {}, 'Pairs'));
  const cols = [{ key: 'a', label: 'Label a', num: true }, { key: 'b', label: 'Label b', num: true },
    { key: 'count', label: 'Pixels', num: true }];
  if (p.iou) cols.push({ key: 'iou', label: 'IoU', num: true });
  parts.push(...table(cols, rows));
  return parts;
}

function parseNumbers(text) {
  const tokens = text.split(/[\s,;]+/).filter((t) => t !== '');
  return tokens.map((t) => {
    if (/^nan$/i.test(t)) return null;
    const v = Number(t);
    if (!Number.isFinite(v)) throw new Error(`'${t}' is not a number`);
    return v;
  });
}

function renderTopk(body, values) {
  const rows = body.indices.map((index, rank) => ({ rank: rank + 1, index, value: body.values[rank] }));
  return [el('p', { class: 'summary' }, `${rows.length} of ${values} value${values === 1 ? '' : 's'}`),
    ...table([{ key: 'rank', label: 'Rank', num: true }, { key: 'index', label: 'Index', num: true },
      { label: 'Value', num: true, render: (r) => (r.value === null ? 'NaN' : fmt(r.value)) }], rows)];
}

function setupForms() {
  wire('scan', (fd, form) => {
    const q = new URLSearchParams();
    const dir = fd.get('dir').trim();
    if (dir) q.set('dir', dir);
    for (const name of ['recursive', 'classify', 'hidden']) q.set(name, String(checked(form, name)));
    if (fd.get('limit')) q.set('limit', fd.get('limit'));
    return call('GET', `/scan?${q}`);
  }, renderScan);

  wire('classify', (fd) => call('GET', `/classify?${new URLSearchParams({ path: fd.get('path').trim() })}`),
    renderClassify);

  wire('overlap', (fd, form) => {
    const body = { a: fd.get('a').trim(), b: fd.get('b').trim(), iou: checked(form, 'iou') };
    lastOverlap = { a: body.a, b: body.b, criterion: fd.get('criterion'), at: Number(fd.get('overlay_at')) || 0.5 };
    const thresholds = parseNumbers(fd.get('match_threshold'));
    if (thresholds.includes(null)) throw new Error('thresholds must be numbers in (0, 1]');
    if (thresholds.length > 0) {
      body.match_threshold = thresholds;
      body.criterion = fd.get('criterion');
    }
    return call('POST', '/overlap', body);
  }, renderOverlap);

  let lastCount = 0;
  wire('topk', (fd, form) => {
    const values = parseNumbers(fd.get('values'));
    lastCount = values.length;
    return call('POST', '/topk', { values, k: Number(fd.get('k')), largest: checked(form, 'largest') });
  }, (body) => renderTopk(body, lastCount));
}

/* ---- previews, overlays and charts ------------------------------------------------------ */

/* Pictures are PNGs the server renders (GET /preview, POST /overlap/render), so curl and this
 * page see the same thing. Without a token the browser loads a preview itself, lazily; with
 * one (an <img> cannot send a header) it is fetched when it scrolls into view and shown from
 * a blob URL. The chart is an SVG drawn here. */

const THUMB = 48; /* thumbnail side in the scan table, CSS pixels */
const PREVIEW_SIZE = 512;
const PREVIEW_NAME = /\.(ome\.)?tiff?$/i;
const CHART_SERIES = [['precision', 'precision', '#0b6e6e'], ['recall', 'recall', '#c0392b'],
  ['f1', 'F1', '#2c5fd6'], ['accuracy', 'accuracy', '#8e44ad'], ['panoptic_quality', 'PQ', '#d68910']];
let lastOverlap = null;

function canPreview(entry) { return entry.type !== 'zarr' && PREVIEW_NAME.test(entry.path); }

/* Show a fetched PNG answer in img, or say in its alt text why there is none. */
async function showFetched(img, alt, responsePromise) {
  try {
    const res = await responsePromise;
    if (res.status === 401) showTokenNeeded();
    if (!res.ok) {
      const p = await res.json().catch(() => null);
      img.alt = `${alt}: not available (${p?.detail ?? `HTTP ${res.status}`})`;
      img.classList.add('broken');
      return;
    }
    img.src = URL.createObjectURL(await res.blob());
  } catch (e) {
    img.alt = `${alt}: the server did not answer`;
    img.classList.add('broken');
  }
}

function previewImg(path, size, alt, cls) {
  const url = `/preview?${new URLSearchParams({ path, size: String(size) })}`;
  const img = el('img', { alt, class: cls, decoding: 'async', 'data-size': String(size) });
  img.addEventListener('error', () => img.classList.add('broken'));
  if (!token()) {
    img.loading = 'lazy';
    img.src = url;
    return img;
  }
  const load = () => showFetched(img, alt, fetch(url, { headers: authHeaders() }));
  if (!('IntersectionObserver' in window)) { load(); return img; }
  const io = new IntersectionObserver((seen) => {
    if (seen.some((e) => e.isIntersecting)) { io.disconnect(); load(); }
  });
  io.observe(img);
  return img;
}

function classifyFigure(body) {
  if (!['tiff', 'bigtiff'].includes(body.container) || !body.path) return [];
  const alt = `preview of ${body.path}: ${body.width} x ${body.height} pixels, ${body.channels ?? 1} channel(s), ${body.levels ?? 1} level(s)`;
  const facts = [`${body.width} \u00d7 ${body.height} px`, `${body.levels ?? 1} level${body.levels === 1 ? '' : 's'}`,
    `${body.channels ?? 1} channel${body.channels === 1 ? '' : 's'}`];
  const ps = body.physical_size;
  if (ps && typeof ps === 'object' && ps.x && ps.y) {
    const unit = ps.unit_x || '\u00b5m';
    facts.push(`${fmt(ps.x * body.width)} \u00d7 ${fmt(ps.y * body.height)} ${unit} (pixel ${fmt(ps.x)} \u00d7 ${fmt(ps.y)} ${unit})`);
  }
  return [el('figure', { class: 'picture', id: 'classify-preview' },
    previewImg(body.path, PREVIEW_SIZE, alt, 'preview'),
    el('figcaption', {}, facts.join(' \u00b7 ')))];
}

/* SVG line chart of the sweep: one line per metric, thresholds on x, 0..1 on y. */
function sweepChart(sweep) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 420, H = 260, L = 40, R = 10, T = 12, B = 58;
  const svg = document.createElementNS(NS, 'svg');
  const node = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  };
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('id', 'overlap-chart');
  const desc = CHART_SERIES.map(([k, label]) => `${label} ${sweep.map((m) => m[k].toFixed(2)).join('/')}`).join('; ');
  svg.setAttribute('aria-label', `precision, recall, F1, accuracy and panoptic quality against the threshold ${sweep.map((m) => m.threshold).join(', ')}: ${desc}`);
  svg.append(node('title', {}, 'Matching quality against the threshold'));
  const ts = sweep.map((m) => m.threshold);
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  const x = (t) => L + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (W - L - R);
  const y = (v) => T + (1 - v) * (H - T - B);
  for (let v = 0; v <= 1.0001; v += 0.25) {
    svg.append(node('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(node('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v.toFixed(2)));
  }
  for (const t of ts) svg.append(node('text', { x: x(t), y: H - B + 16, 'text-anchor': 'middle', class: 'tick' }, fmt(t)));
  svg.append(node('text', { x: (L + W - R) / 2, y: H - B + 32, 'text-anchor': 'middle', class: 'axis' }, 'threshold'));
  CHART_SERIES.forEach(([k, label, color], i) => {
    const pts = sweep.map((m) => `${x(m.threshold).toFixed(1)},${y(m[k]).toFixed(1)}`).join(' ');
    svg.append(node('polyline', { points: pts, fill: 'none', stroke: color, 'stroke-width': 2, 'data-metric': k }));
    for (const m of sweep) {
      const c = node('circle', { cx: x(m.threshold), cy: y(m[k]), r: 3, fill: color });
      c.append(node('title', {}, `${label} at ${m.threshold}: ${m[k].toFixed(4)}`));
      svg.append(c);
    }
    const lx = L + i * ((W - L - R) / CHART_SERIES.length);
    svg.append(node('rect', { x: lx, y: H - 14, width: 12, height: 4, fill: color }));
    svg.append(node('text', { x: lx + 16, y: H - 10, class: 'legend' }, label));
  });
  return svg;
}

function overlayImg() {
  const { a, b, criterion, at } = lastOverlap;
  const alt = `overlay of ${a} (truth) and ${b} (prediction) at ${criterion} ${at}: true positives green, false positives red, false negatives blue, outlines of the truth white and of the prediction yellow`;
  const img = el('img', { alt, class: 'preview', id: 'overlap-overlay', 'data-size': String(PREVIEW_SIZE) });
  showFetched(img, alt, fetch('/overlap/render', {
    method: 'POST',
    headers: authHeaders({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ a, b, threshold: at, criterion, size: PREVIEW_SIZE }),
  }));
  return img;
}

function evaluationFigures(sweep) {
  const figs = [el('figure', { class: 'picture' }, sweepChart(sweep),
    el('figcaption', {}, 'precision, recall, F1, accuracy and PQ against the threshold'))];
  if (lastOverlap) {
    figs.push(el('figure', { class: 'picture' }, overlayImg(), el('figcaption', {},
      `at ${lastOverlap.criterion} \u2265 ${lastOverlap.at}: `,
      el('span', { class: 'key tp' }, 'TP'), ' ', el('span', { class: 'key fp' }, 'FP'), ' ',
      el('span', { class: 'key fn' }, 'FN'))));
  }
  return el('div', { class: 'figures' }, figs);
}

/* ---- quantify: mcquant's per-cell table ------------------------------------------------- */

/* The /quantify form: a label image against one multi-page TIFF or a list of channel files;
 * the answer as a table, one row per cell (mean of each channel, then the shape). */
function setupQuantifyForm() {
  wire('quantify', (fd) => {
    const list = fd.get('channels').split(/[\s,]+/).filter((t) => t !== '');
    const intensity = fd.getAll('intensity');
    return call('POST', '/quantify', {
      labels: fd.get('labels').trim(),
      channels: list.length === 1 ? list[0] : list,
      intensity: intensity.length ? intensity : ['mean'],
    });
  }, (body) => {
    const c = body.columns;
    const rows = c.label.map((label, i) => ({ i, label }));
    const cols = [{ key: 'label', label: 'Cell', num: true }];
    for (const [stat, perChannel] of Object.entries(body.intensity)) {
      body.channels.forEach((ch, k) => cols.push({
        label: stat === 'mean' ? ch.name : `${ch.name} ${stat}`, num: true,
        render: (r) => fmt(perChannel[k][r.i]),
      }));
    }
    for (const key of ['centroid-1', 'centroid-0', 'area', 'major_axis_length', 'minor_axis_length',
      'eccentricity', 'solidity', 'extent', 'orientation']) {
      if (c[key]) cols.push({ label: key === 'centroid-1' ? 'X' : key === 'centroid-0' ? 'Y' : key, num: true, render: (r) => fmt(c[key][r.i]) });
    }
    return [el('p', { class: 'summary' }, `${body.labels} cells, ${body.channels.length} channel${body.channels.length === 1 ? '' : 's'}, ${body.height} x ${body.width}`),
      ...table(cols, rows)];
  });
}

/* ---- live counters ---------------------------------------------------------------------- */

/* Prometheus text -> [{name, labels, value}] (what this page needs of the format). */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

let metricsTimer = null;

async function pollMetrics() {
  clearTimeout(metricsTimer);
  const box = $('#counters');
  let res;
  try {
    res = await fetch('/metrics', { headers: authHeaders() });
  } catch {
    box.replaceChildren(el('p', { class: 'muted' }, 'the server did not answer'));
    metricsTimer = setTimeout(pollMetrics, 5000);
    return;
  }
  if (!res.ok) {
    if (res.status === 401) showTokenNeeded();
    const p = await res.json().catch(() => `HTTP ${res.status}`);
    box.replaceChildren(problemBox(p, res.status));
    if (res.status !== 401) metricsTimer = setTimeout(pollMetrics, 5000);
    return;
  }
  const series = parseMetrics(await res.text());
  const one = (name) => series.find((s) => s.name === name)?.value;
  const requests = series.filter((s) => s.name === 'tessera_requests_total' && s.labels.route);
  const apiRequests = requests.filter((s) => !s.labels.route.startsWith('/assets/'));
  const total = requests.reduce((n, s) => n + s.value, 0);
  const errors = requests.filter((s) => Number(s.labels.code) >= 400).reduce((n, s) => n + s.value, 0);
  const tiles = [
    ['requests', total], ['errors (4xx/5xx)', errors],
    ['open connections', one('tessera_open_connections')],
    ['workers busy', one('tessera_workers_busy')], ['queue depth', one('tessera_worker_queue_depth')],
    ['cache hits', one('tessera_classify_cache_hits_total')],
    ['cache misses', one('tessera_classify_cache_misses_total')],
    ['refused busy', one('tessera_rejected_busy_total')],
  ].filter(([, v]) => v !== undefined);
  const byRoute = new Map();
  for (const s of apiRequests) {
    const key = `${s.labels.method} ${s.labels.route === '-' ? '(no such route)' : s.labels.route}`;
    const row = byRoute.get(key) || { route: key, ok: 0, err: 0 };
    if (Number(s.labels.code) >= 400) row.err += s.value; else row.ok += s.value;
    byRoute.set(key, row);
  }
  const rows = [...byRoute.values()].sort((x, y) => (y.ok + y.err) - (x.ok + x.err));
  box.replaceChildren(
    el('div', { class: 'counters' }, tiles.map(([label, v]) => el('div', { class: 'counter' }, el('b', {}, fmt(v)), el('span', {}, label)))),
    ...table([{ key: 'route', label: 'Route' }, { key: 'ok', label: 'Answered', num: true }, { key: 'err', label: 'Errors', num: true }], rows));
  $('#counters-age').textContent = `updated ${new Date().toLocaleTimeString()}`;
  metricsTimer = setTimeout(pollMetrics, 2000);
}

document.addEventListener('DOMContentLoaded', () => {
  setupToken();
  setupForms();
  setupQuantifyForm();
  loadRoot();
  pollMetrics();
});
