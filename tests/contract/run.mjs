// run.mjs - the ctest "contract": run the integration test binaries with TESSERA_CONTRACT_LOG
// set, then validate every answer they received against openapi/openapi.yaml.
//
// Usage: node tests/contract/run.mjs --log FILE [--bin tessera] [--spec openapi.yaml] ITEST...
// With --bin, probe.mjs also asks a server of its own what the integration tests do not
// (browser routes, HEAD/OPTIONS everywhere, CORS, token, multipart, binary). The binaries'
// own pass/fail is theirs to report (each is its own ctest); this test fails when an answer
// does not match the spec, when a component of the spec is never used, or when no answer
// was logged at all.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SPEC, loadSpec, report, unusedComponents, validateLog } from './validate.mjs';
import { probe } from './probe.mjs';

const args = process.argv.slice(2);
let log = null;
let specFile = DEFAULT_SPEC;
let server = null;
const bins = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--log') log = args[++i];
  else if (args[i] === '--spec') specFile = args[++i];
  else if (args[i] === '--bin') server = args[++i];
  else bins.push(args[i]);
}
if (!log || bins.length === 0) {
  console.error('usage: node tests/contract/run.mjs --log FILE [--spec openapi.yaml] ITEST_BINARY...');
  process.exit(2);
}

mkdirSync(path.dirname(log), { recursive: true });
rmSync(log, { force: true });

function runOne(bin) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(bin, [], {
      cwd: path.dirname(bin),
      env: { ...process.env, TESSERA_CONTRACT_LOG: log },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (d) => { tail = (tail + d.toString()).slice(-2000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code, signal) => resolve({ bin, code, signal, tail, seconds: (Date.now() - started) / 1000 }));
    child.on('error', (e) => resolve({ bin, code: -1, signal: null, tail: e.message, seconds: 0 }));
  });
}

/* Two at a time: each starts its own server; more would only contend for the CPUs. */
const results = [];
const queue = [...bins];
await Promise.all([0, 1].map(async () => {
  while (queue.length > 0) results.push(await runOne(queue.shift()));
}));

for (const r of results.sort((a, b) => a.bin.localeCompare(b.bin))) {
  const name = path.basename(r.bin);
  if (r.code === 0) console.log(`ran ${name}: passed (${r.seconds.toFixed(1)} s)`);
  else {
    console.log(`ran ${name}: exit ${r.code ?? r.signal} (${r.seconds.toFixed(1)} s) - its own ctest reports why; its answers are still checked`);
    console.log(r.tail.split('\n').slice(-6).map((l) => `    | ${l}`).join('\n'));
  }
}

if (server) {
  const lines = await probe(server);
  appendFileSync(log, lines.map((l) => `${l}\n`).join(''));
  console.log(`probed ${path.basename(server)}: ${lines.length} answers`);
}

const spec = loadSpec(specFile);
const unused = unusedComponents(spec);
for (const u of unused) console.log(`FAIL component ${u} is never referenced`);
const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
const result = validateLog(spec, text);
report(result);
if (result.checked === 0) console.log('FAIL no answers were logged: did the harness get TESSERA_CONTRACT_LOG?');
process.exit(result.failures.length || unused.length || result.checked === 0 ? 1 : 0);
