// ui.test.mjs - the ctest "ui": Debian's headless chromium (driven by playwright-core) uses
// the page and /docs of a real tessera server started here on --port 0 over the demo data.
//
// Checks: the page shows the version, the data root and live counters; a scan through the
// form renders rows; a file classifies (typed, and by clicking a scan row); an error shows
// its problem detail; top-k and overlap render tables; /docs renders every operation of
// openapi/openapi.yaml; scan thumbnails, the classify preview, the overlay and the sweep chart
// load at their sizes with alt text, and the page fits a phone; with --token, /ui asks for the
// token and then works; over native HTTPS (--tls-cert, a private CA made here with openssl)
// the page and its API calls work in a browser that trusts exactly that server key (its SPKI
// pinned with --ignore-certificate-errors-spki-list), and a browser without the pin refuses
// the certificate. No request may
// leave the server (everything the pages load is embedded). Screenshots of each page are
// written to the artifacts directory.
//
// Usage: node tests/ui/ui.test.mjs --bin build/tessera --artifacts build/ui-artifacts
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SPEC = path.resolve(HERE, '../../openapi/openapi.yaml');
const CHROMIUM = process.env.TESSERA_CHROMIUM || '/usr/bin/chromium';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const BIN = opt('--bin', null);
const ARTIFACTS = path.resolve(opt('--artifacts', 'ui-artifacts'));
if (!BIN) {
  console.error('usage: node tests/ui/ui.test.mjs --bin PATH/TO/tessera [--artifacts DIR]');
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

/* ---- tiny test runner ------------------------------------------------------------------ */

let failures = 0;
let passes = 0;
function check(ok, what, detail = '') {
  if (ok) { passes++; console.log(`  ok   ${what}`); } else { failures++; console.log(`  FAIL ${what}${detail ? `: ${detail}` : ''}`); }
  return ok;
}
async function step(name, fn) {
  console.log(`- ${name}`);
  try {
    await fn();
  } catch (e) {
    failures++;
    console.log(`  FAIL ${name} threw: ${e.stack || e}`);
  }
}

/* ---- the server ------------------------------------------------------------------------ */

function startServer(root, extra = [], scheme = 'http') {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--root', root, '--port', '0', '--access-log=false', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no 'listening' line in 10 s:\n${out}`)); }, 10000);
    const onData = (d) => {
      out += d.toString();
      const m = /"msg":"listening".*?"port":(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]), base: `${scheme}://127.0.0.1:${m[1]}` }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tessera exited ${code}:\n${out}`)); });
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) { resolve(s.child.exitCode); return; }
    s.child.removeAllListeners('exit');
    s.child.on('exit', (code) => resolve(code));
    s.child.kill('SIGTERM');
  });
}

/* ---- the browser ----------------------------------------------------------------------- */

async function openBrowser(profile, extraArgs = []) {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/* A private CA and a server certificate for 127.0.0.1 (EC P-256) in dir, made with openssl;
 * returns the paths and the base64 SHA-256 of the server's SubjectPublicKeyInfo, the form
 * Chromium's --ignore-certificate-errors-spki-list takes. */
function makeTls(dir) {
  mkdirSync(dir, { recursive: true });
  const sh = (cmd) => {
    const r = spawnSync('sh', ['-ec', cmd], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return r.stdout.trim();
  };
  sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=ui test CA" -keyout ca.key -out ca.pem 2>/dev/null');
  sh('openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null');
  sh("printf 'subjectAltName=IP:127.0.0.1\\n' > ext.cnf");
  sh('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 2 -extfile ext.cnf -out server.pem 2>/dev/null');
  const spki = sh('openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64');
  return { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key'), spki };
}

/* Record every request that is not to the server and every page error. */
function watch(page, base, log) {
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(`${base}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) log.offsite.push(url);
  });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('console', (msg) => { if (msg.type() === 'error') log.console.push(msg.text()); });
}

const cellTexts = (page, sel) => page.$$eval(sel, (cells) => cells.map((c) => c.textContent.trim()));

/* ---- the tests ------------------------------------------------------------------------- */

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tessera-ui-'));
const root = path.join(tmp, 'data');
const demo = spawnSync(BIN, ['make-demo', root], { encoding: 'utf8' });
if (demo.status !== 0) {
  console.error(`make-demo failed: ${demo.stderr}`);
  process.exit(1);
}
const spec = YAML.parse(readFileSync(SPEC, 'utf8'), { maxAliasCount: -1 });
const version = spec.info.version;

let server = null;
let context = null;
try {
  server = await startServer(root);
  context = await openBrowser(path.join(tmp, 'profile-open'));
  const page = context.pages()[0] || await context.newPage();
  const log = { offsite: [], errors: [], console: [] };
  watch(page, server.base, log);

  await step('the page: what Tessera is, version, data root, live counters', async () => {
    const res = await page.goto(`${server.base}/`);
    check(res.status() === 200, 'GET / is 200', String(res.status()));
    check((await page.title()) === 'Tessera', 'title is Tessera');
    check((await page.textContent('#version')) === version, `version ${version} shown`);
    check((await page.textContent('#root')) === root, 'data root shown', await page.textContent('#root'));
    check((await page.textContent('.lead')).includes('multiplex-imaging'), 'says what Tessera is');
    await page.waitForSelector('#counters .counter', { timeout: 5000 });
    const tiles = await cellTexts(page, '#counters .counter span');
    check(tiles.includes('requests') && tiles.includes('open connections'), 'counters from /metrics', tiles.join(', '));
    const rows = await cellTexts(page, 'table.endpoints tbody td:nth-child(2)');
    for (const p of ['/scan', '/classify', '/overlap', '/topk', '/docs']) check(rows.includes(p), `endpoint list has ${p}`);
  });

  await step('scan the data root through the form', async () => {
    await page.check('#scan-form input[name=recursive]');
    await page.check('#scan-form input[name=classify]');
    await page.click('#scan-form button[type=submit]');
    await page.waitForSelector('#scan-result tbody tr', { timeout: 10000 });
    const paths = await cellTexts(page, '#scan-result tbody tr td:first-child');
    check(paths.length >= 8, `${paths.length} rows rendered`, paths.join(' '));
    check(paths.includes('cyc1/DAPI.tif') && paths.includes('plate.zarr'), 'rows include cyc1/DAPI.tif and plate.zarr');
    check(paths.indexOf('cyc2/CD3.TIFF') < paths.indexOf('cyc10/CD20.tiff'), 'natural order: cyc2 before cyc10');
    check(!paths.some((p) => p.endsWith('.txt')), 'non-images are not listed');
    const summary = await page.textContent('#scan-result .summary');
    check(/^\d+ entr/.test(summary), 'summary line', summary);
    const header = await cellTexts(page, '#scan-result thead th');
    check(header.includes('Format') && header.includes('Reader'), 'classification columns with classify on', header.join(','));
  });

  await step('classify a file (typed)', async () => {
    await page.fill('#classify-form input[name=path]', 'slides/pyramid.ome.tif');
    await page.click('#classify-form button[type=submit]');
    await page.waitForSelector('#classify-result table.kv', { timeout: 10000 });
    const kv = Object.fromEntries((await page.$$eval('#classify-result table.kv tr', (trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]))));
    check(kv.format === 'ome-tiff', 'format ome-tiff', kv.format);
    check(kv.reader === 'vips' && kv.tiled === 'yes' && kv.levels === '3', 'reader vips, tiled, 3 levels', JSON.stringify(kv));
  });

  await step('classify by clicking a scan row', async () => {
    await page.click('#scan-result button.linkish:text-is("cyc2/hyperstack.tif")');
    await page.waitForFunction(() => document.querySelector('#classify-result table.kv')?.textContent.includes('hyperstack'), null, { timeout: 10000 });
    const text = await page.textContent('#classify-result');
    check(text.includes('imagej-tiff'), 'hyperstack.tif is imagej-tiff');
  });

  await step('an error shows its problem detail', async () => {
    await page.fill('#classify-form input[name=path]', 'nope.tif');
    await page.click('#classify-form button[type=submit]');
    await page.waitForSelector('#classify-result .problem', { timeout: 10000 });
    const text = await page.textContent('#classify-result .problem');
    check(text.includes('404') && text.includes('Not Found'), 'status and title shown', text);
    check(text.includes("'nope.tif' does not exist"), 'detail shown', text);
    check(/request id [0-9a-f]{32}/.test(text), 'request id shown', text);
    await page.fill('#classify-form input[name=path]', '../etc/passwd');
    await page.click('#classify-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#classify-result .problem')?.textContent.includes('403'), null, { timeout: 10000 });
    check(true, 'a path out of the root shows 403');
  });

  await step('top-k of a pasted list', async () => {
    await page.fill('#topk-form textarea[name=values]', '3, 1, nan, 2\n1 9');
    await page.fill('#topk-form input[name=k]', '3');
    await page.click('#topk-form button[type=submit]');
    await page.waitForSelector('#topk-result tbody tr', { timeout: 10000 });
    const rows = await page.$$eval('#topk-result tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    check(JSON.stringify(rows) === JSON.stringify([['1', '1', '1'], ['2', '4', '1'], ['3', '3', '2']]), 'ranks, indices (ties by lower index) and values', JSON.stringify(rows));
    await page.check('#topk-form input[name=largest]');
    await page.click('#topk-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#topk-result tbody tr td:nth-child(3)')?.textContent === '9', null, { timeout: 10000 });
    check(true, 'largest puts 9 first');
    await page.fill('#topk-form input[name=k]', '99');
    await page.click('#topk-form button[type=submit]');
    await page.waitForSelector('#topk-result .problem', { timeout: 10000 });
    check((await page.textContent('#topk-result .problem')).includes('422'), 'k too large shows a 422 problem');
    await page.fill('#topk-form input[name=k]', '3');
    await page.uncheck('#topk-form input[name=largest]');
    await page.click('#topk-form button[type=submit]');
    await page.waitForSelector('#topk-result tbody tr', { timeout: 10000 });
  });

  await step('overlap two label images under the root', async () => {
    await page.fill('#overlap-form input[name=a]', 'labels/truth.tif');
    await page.fill('#overlap-form input[name=b]', 'labels/predicted.tif');
    await page.click('#overlap-form button[type=submit]');
    await page.waitForSelector('#overlap-result h3', { timeout: 20000 });
    const text = await page.textContent('#overlap-result');
    check(text.includes('labels in a') && text.includes('Matching at IoU'), 'summary and matching tables');
    const sweep = await page.$$eval('#overlap-sweep tbody tr', (rows) => rows.map((r) => r.cells[0].textContent));
    check(sweep.length === 9 && sweep[0] === '0.1' && sweep[8] === '0.9', `sweep table rows ${sweep.join(' ')}`);
    const head = await page.$$eval('#overlap-sweep thead th', (th) => th.map((t) => t.textContent));
    check(['TP', 'FP', 'FN', 'Precision', 'Recall', 'F1', 'Accuracy', 'PQ'].every((h) => head.includes(h)),
      `sweep table columns ${head.join(' ')}`);
    const pairs = await page.$$('#overlap-result .scroll:not(#overlap-sweep) tbody tr');
    check(pairs.length > 10, `${pairs.length} pair rows`);
  });

  await step('pictures: scan thumbnails, the classify preview, the chart and the overlay', async () => {
    /* An <img> that decoded: its natural size, or null while it is not loaded. */
    const natural = (sel) => page.$eval(sel, (img) => (img.complete && img.naturalWidth > 0
      ? { w: img.naturalWidth, h: img.naturalHeight, alt: img.alt } : null)).catch(() => null);
    const loaded = (sel) => page.waitForFunction((q) => {
      const img = document.querySelector(q);
      return img && img.complete && img.naturalWidth > 0;
    }, sel, { timeout: 15000 });
    /* Every image has an alt attribute (the header's decorative icon an empty one), and every
     * picture of an answer a text that says what it shows. */
    const noAlt = await page.$$eval('img', (imgs) => imgs.filter((i) => !i.hasAttribute('alt')
      || (i.closest('.result') && !i.alt.trim())).map((i) => i.src));
    check(noAlt.length === 0, 'every picture has alt text', noAlt.join(' '));
    const thumb = '#scan-result img.thumb[alt="thumbnail of cyc1/DAPI.tif"]';
    await page.$eval(thumb, (img) => img.scrollIntoView());
    await loaded(thumb);
    const t = await natural(thumb);
    check(t && t.w === 48 && t.h === 36, 'DAPI.tif thumbnail decodes at 48 x 36 (256 x 192 fitted)', JSON.stringify(t));
    check((await page.$$('#scan-result img.thumb')).length >= 6, 'a thumbnail per TIFF row');
    await page.fill('#classify-form input[name=path]', 'slides/pyramid.ome.tif');
    await page.click('#classify-form button[type=submit]');
    await page.waitForSelector('#classify-preview img', { timeout: 10000 });
    await loaded('#classify-preview img');
    const pv = await natural('#classify-preview img');
    check(pv && pv.w === 512 && pv.h === 512, 'classify preview decodes at 512 x 512 (its level 1)', JSON.stringify(pv));
    check(pv && pv.alt.includes('1024 x 1024') && pv.alt.includes('3 level'), 'its alt text gives size and levels', pv && pv.alt);
    const caption = await page.textContent('#classify-preview figcaption');
    check(caption.includes('3 levels'), 'the caption gives the levels', caption);
    await page.$eval('#classify-card', (c) => c.scrollIntoView());
    await (await page.$('#classify-card')).screenshot({ path: path.join(ARTIFACTS, 'preview.png') });
    check(true, `screenshot ${path.join(ARTIFACTS, 'preview.png')}`);
    await loaded('#overlap-overlay');
    const ov = await natural('#overlap-overlay');
    check(ov && ov.w === 512 && ov.h === 512, 'overlay decodes at 512 x 512', JSON.stringify(ov));
    check(ov && ov.alt.includes('true positives green'), 'overlay alt text says what the colours mean');
    const lines = await page.$$eval('#overlap-chart polyline', (ps) => ps.map((p) => [p.dataset.metric, p.getAttribute('points').split(' ').length]));
    check(lines.length === 5 && lines.every(([, n]) => n === 9), 'chart: 5 metrics x 9 thresholds', JSON.stringify(lines));
    check((await page.getAttribute('#overlap-chart', 'aria-label')).startsWith('precision, recall'), 'chart has a text alternative');
    await page.$eval('#overlap-card', (c) => c.scrollIntoView());
    await (await page.$('#overlap-card')).screenshot({ path: path.join(ARTIFACTS, 'overlay-chart.png') });
    check(true, `screenshot ${path.join(ARTIFACTS, 'overlay-chart.png')}`);
    await page.setViewportSize({ width: 390, height: 844 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= 390, 'phone width: the page does not scroll sideways', String(wide));
    await page.$eval('#overlap-card', (c) => c.scrollIntoView());
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone.png'), fullPage: false });
    check(true, `screenshot ${path.join(ARTIFACTS, 'phone.png')}`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('live counters keep up', async () => {
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#counters tbody tr')].map((tr) => tr.cells[0].textContent);
      return rows.includes('GET /scan') && rows.includes('POST /topk');
    }, null, { timeout: 8000 });
    check(true, 'the counters list the calls just made');
    await page.screenshot({ path: path.join(ARTIFACTS, 'index.png'), fullPage: true });
    check(true, `screenshot ${path.join(ARTIFACTS, 'index.png')}`);
  });

  await step('/docs renders every operation of the spec', async () => {
    const res = await page.goto(`${server.base}/docs`);
    check(res.status() === 200, 'GET /docs is 200');
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 20000 });
    const shown = new Set(await page.$$eval('.swagger-ui .opblock', (blocks) => blocks.map((b) => {
      const method = b.querySelector('.opblock-summary-method')?.textContent.trim().toLowerCase();
      const p = b.querySelector('.opblock-summary-path')?.getAttribute('data-path');
      return `${method} ${p}`;
    })));
    const want = [];
    for (const [p, item] of Object.entries(spec.paths)) {
      for (const m of ['get', 'head', 'post', 'put', 'delete', 'patch', 'options']) if (item[m]) want.push(`${m} ${p}`);
    }
    const missing = want.filter((w) => !shown.has(w));
    check(missing.length === 0, `all ${want.length} operations shown`, `missing: ${missing.join(', ')}`);
    check((await page.textContent('.swagger-ui .info .title')).includes('Tessera'), 'title from the spec');
    await page.screenshot({ path: path.join(ARTIFACTS, 'docs.png'), fullPage: false });
    check(true, `screenshot ${path.join(ARTIFACTS, 'docs.png')}`);
    await page.click('.opblock-post .opblock-summary-path[data-path="/topk"]');
    await page.waitForSelector('.opblock-post.is-open .responses-table', { timeout: 10000 });
    const codes = await cellTexts(page, '.opblock-post.is-open .responses-table td.response-col_status');
    check(codes.includes('200') && codes.includes('422') && codes.includes('503'), 'an operation opens with its responses', codes.join(','));
    await page.screenshot({ path: path.join(ARTIFACTS, 'docs-topk.png'), fullPage: false });
    check(true, `screenshot ${path.join(ARTIFACTS, 'docs-topk.png')}`);
  });

  await step('nothing was loaded from elsewhere, no script errors', async () => {
    check(log.offsite.length === 0, 'no request left the server', log.offsite.join(' '));
    check(log.errors.length === 0, 'no page errors', log.errors.join(' | '));
    const unexpected = log.console.filter((m) => !m.includes('status of 4')); // the deliberate 404/403/422
    check(unexpected.length === 0, 'no console errors', unexpected.join(' | '));
  });
  await context.close();
  context = null;
  await stopServer(server);
  server = null;

  // With a token: / needs it (a browser cannot send it on navigation), /ui asks for it.
  server = await startServer(root, ['--token', 'ui-test-token']);
  context = await openBrowser(path.join(tmp, 'profile-token'));
  const tpage = context.pages()[0] || await context.newPage();
  const tlog = { offsite: [], errors: [], console: [] };
  watch(tpage, server.base, tlog);
  await step('with --token: /ui asks for the token, then works', async () => {
    const direct = await tpage.goto(`${server.base}/`);
    check(direct.status() === 401, 'GET / without the token is 401');
    const res = await tpage.goto(`${server.base}/ui`);
    check(res.status() === 200, 'GET /ui is 200 without the token');
    check(!(await tpage.textContent('#root')).includes(root), 'the data root is not shown before the token');
    await tpage.waitForSelector('#counters .problem', { timeout: 5000 });
    check((await tpage.textContent('#counters .problem')).includes('401'), 'counters show the 401 problem');
    check((await tpage.textContent('#token-state')).includes('needs a token'), 'the page asks for the token');
    await tpage.fill('#token', 'ui-test-token');
    await tpage.click('#token-form button[type=submit]');
    await tpage.waitForSelector('#counters .counter', { timeout: 5000 });
    check(true, 'counters load with the token');
    await tpage.waitForFunction((r) => document.querySelector('#root').textContent === r, root, { timeout: 5000 });
    check(true, 'the data root is read from GET / with the token');
    await tpage.click('#scan-form button[type=submit]');
    await tpage.waitForSelector('#scan-result tbody tr', { timeout: 10000 });
    check((await tpage.$$('#scan-result tbody tr')).length >= 8, 'scan works with the token');
    await tpage.screenshot({ path: path.join(ARTIFACTS, 'ui-token.png'), fullPage: false });
    check(true, `screenshot ${path.join(ARTIFACTS, 'ui-token.png')}`);
    await tpage.goto(`${server.base}/docs`);
    await tpage.waitForSelector('.swagger-ui .opblock', { timeout: 20000 });
    check(true, '/docs loads the protected spec with the token from sessionStorage');
    check(tlog.offsite.length === 0, 'no request left the server', tlog.offsite.join(' '));
    check(tlog.errors.length === 0, 'no page errors', tlog.errors.join(' | '));
  });
  await context.close();
  context = null;
  await stopServer(server);
  server = null;

  // Over native HTTPS with a private CA. The browser trusts the server's key and nothing
  // else: its SPKI hash is pinned; certificate errors of any other key stay errors.
  const tls = makeTls(path.join(tmp, 'tls'));
  server = await startServer(root, ['--tls-cert', tls.cert, '--tls-key', tls.key], 'https');
  context = await openBrowser(path.join(tmp, 'profile-https'), [`--ignore-certificate-errors-spki-list=${tls.spki}`]);
  const spage = context.pages()[0] || await context.newPage();
  const slog = { offsite: [], errors: [], console: [] };
  watch(spage, server.base, slog);
  await step('over native HTTPS: the page loads and calls the API', async () => {
    check(server.base.startsWith('https://'), `the server is at ${server.base}`);
    const res = await spage.goto(`${server.base}/`);
    check(res.status() === 200, 'GET / over HTTPS is 200', String(res.status()));
    const sec = await res.securityDetails();
    check(sec !== null && /^TLS 1\.[23]$/.test(sec.protocol), 'TLS 1.2 or 1.3', sec && sec.protocol);
    check(sec !== null && sec.subjectName === '127.0.0.1', 'the certificate made for this test', sec && sec.subjectName);
    check((await spage.textContent('#version')) === version, `version ${version} shown`);
    await spage.waitForSelector('#counters .counter', { timeout: 5000 });
    check(true, 'counters load from /metrics over HTTPS');
    await spage.fill('#topk-form textarea[name=values]', '3, 1, 2');
    await spage.fill('#topk-form input[name=k]', '1');
    await spage.click('#topk-form button[type=submit]');
    await spage.waitForSelector('#topk-result tbody tr', { timeout: 10000 });
    const rows = await spage.$$eval('#topk-result tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    check(JSON.stringify(rows) === JSON.stringify([['1', '1', '1']]), 'POST /topk answered over HTTPS', JSON.stringify(rows));
    const ui = await spage.goto(`${server.base}/ui`);
    check(ui.status() === 200, 'GET /ui over HTTPS is 200');
    await spage.screenshot({ path: path.join(ARTIFACTS, 'https.png'), fullPage: false });
    check(true, `screenshot ${path.join(ARTIFACTS, 'https.png')}`);
    check(slog.offsite.length === 0, 'no request left the server', slog.offsite.join(' '));
    check(slog.errors.length === 0, 'no page errors', slog.errors.join(' | '));
    check(slog.console.length === 0, 'no console errors', slog.console.join(' | '));
  });
  await context.close();
  context = null;
  await step('over native HTTPS without the pin: the browser refuses the certificate', async () => {
    context = await openBrowser(path.join(tmp, 'profile-https-unpinned'));
    const upage = context.pages()[0] || await context.newPage();
    let error = '';
    try {
      await upage.goto(`${server.base}/ui`);
    } catch (e) {
      error = String(e.message || e);
    }
    check(error.includes('ERR_CERT_AUTHORITY_INVALID'), 'net::ERR_CERT_AUTHORITY_INVALID', error.split('\n')[0]);
  });
} catch (e) {
  failures++;
  console.log(`FAIL ${e.stack || e}`);
} finally {
  if (context) await context.close().catch(() => {});
  if (server) await stopServer(server);
  rmSync(tmp, { recursive: true, force: true });
}

console.log(`ui: ${passes} checks passed, ${failures} failed; screenshots in ${ARTIFACTS}`);
process.exit(failures ? 1 : 0);
