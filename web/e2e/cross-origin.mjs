// The web client served apart from the API, as another team deploys it: web/ from a second
// origin (a tiny static server here) whose index.html names the API in
// <meta name="partypic-api">. A guest joins, uploads a photo and sees it in the gallery; every
// API call, the live stream and the photo PUT cross origins (CORS preflights included).
//   node e2e/cross-origin.mjs http://127.0.0.1:3000
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const API = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 120_000);
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.webmanifest': 'application/manifest+json', '.json': 'application/json' };
// As production (src/http/web.rs, deploy/docker/nginx.conf): connect-src lets the page reach the API.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; "
  + "media-src 'self' blob: https: http:; connect-src 'self' https: http:; worker-src 'self'; manifest-src 'self'; object-src 'none'";

const index = fs.readFileSync(path.join(WEB, 'index.html'), 'utf8')
  .replace('<meta name="partypic-api" content="">', `<meta name="partypic-api" content="${API}">`);
assert.ok(index.includes(API), 'index.html has the partypic-api meta');

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://x');
  const file = path.join(WEB, path.normalize(url.pathname));
  const inside = file.startsWith(WEB + path.sep) && !/node_modules|e2e|scripts/.test(file);
  if (inside && fs.existsSync(file) && fs.statSync(file).isFile() && !file.endsWith('index.html')) {
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(fs.readFileSync(file));
  } else if (!path.extname(url.pathname) || url.pathname === '/index.html') {
    res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': CSP, 'cache-control': 'no-cache' });
    res.end(index); // the app shell for every client route
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const address = server.address();
assert.ok(address && typeof address === 'object');
const APART = `http://127.0.0.1:${address.port}`;
assert.notEqual(new URL(APART).origin, new URL(API).origin);
console.log(`client at ${APART}, API at ${API}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const killer = setTimeout(() => { console.log(`FAIL took longer than ${LIMIT_MS} ms`); process.exit(1); }, LIMIT_MS);
let failed = false;
try {
  // The event, made through the API directly: this run is about the guest's browser.
  const stamp = Date.now().toString(36);
  const creds = { email: `apart-${stamp}@example.com`, password: 'correct horse battery' };
  const post = async (/** @type {string} */ p, /** @type {unknown} */ body, token = '') => {
    const res = await fetch(API + p, { method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    assert.ok(res.ok, `${p}: ${res.status}`);
    return res.json();
  };
  await post('/auth/register', { username: 'Apart Host', ...creds });
  const { access_token: token } = await post('/auth/login', creds);
  const { sessionId } = await post('/sessions/create', { settings: { name: 'Across origins' } }, token);

  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', baseURL: APART });
  const page = await ctx.newPage();
  /** @type {string[]} */
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  /** @type {Set<string>} */
  const crossed = new Set();
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.origin === new URL(API).origin) crossed.add(`${r.request().method()} ${u.pathname.replace(/[0-9a-f-]{36}/g, ':id')}`);
  });

  await page.goto(`/s/${sessionId}`);
  await page.getByLabel('Your name').fill('Fay Apart');
  await page.getByRole('button', { name: 'Let\'s go' }).click();
  await page.getByText('Hi Fay Apart').waitFor();
  console.log('ok   a guest joins on the client\'s origin');

  const jpeg = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 800; c.height = 600;
    const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
    g.fillStyle = '#65d6ce'; g.fillRect(0, 0, 800, 600);
    return c.toDataURL('image/jpeg', 0.9).split(',')[1];
  });
  await page.locator('#pick').setInputFiles({ name: 'apart.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpeg, 'base64') });
  await page.locator('.gallery .tile button[aria-label^="Photo by Fay Apart"]').waitFor({ timeout: 30_000 });
  // The tile is drawn again when the photo's display copy is made (picture.updated): ask the
  // page for whichever tile image is current, never one that was just replaced.
  await page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector('.gallery .tile img'));
    return !!img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 30_000 });
  console.log('ok   the guest uploads a photo and sees it in the gallery');

  const pics = await (await fetch(`${API}/pictures/session?sessionId=${sessionId}`)).json();
  assert.equal(pics.filter((/** @type {any} */ p) => p.u_name === 'Fay Apart').length, 1, 'stored once');
  for (const call of ['POST /sessions/registerSessionUser', 'POST /pictures/init-upload', 'POST /pictures/finalize-upload', 'GET /pictures/session']) {
    assert.ok(crossed.has(call), `${call} went to the API's origin (saw ${[...crossed].join(', ')})`);
  }
  assert.deepEqual(problems, [], 'no CORS or other errors in the browser');
  console.log(`ok   every call crossed origins without an error (${[...crossed].sort().join(', ')})`);
  await ctx.close();
} catch (e) {
  failed = true;
  console.log(`FAIL ${/** @type {Error} */ (e).stack || e}`);
} finally {
  clearTimeout(killer);
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
