// Browser checks of what a real venue needs, against a running PartyPic server:
//   node e2e/venue.mjs http://127.0.0.1:3000
// The guest's first and repeat visit in bytes on the wire (compressed, cached assets); the host's
// invite page on localhost warns and offers the LAN link.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { zipEntries } from './zip.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const BASE = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const SHOTS = process.env.SCREENSHOT_DIR || path.join(repo, 'target/screenshots');
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 120_000);
/** The guest's first visit (join page of an event), everything on the wire. */
const FIRST_VISIT_BUDGET = 60 * 1024;
fs.mkdirSync(SHOTS, { recursive: true });

const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US' };
let passed = 0, failed = 0;

/** @param {string} name @param {() => Promise<void>} fn */
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${/** @type {Error} */ (e).stack || e}`);
  }
}

/** @param {string} url @param {RequestInit & {token?: string, json?: unknown}} [init] */
async function api(url, init = {}) {
  const headers = /** @type {Record<string, string>} */ ({ ...(init.headers || {}) });
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${BASE}${url}`, { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A host with an event; returns the token and the event. */
async function hostWithEvent(name = 'Venue wedding') {
  const email = `venue-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const password = 'correct horse battery';
  assert.equal((await api('/auth/register', { method: 'POST', json: { username: 'Host', email, password } })).status, 201);
  const login = await api('/auth/login', { method: 'POST', json: { email, password } });
  const token = login.body.access_token;
  const created = await api('/sessions/create', { method: 'POST', token, json: { settings: { name } } });
  assert.equal(created.status, 201);
  return { token, email, password, login: login.body, event: created.body };
}

/** A small JPEG-looking file (the server sniffs the type), different per seed. @param {number} seed */
function jpeg(seed) {
  const body = Buffer.alloc(4096, 0).map((_, i) => (i * 31 + seed) & 0xff);
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1]), body, Buffer.from([0xff, 0xd9])]);
}

/** Uploads a photo as a guest through the API. @param {string} sessionId @param {number} seed */
async function upload(sessionId, seed) {
  const init = await api('/pictures/init-upload', { method: 'POST', json: { session_id: sessionId, mimetype: 'image/jpeg' } });
  assert.equal(init.status, 201);
  const put = await fetch(init.body.uploadUrl, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: jpeg(seed) });
  assert.equal(put.status, 200);
  const fin = await api('/pictures/finalize-upload', { method: 'POST', json: { u_name: 'Ben', session_id: sessionId, s3_key: init.body.key, original_filename: `IMG_${seed}.jpg`, filesize_bytes: 4111, mimetype: 'image/jpeg' } });
  assert.equal(fin.status, 201);
}

/**
 * A phone-size page logged in as the host, on `origin`.
 * @param {string} origin @param {any} login the /auth/login answer
 */
async function hostPage(origin, login) {
  const context = await browser.newContext({ ...phone, baseURL: origin });
  await context.addInitScript((l) => {
    localStorage.setItem('pp.auth', JSON.stringify({ token: l.access_token, expires: Date.now() + l.expires_in * 1000, email: l.user.email, sub: l.user.sub }));
  }, login);
  return context.newPage();
}

/** The same server under a name that is not loopback (mapped to 127.0.0.1 by Chromium). */
const LAN_BASE = (() => { const u = new URL(BASE); u.hostname = 'partypic.test'; return u.origin; })();
const LOOPBACK = /^(localhost|127\.|\[::1\])/.test(new URL(BASE).host);

/**
 * Bytes on the wire (headers + encoded bodies) of everything a page loads, from the DevTools
 * protocol's loadingFinished events.
 * @param {import('playwright-core').Page} page
 */
async function countBytes(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  let total = 0, requests = 0;
  cdp.on('Network.loadingFinished', (e) => { total += e.encodedDataLength; requests++; });
  return () => ({ total, requests });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage',
    '--host-resolver-rules=MAP partypic.test 127.0.0.1'],
});
const killer = setTimeout(() => { console.log(`FAIL timeout after ${LIMIT_MS} ms`); process.exit(1); }, LIMIT_MS);
try {
  const { event, login } = await hostWithEvent();

  await step(`guest's first visit ≤ ${FIRST_VISIT_BUDGET / 1024} KB on the wire, repeat visit from cache`, async () => {
    const context = await browser.newContext({ ...phone, serviceWorkers: 'block' });
    const page = await context.newPage();
    let bytes = await countBytes(page);
    await page.goto(`${BASE}/s/${event.id}`);
    await page.locator('main form, main input').first().waitFor();
    await page.waitForLoadState('networkidle');
    const first = bytes();
    await page.close();
    const again = await context.newPage();
    bytes = await countBytes(again);
    await again.goto(`${BASE}/s/${event.id}`);
    await again.locator('main form, main input').first().waitFor();
    await again.waitForLoadState('networkidle');
    const repeat = bytes();
    console.log(`     first visit: ${(first.total / 1024).toFixed(1)} KB in ${first.requests} requests; repeat visit: ${(repeat.total / 1024).toFixed(1)} KB in ${repeat.requests} requests`);
    await context.close();
    assert.ok(first.total <= FIRST_VISIT_BUDGET, `first visit ${first.total} bytes`);
  });

  await step('the invite page opened on localhost warns and offers the LAN link', async () => {
    const page = await hostPage(BASE, login);
    await page.goto(`/host/${event.id}`);
    await page.locator('#join-url').waitFor();
    const warning = page.locator('.lan-warning');
    if (LOOPBACK) {
      await warning.waitFor();
      const text = await warning.innerText();
      const lan = await page.locator('.lan-warning .lan-link').count();
      console.log(`     warning shown, ${lan ? `LAN link ${await page.locator('.lan-warning .lan-link').innerText()}` : 'no LAN address (server on loopback)'}`);
      assert.ok(text.includes('localhost'), text);
      await page.screenshot({ path: path.join(SHOTS, 'venue-invite-localhost.png') });
    }
    await page.context().close();
    const lanPage = await hostPage(LAN_BASE, login);
    await lanPage.goto(`/host/${event.id}`);
    await lanPage.locator('#join-url').waitFor();
    assert.equal(await lanPage.locator('#join-url').inputValue(), `${LAN_BASE}/s/${event.id}`);
    await lanPage.waitForLoadState('networkidle');
    assert.equal(await lanPage.locator('.lan-warning').isVisible(), false, 'no warning under a network name');
    await lanPage.context().close();
  });

  await step('a guest joins with the code typed on the start page or the short link; cards show it', async () => {
    const code = event.join_code;
    assert.match(code, /^[2-9A-Z]{4}-[2-9A-Z]{4}$/);
    const context = await browser.newContext({ ...phone, baseURL: LAN_BASE });
    const page = await context.newPage();
    await page.goto('/');
    await page.locator('input[name="code"]').fill(` ${code.toLowerCase()} `);
    await page.locator('input[name="code"]').press('Enter');
    await page.waitForURL(`**/s/${event.id}`);
    await page.goto(`/j/${code.replace('-', '')}`);
    await page.waitForURL(`**/s/${event.id}`);
    await page.goto('/j/ZZZZ2222');
    await page.locator('.form-error').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'venue-code-unknown.png') });
    await context.close();
    const host = await hostPage(LAN_BASE, login);
    await host.goto(`/print/${event.id}`);
    await host.locator('.table-card .join-code').first().waitFor();
    assert.equal(await host.locator('.table-card .join-code').first().innerText(), code);
    assert.ok((await host.locator('.table-card .url').first().innerText()).endsWith(`/j/${code.replace('-', '')}`));
    await host.screenshot({ path: path.join(SHOTS, 'venue-cards.png') });
    await host.goto(`/slideshow/${event.id}`);
    await host.locator('.slide-qr .join-code').waitFor();
    assert.equal(await host.locator('.slide-qr .join-code').innerText(), code);
    await host.context().close();
  });

  await step('the host renames the event, downloads and deletes two photos at once, then the event (typed confirmation)', async () => {
    const other = await hostWithEvent('Delete me');
    const id = other.event.id;
    for (const seed of [1, 2, 3]) await upload(id, seed);
    const page = await hostPage(LAN_BASE, other.login);
    await page.goto(`/host/${id}`);
    await page.locator('#tab-event').click();
    await page.locator('#event-name').fill('Delete me too');
    await page.locator('#event-date').fill('2027-06-12');
    await page.locator('#panel-event button[type="submit"]').click();
    await page.locator('#panel-event [role="status"]', { hasText: /Saved/ }).waitFor();
    const renamed = await api(`/sessions/get?sessionId=${id}`);
    assert.equal(renamed.body.settings.name, 'Delete me too');
    assert.equal(renamed.body.settings.date, '2027-06-12');

    await page.locator('#tab-photos').click();
    await page.locator('.gallery li.tile').nth(2).waitFor();
    await page.locator('.select-photos').click();
    await page.locator('.gallery li.tile').nth(0).click();
    await page.locator('.gallery li.tile').nth(1).click();
    assert.equal(await page.locator('.gallery li.tile.selected').count(), 2);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.bulk-bar .download-selected').click(),
    ]);
    const zipFile = path.join(os.tmpdir(), `partypic-selection-${process.pid}.zip`);
    await download.saveAs(zipFile);
    const entries = zipEntries(fs.readFileSync(zipFile));
    fs.rmSync(zipFile, { force: true });
    assert.equal(entries.length, 2, 'the selection, not the whole event');
    await page.locator('.bulk-bar .btn.danger').click();
    await page.locator('.bulk-bar .confirm-delete').click();
    await page.waitForFunction(() => document.querySelectorAll('.gallery li.tile').length === 1);
    await page.screenshot({ path: path.join(SHOTS, 'venue-bulk.png') });
    const left = await api(`/pictures/session?sessionId=${id}`);
    assert.equal(left.body.length, 1);

    await page.locator('#tab-event').click();
    const del = page.locator('#panel-event .danger-zone button');
    assert.equal(await del.isDisabled(), true);
    await page.locator('#delete-confirm').fill('Delete me');
    assert.equal(await del.isDisabled(), true, 'only the exact name enables it');
    await page.locator('#delete-confirm').fill('Delete me too');
    await page.screenshot({ path: path.join(SHOTS, 'venue-delete-event.png') });
    await del.click();
    await page.waitForURL('**/host');
    assert.equal((await api(`/sessions/get?sessionId=${id}`)).status, 404);
    await page.context().close();
  });
} finally {
  clearTimeout(killer);
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
