// validate.mjs - check logged HTTP answers against openapi/openapi.yaml.
//
// Input: the JSON-lines log that tests/integration/harness.c writes when TESSERA_CONTRACT_LOG
// is set (one line per answer a test received: kind "curl" with method, target, status,
// header block and body; kind "raw" with the raw request head and the raw answer).
//
// For each answer: find the operation (path template + method) or, when no operation
// matches, the spec's x-tessera-unrouted answers (405 on a known path, 404 on an unknown
// one, framing errors anywhere) or x-tessera-transport-errors (libmicrohttpd's own answers,
// recognised by the missing X-Request-Id). Then the status must be listed, every required
// header present and every header valid against its schema, Tessera's own headers (Allow,
// Retry-After, WWW-Authenticate, CORS) present only where the spec declares them, the
// Content-Type one the spec lists for that status, and the body valid against that media
// type's schema (JSON Schema 2020-12 with ajv; text bodies as strings; binary bodies by
// their declared record size). Anything the spec does not describe is a failure.
//
// Usage: node tests/contract/validate.mjs [--spec openapi/openapi.yaml] LOG.jsonl
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_SPEC = path.resolve(HERE, '../../openapi/openapi.yaml');

// Headers only Tessera sets for a reason; present where the spec does not declare them is an
// undocumented answer.
const OWN_HEADERS = [
  'x-request-id', 'cache-control', 'x-content-type-options', 'allow', 'retry-after',
  'www-authenticate', 'vary', 'access-control-allow-origin', 'access-control-expose-headers',
  'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age',
];

/* ---- the spec ------------------------------------------------------------------------- */

export function loadSpec(file = DEFAULT_SPEC) {
  const doc = YAML.parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 });
  return doc;
}

function deref(spec, obj) {
  let o = obj;
  for (let guard = 0; o && typeof o === 'object' && typeof o.$ref === 'string'; guard++) {
    if (guard > 20) throw new Error(`reference loop at ${obj.$ref}`);
    if (!o.$ref.startsWith('#/')) throw new Error(`external reference ${o.$ref}`);
    o = o.$ref.slice(2).split('/').reduce((node, part) => {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      if (!node || !(key in node)) throw new Error(`unresolved reference ${obj.$ref}`);
      return node[key];
    }, spec);
  }
  return o;
}

/* Every component must be referenced somewhere (extensions included): the linter's
 * no-unused-components cannot see references from x-tessera-* extensions. */
export function unusedComponents(spec) {
  const refs = new Set();
  const walk = (o) => {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o && typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) {
        if (k === '$ref' && typeof v === 'string') refs.add(v);
        else walk(v);
      }
    }
  };
  walk(spec);
  const unused = [];
  for (const [kind, group] of Object.entries(spec.components || {})) {
    if (kind === 'securitySchemes') continue;
    for (const name of Object.keys(group)) {
      if (!refs.has(`#/components/${kind}/${name}`)) unused.push(`#/components/${kind}/${name}`);
    }
  }
  return unused;
}

/* Path templates as regular expressions, most specific (fewest parameters) first. */
function pathMatchers(spec) {
  return Object.keys(spec.paths).map((template) => {
    const names = [];
    const re = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, n) => {
      names.push(n);
      return '([^/]+)';
    });
    return { template, names, re: new RegExp(`^${re}$`) };
  }).sort((a, b) => a.names.length - b.names.length);
}

/* ---- schemas -------------------------------------------------------------------------- */

function rewriteRefs(o) {
  if (Array.isArray(o)) return o.map(rewriteRefs);
  if (o && typeof o === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(o)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
        ? `#/$defs/${v.slice('#/components/schemas/'.length)}` : rewriteRefs(v);
    }
    return out;
  }
  return o;
}

function makeCompiler(spec) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  const defs = rewriteRefs(spec.components?.schemas || {});
  const cache = new Map();
  return (schema) => {
    const key = JSON.stringify(schema);
    if (!cache.has(key)) {
      cache.set(key, ajv.compile({ ...rewriteRefs(schema), $defs: defs }));
    }
    return cache.get(key);
  };
}

/* ---- answers -------------------------------------------------------------------------- */

function b64(s) { return Buffer.from(s || '', 'base64'); }

/* "HTTP/1.1 200 OK\r\nA: b\r\n..." -> {status, headers: Map(lower name -> [values])}. */
function parseHead(text) {
  const lines = text.split(/\r?\n/);
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(lines[0] || '');
  const headers = new Map();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (!headers.has(name)) headers.set(name, []);
    headers.get(name).push(value);
  }
  return { status: m ? Number(m[1]) : 0, headers };
}

/* One log line -> {method, target, status, headers, body, raw} or {skip: reason}. */
export function decodeEntry(entry) {
  if (entry.kind === 'curl') {
    const head = parseHead(b64(entry.headers_b64).toString('latin1'));
    return {
      method: b64(entry.method_b64).toString('utf8'),
      target: b64(entry.target_b64).toString('utf8'),
      status: entry.status,
      headers: head.headers,
      body: b64(entry.body_b64),
      raw: false,
    };
  }
  if (entry.kind === 'raw') {
    const req = b64(entry.request_b64).toString('latin1');
    const ans = b64(entry.answer_b64);
    if (ans.length === 0) return { skip: 'no answer (connection closed)' };
    const text = ans.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    const headText = end >= 0 ? text.slice(0, end) : text;
    const head = parseHead(headText);
    let body = end >= 0 ? ans.subarray(end + 4) : Buffer.alloc(0);
    const cl = head.headers.get('content-length');
    if (cl && /^\d+$/.test(cl[0])) body = body.subarray(0, Number(cl[0]));
    const [method = '', target = ''] = req.split('\r\n')[0].split(' ');
    return { method, target, status: head.status, headers: head.headers, body, raw: true };
  }
  return { error: `log line of unknown kind '${entry.kind}' (the harness could not log an answer)` };
}

function mediaType(value) {
  return (value || '').split(';')[0].trim().toLowerCase();
}

function headerValue(schema, text) {
  if (schema && schema.type === 'integer') return /^-?\d+$/.test(text) ? Number(text) : text;
  return text;
}

/* ---- the check ------------------------------------------------------------------------ */

export function makeValidator(spec) {
  const compile = makeCompiler(spec);
  const matchers = pathMatchers(spec);
  const unrouted = spec['x-tessera-unrouted']?.responses || {};
  const transport = spec['x-tessera-transport-errors']?.responses || {};

  function findOperation(method, pathname) {
    for (const m of matchers) {
      const hit = m.re.exec(pathname);
      if (!hit) continue;
      const item = spec.paths[m.template];
      const params = [...(item.parameters || [])].map((p) => deref(spec, p));
      const op = item[method.toLowerCase()];
      const values = Object.fromEntries(m.names.map((n, i) => [n, decodeURIComponent(hit[i + 1])]));
      return { template: m.template, item, op, params: [...params, ...((op?.parameters) || []).map((p) => deref(spec, p))], values };
    }
    return null;
  }

  function checkHeaders(problems, responseObj, headers) {
    const declared = new Map();
    for (const [name, h] of Object.entries(responseObj.headers || {})) declared.set(name.toLowerCase(), deref(spec, h));
    for (const [name, h] of declared) {
      const values = headers.get(name);
      if (!values) {
        if (h.required) problems.push(`required header ${name} is missing`);
        continue;
      }
      if (values.length > 1) problems.push(`header ${name} sent ${values.length} times`);
      if (h.schema) {
        const v = compile(h.schema);
        if (!v(headerValue(h.schema, values[0]))) problems.push(`header ${name}: '${values[0]}' ${ajvText(v.errors)}`);
      }
    }
    for (const name of OWN_HEADERS) {
      if (headers.has(name) && !declared.has(name)) problems.push(`header ${name} is sent but not declared for this answer`);
    }
  }

  function checkBody(problems, responseObj, a, contentFrom) {
    const content = contentFrom === undefined ? responseObj.content : contentFrom;
    const type = a.headers.get('content-type')?.[0];
    if (responseObj['x-tessera-untyped-body'] && !type) return 'untyped';
    if (!content || Object.keys(content).length === 0) {
      if (a.body.length > 0) problems.push(`a body of ${a.body.length} bytes where the spec declares none`);
      if (type && a.method !== 'HEAD') problems.push(`Content-Type '${type}' where the spec declares no content`);
      return null;
    }
    if (!type) { problems.push('no Content-Type'); return null; }
    const key = Object.keys(content).find((k) => mediaType(k) === mediaType(type));
    if (!key) { problems.push(`Content-Type '${type}' is not one of ${Object.keys(content).join(', ')}`); return null; }
    if (a.method === 'HEAD') {
      if (a.body.length > 0) problems.push('HEAD answer with a body');
      return key;
    }
    const media = content[key];
    const mt = mediaType(key);
    if (mt === 'application/json' || mt.endsWith('+json')) {
      let data;
      try {
        data = JSON.parse(a.body.toString('utf8'));
      } catch (e) {
        problems.push(`body is not JSON: ${e.message}`);
        return key;
      }
      if (!media.schema) { problems.push('JSON content without a schema'); return key; }
      const v = compile(media.schema);
      if (!v(data)) problems.push(`body: ${ajvText(v.errors)}`);
      return key;
    }
    const layout = media['x-tessera-binary-layout'];
    if (layout) {
      if (a.body.length % layout.record_bytes !== 0) problems.push(`binary body of ${a.body.length} bytes is not a multiple of ${layout.record_bytes}`);
      return key;
    }
    if (mt === 'image/png') {
      // A PNG: the signature, then the IHDR chunk with a non-zero width and height.
      const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const b = a.body;
      if (b.length < 33 || !b.subarray(0, 8).equals(sig) || b.toString('latin1', 12, 16) !== 'IHDR') problems.push('body is not a PNG (signature, IHDR)');
      else if (b.readUInt32BE(16) === 0 || b.readUInt32BE(20) === 0) problems.push('PNG with a zero side');
      return key;
    }
    if (mt.startsWith('text/') || mt === 'application/yaml' || mt === 'image/svg+xml' || mt === 'application/javascript') {
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(a.body);
      } catch {
        problems.push('text body is not UTF-8');
        return key;
      }
      if (media.schema) {
        const v = compile(media.schema);
        if (!v(text)) problems.push(`body: ${ajvText(v.errors)}`);
      }
      return key;
    }
    problems.push(`no rule to check a '${key}' body; give it a schema the validator understands`);
    return key;
  }

  /* -> {where, key, problems[]} */
  return function validate(a) {
    const problems = [];
    const pathname = a.target.startsWith('/') ? a.target.split('?')[0] : null;
    const status = String(a.status);
    const hasId = a.headers.has('x-request-id');

    // libmicrohttpd's own refusals: no X-Request-Id.
    if (!hasId && a.raw && transport[status]) {
      const r = deref(spec, transport[status]);
      // libmicrohttpd 0.9.75 writes the head of some of its own 400s twice; the spec names
      // the defect, so it is reported here, not failed.
      if (a.body.subarray(0, 9).toString('latin1') === 'HTTP/1.1 ') {
        a.notes = ['libmicrohttpd sent its status line and headers twice (known 0.9.75 defect)'];
      }
      checkHeaders(problems, r, a.headers);
      const key = checkBody(problems, r, a);
      return { where: `x-tessera-transport-errors ${status}`, key: `${a.method} (transport) ${status} ${key || '-'}`, problems, notes: a.notes };
    }

    const found = pathname ? findOperation(a.method, pathname) : null;
    let responses;
    let where;
    let getContent;
    if (found && found.op) {
      responses = found.op.responses;
      where = `${a.method} ${found.template}`;
      for (const p of found.params.filter((p) => p.in === 'path')) {
        if (p.schema?.enum && !p.schema.enum.includes(found.values[p.name]) && status === '200') {
          problems.push(`path parameter ${p.name}='${found.values[p.name]}' answered 200 but is not in the spec's enum`);
        }
      }
      if (a.method === 'HEAD' && found.item.get) getContent = found.item.get.responses?.[status];
    } else {
      const allowed = found ? ['400', '405', '413', '501'] : ['400', '404', '413', '501'];
      responses = Object.fromEntries(Object.entries(unrouted).filter(([s]) => allowed.includes(s)));
      where = found ? `${a.method} ${found.template} (no such operation: x-tessera-unrouted)` : `${a.method} ${pathname ?? a.target} (no such path: x-tessera-unrouted)`;
    }
    const declared = responses[status];
    if (!declared) {
      problems.push(`status ${status} is not documented for ${where} (documented: ${Object.keys(responses).join(', ')})`);
      return { where, key: `${where} ${status}`, problems };
    }
    const r = deref(spec, declared);
    checkHeaders(problems, r, a.headers);
    let contentFrom;
    if (getContent) contentFrom = deref(spec, getContent).content;
    const key = checkBody(problems, r, a, contentFrom);
    return { where, key: `${where} ${status} ${key || '-'}`, problems };
  };
}

function ajvText(errors) {
  return (errors || []).slice(0, 4).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`).join('; ');
}

/* ---- the whole log -------------------------------------------------------------------- */

export function validateLog(spec, text) {
  const validate = makeValidator(spec);
  const failures = [];
  const seen = new Map();
  let checked = 0;
  let skipped = 0;
  const notes = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  lines.forEach((line, i) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch (e) {
      failures.push({ line: i + 1, what: 'log line is not JSON', problems: [e.message] });
      return;
    }
    const a = decodeEntry(entry);
    if (a.skip) { skipped++; return; }
    if (a.error) { failures.push({ line: i + 1, what: 'unloggable answer', problems: [a.error] }); return; }
    const r = validate(a);
    checked++;
    for (const n of r.notes || []) notes.push(`log line ${i + 1}: ${a.method} ${a.target.slice(0, 80)} -> ${a.status}: ${n}`);
    seen.set(r.key, (seen.get(r.key) || 0) + 1);
    if (r.problems.length > 0) {
      failures.push({
        line: i + 1,
        what: `${a.method} ${a.target.slice(0, 120)} -> ${a.status} (${r.where})`,
        problems: r.problems,
        body: a.body.toString('utf8').slice(0, 300),
      });
    }
  });
  return { checked, skipped, failures, seen, notes };
}

export function report({ checked, skipped, failures, seen, notes }, out = console) {
  out.log(`contract: ${checked} answers checked against the spec, ${skipped} without an answer skipped`);
  out.log('answers seen (operation, status, media type: count):');
  for (const [k, n] of [...seen.entries()].sort()) out.log(`  ${k}: ${n}`);
  for (const n of notes) out.log(`NOTE ${n}`);
  for (const f of failures) {
    out.log(`FAIL log line ${f.line}: ${f.what}`);
    for (const p of f.problems) out.log(`    ${p}`);
    if (f.body) out.log(`    body: ${f.body}`);
  }
  out.log(failures.length ? `contract: ${failures.length} answers do not match the spec` : 'contract: every answer matches the spec');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let specFile = DEFAULT_SPEC;
  if (args[0] === '--spec') { specFile = args[1]; args.splice(0, 2); }
  if (args.length !== 1) {
    console.error('usage: node tests/contract/validate.mjs [--spec openapi.yaml] LOG.jsonl');
    process.exit(2);
  }
  const spec = loadSpec(specFile);
  const unused = unusedComponents(spec);
  for (const u of unused) console.log(`FAIL component ${u} is never referenced`);
  const result = validateLog(spec, readFileSync(args[0], 'utf8'));
  report(result);
  process.exit(result.failures.length || unused.length || result.checked === 0 ? 1 : 0);
}
