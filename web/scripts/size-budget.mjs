// First-load budget: every JS module and stylesheet index.html loads (modulepreload, module
// scripts, stylesheets, and their static imports), each gzipped as served. Fails above the budget.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUDGET = Number(process.env.BUDGET_KB || 100) * 1024;
const html = fs.readFileSync(path.join(root, 'index.html'), 'utf8');
const queue = [...html.matchAll(/(?:href|src)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
/** @type {Map<string, number>} */
const seen = new Map();
while (queue.length) {
  const url = /** @type {string} */ (queue.shift());
  if (seen.has(url)) continue;
  const text = fs.readFileSync(path.join(root, url), 'utf8');
  seen.set(url, zlib.gzipSync(text, { level: 6 }).length);
  if (url.endsWith('.js')) {
    // Browsers load modules by full file name: specifiers without `.js` are JSDoc type imports.
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+\.js)['"]|import\(\s*['"](\.{1,2}\/[^'"]+\.js)['"]\s*\)/g)) {
      queue.push(path.posix.join(path.posix.dirname(url), m[1] || m[2]));
    }
  }
}
let total = 0;
for (const [url, size] of [...seen].sort((a, b) => b[1] - a[1])) {
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(6)} KB  ${url}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(6)} KB  first load, JS+CSS gzipped (budget ${BUDGET / 1024} KB, ${seen.size} files)`);
if (total > BUDGET) {
  console.error('over the first-load budget');
  process.exit(1);
}
