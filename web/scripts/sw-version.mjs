// Keeps sw.js's VERSION and SHELL in step with the files it caches: the version is a hash of
// every shell file, so each release gets a fresh cache. `--check` fails when sw.js is stale.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'e2e', 'scripts', 'sw.js', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.sw.json', '.gitignore', 'README.md']);

/** @param {string} dir @returns {string[]} */
function walk(dir) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    // Type declarations (the generated api-types.d.ts) are for tsc, never fetched by the app.
    if (SKIP.has(e.name) || e.name.startsWith('.') || e.name.endsWith('.d.ts')) return [];
    return e.isDirectory() ? walk(rel) : [rel];
  });
}

const files = walk('').sort();
const hash = crypto.createHash('sha256');
for (const f of files) hash.update(f).update('\0').update(fs.readFileSync(path.join(root, f)));
const version = hash.digest('hex').slice(0, 12);
const shell = files.map((f) => `/${f}`);
const block = `// <shell>\nconst VERSION = '${version}';\nconst SHELL = ${JSON.stringify(shell, null, 2).replace(/"/g, "'")};\n// </shell>`;

const swPath = path.join(root, 'sw.js');
const sw = fs.readFileSync(swPath, 'utf8');
const next = sw.replace(/\/\/ <shell>[\s\S]*?\/\/ <\/shell>/, block);
if (process.argv.includes('--check')) {
  if (next !== sw) {
    console.error('web/sw.js is out of date with the shell files: run `node web/scripts/sw-version.mjs`');
    process.exit(1);
  }
  console.log(`sw.js up to date (version ${version}, ${shell.length} files)`);
} else {
  fs.writeFileSync(swPath, next);
  console.log(`sw.js: version ${version}, ${shell.length} files`);
}
