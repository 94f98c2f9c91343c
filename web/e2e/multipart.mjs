// A large file is sent in resumable parts: the connection drops after the first part is
// confirmed and the page is reloaded later; the upload resumes from the confirmed parts (part 1
// is sent once) and the stored original is byte-identical:  node e2e/multipart.mjs http://127.0.0.1:3000
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const TMP = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'partypic-multipart-'));
const SIZE = 20 * 1024 * 1024;
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 120_000);
const killer = setTimeout(() => { console.log(`FAIL the multipart test took longer than ${LIMIT_MS} ms`); process.exit(1); }, LIMIT_MS);

/** @param {string} p @param {unknown} [body] @param {string} [token] */
async function call(p, body, token) {
  const res = await fetch(BASE + p, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${p}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

/** The queued job's confirmed parts (IndexedDB), or null when the queue is empty. @param {import('playwright-core').Page} page */
function confirmedParts(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const req = indexedDB.open('partypic');
    req.onsuccess = () => {
      const all = req.result.transaction('uploads').objectStore('uploads').getAll();
      all.onsuccess = () => {
        const job = all.result[0];
        resolve(job ? (job.multipart?.done?.length ?? 0) : null);
      };
    };
    req.onerror = () => resolve(null);
  }));
}

/** @param {import('playwright-core').Page} page @param {(n: number | null) => boolean} ok @param {number} ms */
async function until(page, ok, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const n = /** @type {number | null} */ (await confirmedParts(page).catch(() => -1));
    if (ok(n)) return n;
    if (Date.now() > end) throw new Error(`confirmed parts stayed at ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const t0 = Date.now();
let ok = false;
/** @type {import('playwright-core').BrowserContext | null} */
let ctx = null;
try {
  const stamp = Date.now().toString(36);
  const email = `multipart-${stamp}@example.com`;
  await call('/auth/register', { username: 'Multipart Host', email, password: 'correct horse battery' });
  const { access_token: token } = await call('/auth/login', { email, password: 'correct horse battery' });
  const { sessionId } = await call('/sessions/create', { settings: { name: 'Multipart test' } }, token);

  // A JPEG header and noise: no browser can decode it, so it is sent as it is, 20 MiB.
  const bytes = crypto.randomBytes(SIZE);
  Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01]).copy(bytes);
  const file = path.join(TMP, 'large.jpg');
  fs.writeFileSync(file, bytes);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');

  ctx = await chromium.launchPersistentContext(path.join(TMP, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'en-US', baseURL: BASE,
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  /** @type {Map<number, number>} part number → PUTs that reached the network */
  const puts = new Map();
  page.on('request', (r) => {
    if (r.method() !== 'PUT') return;
    const url = new URL(r.url());
    const n = Number(url.searchParams.get('partNumber') || (url.pathname.match(/\/uploads\/multipart\/[^/]+\/(\d+)$/) || [])[1]);
    if (n) puts.set(n, (puts.get(n) || 0) + 1);
  });
  await page.goto(`/s/${sessionId}`);
  await page.getByLabel('Your name').fill('Mia');
  await page.getByRole('button', { name: 'Let\'s go' }).click();
  await page.getByText('Hi Mia').waitFor();

  // A slow uplink (about 2 s a part), so the connection drops in the middle of the file.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 10_000_000, uploadThroughput: 4_000_000 });
  await page.locator('#pick').setInputFiles(file);
  await until(page, (n) => n !== null && n >= 1, 60_000);
  await ctx.setOffline(true);
  await page.getByText('You are offline').waitFor();
  const offlineAt = await confirmedParts(page);
  assert.ok(offlineAt !== null && offlineAt < 3, `the connection drops mid-file (${offlineAt} of 3 parts confirmed)`);
  await page.waitForTimeout(1500);
  console.log(`ok   offline after ${offlineAt} of 3 parts`);
  await ctx.setOffline(false);
  // Back online, then the page is reloaded before the file is done.
  const atReload = await until(page, (n) => n === null || n >= 2, 60_000);
  if (atReload !== null) {
    await page.reload();
    await page.getByText('Hi Mia').waitFor();
    console.log(`ok   reloaded after ${atReload} of 3 parts`);
  }
  await until(page, (n) => n === null, 60_000);

  const all = await (await fetch(`${BASE}/pictures/session?sessionId=${sessionId}`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const mine = all.filter((/** @type {any} */ p) => p.u_name === 'Mia');
  assert.equal(mine.length, 1, 'the file arrived once');
  assert.equal(mine[0].filesize_bytes, SIZE);
  const stored = Buffer.from(await (await fetch(mine[0].url)).arrayBuffer());
  assert.equal(crypto.createHash('sha256').update(stored).digest('hex'), sha, 'the stored original is byte-identical');
  assert.equal(puts.get(1), 1, `the confirmed first part is not sent again (${JSON.stringify([...puts])})`);
  console.log(`ok   resumed: ${SIZE} bytes byte-identical; PUTs per part ${JSON.stringify(Object.fromEntries(puts))}`);
  ok = true;
} catch (e) {
  console.log(`FAIL ${/** @type {Error} */ (e).stack || e}`);
} finally {
  clearTimeout(killer);
  await ctx?.close().catch(() => {});
  fs.rmSync(TMP, { recursive: true, force: true });
}
console.log(`multipart test ${ok ? 'passed' : 'failed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(ok ? 0 : 1);
