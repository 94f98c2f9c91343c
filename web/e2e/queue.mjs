// The upload queue loses nothing: a guest chooses 20 photos on a slow connection, the page
// reloads 2 s later (what a phone does to a discarded background tab), the connection drops
// and returns, the browser is closed and opened again on the same profile. Every photo must
// arrive exactly once:  node e2e/queue.mjs http://127.0.0.1:3000
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const TMP = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'partypic-queue-'));
const PROFILE = path.join(TMP, 'profile');
const PHOTOS = 20;
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 90_000);
const killer = setTimeout(() => { console.log(`FAIL the queue test took longer than ${LIMIT_MS} ms`); process.exit(1); }, LIMIT_MS);

/** @type {import('playwright-core').LaunchOptions & import('playwright-core').BrowserContextOptions} */
const options = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'en-US', baseURL: BASE,
};

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

/** Pictures of the event, as the host sees them. @param {string} sessionId @param {string} token */
async function pictures(sessionId, token) {
  const res = await fetch(`${BASE}/pictures/session?sessionId=${sessionId}&limit=1000`, { headers: { Authorization: `Bearer ${token}` } });
  return /** @type {Promise<any[]>} */ (res.json());
}

/** Photos still in the browser's queue (IndexedDB). @param {import('playwright-core').Page} page */
function stored(page) {
  return page.evaluate(() => new Promise((resolve) => {
    const req = indexedDB.open('partypic');
    req.onsuccess = () => {
      const all = req.result.transaction('uploads').objectStore('uploads').count();
      all.onsuccess = () => resolve(all.result);
    };
  }));
}

/** Polls `check` every 250 ms until it holds; fails with `what` after `timeoutMs`. */
async function waitUntil(check, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const t0 = Date.now();
let ok = false;
/** @type {import('playwright-core').BrowserContext | null} */
let ctx = null;
try {
  const stamp = Date.now().toString(36);
  const email = `queue-${stamp}@example.com`;
  await call('/auth/register', { username: 'Queue Host', email, password: 'correct horse battery' });
  const { access_token: token } = await call('/auth/login', { email, password: 'correct horse battery' });
  const { sessionId } = await call('/sessions/create', { settings: { name: 'Queue test' } }, token);

  ctx = await chromium.launchPersistentContext(PROFILE, options);
  let page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(`/s/${sessionId}`);
  await page.getByLabel('Your name').fill('Quinn');
  await page.getByRole('button', { name: 'Let\'s go' }).click();
  await page.getByText('Hi Quinn').waitFor();

  // Twenty different photos (identical ones would rightly be stored once), and one more.
  const files = [];
  for (let i = 0; i <= PHOTOS; i++) {
    const dataUrl = await page.evaluate((n) => {
      const c = document.createElement('canvas');
      c.width = 1200; c.height = 900;
      const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
      g.fillStyle = `hsl(${n * 18} 70% 60%)`; g.fillRect(0, 0, c.width, c.height);
      g.fillStyle = '#fff'; g.font = 'bold 200px sans-serif'; g.fillText(String(n + 1), 420, 520);
      for (let k = 0; k < 400; k++) { g.fillStyle = `hsl(${(k * 37 + n * 11) % 360} 80% 50%)`; g.fillRect((k * 97) % 1200, (k * 61 + n * 7) % 900, 24, 24); }
      return c.toDataURL('image/jpeg', 0.92);
    }, i);
    const file = path.join(TMP, `queue-${String(i + 1).padStart(2, '0')}.jpg`);
    fs.writeFileSync(file, Buffer.from(dataUrl.split(',')[1], 'base64'));
    files.push(file);
  }

  // A slow uplink, so the reload lands while photos are still being prepared and sent.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 80, downloadThroughput: 2_000_000, uploadThroughput: 120_000 });
  const extra = /** @type {string} */ (files.pop());
  await page.locator('#pick').setInputFiles(files);
  await page.getByText(/photos? waiting to be sent/).waitFor();
  await page.waitForTimeout(2000);
  const before = (await pictures(sessionId, token)).length;
  assert.ok(before < PHOTOS, `the reload comes while photos are still queued (${before} arrived)`);
  await page.reload();
  await page.getByText('Hi Quinn').waitFor();
  await page.getByText(/photos? waiting to be sent/).waitFor();
  console.log(`ok   reload 2 s after choosing ${PHOTOS} photos: ${before} had arrived, ${await stored(page)} still in IndexedDB`);

  const cdp2 = await ctx.newCDPSession(page);
  await cdp2.send('Network.emulateNetworkConditions', { offline: false, latency: 80, downloadThroughput: 2_000_000, uploadThroughput: 120_000 });
  await page.waitForTimeout(1500);
  await ctx.setOffline(true);
  await page.getByText('You are offline').waitFor();
  await page.waitForTimeout(1000);
  await ctx.setOffline(false);
  await page.waitForTimeout(1500);
  const mid = (await pictures(sessionId, token)).length;
  const left = Number(await stored(page));
  assert.ok(left > 0, 'photos are still queued when the browser is closed');
  assert.ok(await page.locator('.toast').count() <= 1, 'upload toasts are one running count, not one per photo');
  await ctx.close();
  ctx = null;
  console.log(`ok   offline and back, browser closed with ${left} photos queued (${mid} arrived)`);

  ctx = await chromium.launchPersistentContext(PROFILE, options);
  page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(`/s/${sessionId}`);
  await page.getByText('Hi Quinn').waitFor();
  // The page shows its list before it has read the stored queue back: wait for the store to
  // empty, not only for the list (an empty list at first sight proves nothing).
  await waitUntil(async () => Number(await stored(page)) === 0, 45_000, 'the stored queue empties');
  await page.waitForFunction(() => document.querySelectorAll('.uploads li').length === 0, null, { timeout: 10_000 });
  assert.equal(await stored(page), 0, 'the queue is empty');
  const all = (await pictures(sessionId, token)).filter((p) => p.u_name === 'Quinn');
  const names = all.map((p) => p.original_filename).sort();
  assert.deepEqual(names, files.map((f) => path.basename(f)).sort(), 'every photo arrived exactly once');
  console.log(`ok   reopened on the same profile: all ${all.length} photos arrived exactly once`);


  // A full disk: the browser refuses to store the photo. The guest is told, and the photo is
  // still sent while the page stays open.
  await ctx.close();
  ctx = null;
  const browser = await chromium.launch({ executablePath: options.executablePath, args: options.args });
  try {
    const fresh = await browser.newContext({ ...options, executablePath: undefined, args: undefined });
    const p = await fresh.newPage();
    const cdp = await fresh.newCDPSession(p);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(BASE).origin, quotaSize: 1 });
    await p.goto(`/s/${sessionId}`);
    await p.getByLabel('Your name').fill('Rory');
    await p.getByRole('button', { name: 'Let\'s go' }).click();
    await p.getByText('Hi Rory').waitFor();
    await p.locator('#pick').setInputFiles(extra);
    await p.getByText('storage is full').waitFor();
    await p.waitForFunction(() => document.querySelectorAll('.uploads li').length === 0, null, { timeout: 20_000 });
    const rory = (await pictures(sessionId, token)).filter((x) => x.u_name === 'Rory');
    assert.equal(rory.length, 1, 'the photo the browser would not store was still sent');
  } finally {
    await browser.close();
  }
  console.log('ok   storage full: the guest is told, the photo is sent while the page is open');
  ok = true;
} catch (e) {
  console.log(`FAIL ${/** @type {Error} */ (e).stack || e}`);
} finally {
  clearTimeout(killer);
  await ctx?.close().catch(() => {});
  fs.rmSync(TMP, { recursive: true, force: true });
}
console.log(`queue test ${ok ? 'passed' : 'failed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(ok ? 0 : 1);
