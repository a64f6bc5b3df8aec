// probe.mjs - answers the integration tests do not ask for, in the contract log's format:
// the browser routes, HEAD and OPTIONS on every path, CORS, the token, multipart and binary
// uploads. run.mjs starts a server on the demo data and validates these with the rest.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function startServer(bin, root, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--root', root, '--port', '0', '--access-log=false', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no 'listening' line:\n${out}`)); }, 15000);
    const onData = (d) => {
      out += d.toString();
      const m = /"msg":"listening".*?"port":(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, base: `http://127.0.0.1:${m[1]}` }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

function stop(child) {
  return new Promise((resolve) => { child.on('exit', resolve); child.kill('SIGTERM'); });
}

async function ask(base, method, target, headers = {}, body = undefined) {
  const res = await fetch(base + target, { method, headers, body, redirect: 'manual' });
  const buf = Buffer.from(await res.arrayBuffer());
  let head = `HTTP/1.1 ${res.status} ${res.statusText}\r\n`;
  res.headers.forEach((v, k) => { head += `${k}: ${v}\r\n`; });
  const b64 = (x) => Buffer.from(x).toString('base64');
  return JSON.stringify({
    kind: 'curl', method_b64: b64(method), target_b64: b64(target), status: res.status,
    headers_b64: b64(`${head}\r\n`), body_b64: buf.toString('base64'),
  });
}

function f64(values) {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}

/* -> log lines (strings). */
export async function probe(bin) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tessera-probe-'));
  const root = path.join(tmp, 'data');
  const demo = spawnSync(bin, ['make-demo', root], { encoding: 'utf8' });
  if (demo.status !== 0) throw new Error(`make-demo failed: ${demo.stderr}`);
  const lines = [];
  const paths = ['/', '/ui', '/docs', '/healthz', '/readyz', '/metrics', '/openapi.yaml', '/scan',
    '/classify', '/overlap', '/topk', '/assets/app.js', '/assets/app.css', '/assets/docs.js',
    '/assets/favicon.svg', '/assets/swagger-ui-bundle.js', '/assets/swagger-ui.css'];
  const json = { 'Content-Type': 'application/json' };

  let s = await startServer(bin, root, ['--cors-origins', 'https://lab.example']);
  try {
    for (const p of paths) {
      lines.push(await ask(s.base, 'OPTIONS', p));
      if (!['/overlap', '/topk'].includes(p)) {
        lines.push(await ask(s.base, 'GET', p === '/classify' ? '/classify?path=cyc1/DAPI.tif' : p));
        lines.push(await ask(s.base, 'HEAD', p === '/classify' ? '/classify?path=cyc1/DAPI.tif' : p));
      }
    }
    const origin = { Origin: 'https://lab.example' };
    lines.push(await ask(s.base, 'OPTIONS', '/topk', { ...origin, 'Access-Control-Request-Method': 'POST' }));
    lines.push(await ask(s.base, 'GET', '/scan?dir=cyc1', origin));
    lines.push(await ask(s.base, 'GET', '/classify?path=nope.tif', origin));
    lines.push(await ask(s.base, 'HEAD', '/classify?path=nope.tif'));
    lines.push(await ask(s.base, 'HEAD', '/scan?bogus=1'));
    lines.push(await ask(s.base, 'GET', '/assets/nope.js'));
    lines.push(await ask(s.base, 'HEAD', '/assets/nope.js'));
    lines.push(await ask(s.base, 'PUT', '/docs', {}, 'x'));
    lines.push(await ask(s.base, 'DELETE', '/assets/app.js'));
    lines.push(await ask(s.base, 'POST', '/ui', json, '{}'));
    lines.push(await ask(s.base, 'GET', '/docs', {}, undefined));
    lines.push(await ask(s.base, 'POST', '/overlap', json, JSON.stringify({ a: 'labels/truth.tif', b: 'labels/predicted.tif', iou: true, match_threshold: 0.5 })));
    lines.push(await ask(s.base, 'POST', '/overlap', json, JSON.stringify({ pairs: [{ a: 'labels/truth.tif', b: 'labels/predicted.tif' }, { a: 'labels/truth.tif', b: 'nope.tif' }] })));
    lines.push(await ask(s.base, 'POST', '/overlap', json, JSON.stringify({ a: 'labels/truth.tif', b: 'labels/predicted.tif', include_background: false, match_threshold: [0.1, 0.5, 0.9], criterion: 'iot', stardist_float32: true, report_matches: true, metrics: ['aji', 'vi', 'adapted_rand'] })));
    lines.push(await ask(s.base, 'POST', '/overlap', json, JSON.stringify({ pairs: [{ a: 'labels/truth.tif', b: 'labels/predicted.tif' }, { a: 'labels/truth.tif', b: 'nope.tif' }], match_threshold: [0.5, 0.7], aggregate: 'by_image' })));
    lines.push(await ask(s.base, 'POST', '/overlap', json, JSON.stringify({ a: 'labels/truth.tif', b: 'labels/predicted.tif', match_threshold: [] })));
    const form = new FormData();
    form.append('a', new Blob([readFileSync(path.join(root, 'labels/truth.tif'))], { type: 'image/tiff' }), 'truth.tif');
    form.append('b', new Blob([readFileSync(path.join(root, 'labels/predicted.tif'))], { type: 'image/tiff' }), 'predicted.tif');
    form.append('options', JSON.stringify({ iou: true }));
    lines.push(await ask(s.base, 'POST', '/overlap', {}, form));
    lines.push(await ask(s.base, 'POST', '/topk?mode=values&k=2&dtype=float64&shape=4', { 'Content-Type': 'application/octet-stream', Accept: 'application/octet-stream' }, f64([3, 1, 2, 1])));
    lines.push(await ask(s.base, 'POST', '/topk?mode=points&k=1&dtype=float64&shape=3,2', { 'Content-Type': 'application/octet-stream' }, f64([0, 0, 1, 0, 5, 5])));
    lines.push(await ask(s.base, 'POST', '/topk', json, JSON.stringify({ values: [3, 1, null, 2], k: 2, largest: true })));
    lines.push(await ask(s.base, 'POST', '/topk', { 'Content-Type': 'text/plain' }, '1 2 3'));
  } finally {
    await stop(s.child);
  }

  s = await startServer(bin, root, ['--token', 'probe-token']);
  try {
    for (const p of ['/', '/metrics', '/openapi.yaml', '/scan', '/ui', '/docs', '/assets/app.js', '/healthz']) {
      lines.push(await ask(s.base, 'GET', p));
      lines.push(await ask(s.base, 'HEAD', p));
    }
    lines.push(await ask(s.base, 'POST', '/topk', json, '{"values":[1],"k":1}'));
    lines.push(await ask(s.base, 'GET', '/', { Authorization: 'Bearer probe-token' }));
    lines.push(await ask(s.base, 'OPTIONS', '/metrics'));
  } finally {
    await stop(s.child);
    rmSync(tmp, { recursive: true, force: true });
  }
  return lines;
}
