// check_vendored.mjs - the ctest "swagger_ui_vendored": web/vendor/swagger-ui/ must hold the
// files of the swagger-ui-dist version pinned in package.json / package-lock.json, byte for
// byte (the C build embeds the vendored copy, so it needs no npm).
import { readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';

const sha = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const pinned = pkg.devDependencies['swagger-ui-dist'];
const locked = lock.packages['node_modules/swagger-ui-dist']?.version;
const vendored = readFileSync('web/vendor/swagger-ui/VERSION', 'utf8').trim();
let bad = 0;
const fail = (msg) => { console.log(`FAIL ${msg}`); bad++; };

if (!/^\d+\.\d+\.\d+$/.test(pinned)) fail(`package.json pins swagger-ui-dist as '${pinned}', not an exact version`);
if (locked !== pinned) fail(`package-lock.json has swagger-ui-dist ${locked}, package.json ${pinned}`);
if (vendored !== pinned) fail(`web/vendor/swagger-ui/VERSION is ${vendored}, package.json pins ${pinned}`);
const dir = 'node_modules/swagger-ui-dist';
if (!existsSync(dir)) {
  fail(`${dir} is missing: run 'npm ci' (scripts/deps.sh test does)`);
} else {
  const installed = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')).version;
  if (installed !== pinned) fail(`node_modules has swagger-ui-dist ${installed}, the pin is ${pinned}: run 'npm ci'`);
  for (const f of ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE']) {
    if (sha(`${dir}/${f}`) !== sha(`web/vendor/swagger-ui/${f}`)) fail(`web/vendor/swagger-ui/${f} differs from ${dir}/${f}: run web/vendor/update-swagger-ui.sh`);
  }
}
console.log(bad ? `swagger_ui_vendored: ${bad} problems` : `swagger_ui_vendored: web/vendor/swagger-ui is swagger-ui-dist ${pinned}`);
process.exit(bad ? 1 : 0);
