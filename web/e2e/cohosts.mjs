// Co-hosts in the browser: the owner makes a one-time link in the invite tab; a second browser
// signs up through the link, accepts it, lands on the event, approves one photo and deletes
// another, and is not offered the owner's delete; the owner removes them, and the API refuses
// them from then on:  node e2e/cohosts.mjs http://127.0.0.1:3000
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const BASE = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const SHOTS = process.env.SCREENSHOT_DIR || path.join(repo, 'target/screenshots');
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 120_000);
const killer = setTimeout(() => { console.log(`FAIL the co-host test took longer than ${LIMIT_MS} ms`); process.exit(1); }, LIMIT_MS);
fs.mkdirSync(SHOTS, { recursive: true });

/** @param {string} p @param {{body?: unknown, token?: string, method?: string}} [opts] */
async function call(p, opts = {}) {
  const res = await fetch(BASE + p, {
    method: opts.method || (opts.body === undefined ? 'GET' : 'POST'),
    headers: { 'Content-Type': 'application/json', ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A guest's photo of the event (a real JPEG, so its variants are made). @param {string} sessionId @param {string} guest @param {string} name */
async function upload(sessionId, guest, name) {
  const bytes = fs.readFileSync(path.join(repo, 'loadtest/photos', name));
  const init = await call('/pictures/init-upload', { body: { session_id: sessionId, mimetype: 'image/jpeg', user_id: guest } });
  assert.equal(init.status, 201, JSON.stringify(init.body));
  const put = await fetch(init.body.uploadUrl, { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: bytes });
  assert.equal(put.status, 200);
  const done = await call('/pictures/finalize-upload', {
    body: { u_name: 'Carla', session_id: sessionId, s3_key: init.body.key, user_id: guest, original_filename: name, filesize_bytes: bytes.length, mimetype: 'image/jpeg' },
  });
  assert.equal(done.status, 201, JSON.stringify(done.body));
  return done.body;
}

/** @param {string} name @param {() => Promise<void>} fn */
async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

const t0 = Date.now();
let ok = false;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
/** @type {import('playwright-core').Page | null} */
let ownerPage = null;
/** @type {import('playwright-core').Page | null} */
let coPage = null;
try {
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-US', baseURL: BASE };
  const stamp = Date.now().toString(36);
  const owner = { email: `owner-${stamp}@example.com`, password: 'correct horse battery' };
  const co = { name: 'Cleo Cohost', email: `cohost-${stamp}@example.com`, password: 'correct horse battery' };
  assert.equal((await call('/auth/register', { body: { username: 'Olga Owner', ...owner } })).status, 201);
  const login = (await call('/auth/login', { body: owner })).body;
  const token = login.access_token;
  const sessionId = (await call('/sessions/create', { token, body: { settings: { name: 'Co-host party', require_approval: true } } })).body.sessionId;
  const guest = (await call('/sessions/registerSessionUser', { body: { username: 'Carla', sessionId } })).body.id;
  const waiting = await upload(sessionId, guest, 'balloons.jpg');
  const toDelete = await upload(sessionId, guest, 'wedding-cake.jpg');
  assert.equal((await call(`/pictures/${toDelete.id}/approve`, { method: 'POST', token })).status, 200);

  const ownerCtx = await browser.newContext(phone);
  const record = JSON.stringify({ token, expires: Date.now() + login.expires_in * 1000, email: owner.email, sub: login.user.sub });
  await ownerCtx.addInitScript((a) => { if (!localStorage.getItem('pp.auth')) localStorage.setItem('pp.auth', a); }, record);
  ownerPage = await ownerCtx.newPage();
  ownerPage.on('dialog', (d) => d.accept());

  /** @type {string} */
  let link = '';
  await step('the owner makes a co-host link in the invite tab', async () => {
    const page = /** @type {import('playwright-core').Page} */ (ownerPage);
    await page.goto(`/host/${sessionId}`);
    await page.getByRole('heading', { name: 'Co-hosts' }).waitFor();
    await page.getByRole('button', { name: 'Create co-host link' }).click();
    link = await page.locator('#cohost-url').inputValue();
    assert.match(link, new RegExp(`^${BASE.replace(/[.]/g, '\\.')}/cohost#[0-9a-f]{64}$`));
    await page.screenshot({ path: path.join(SHOTS, 'cohost-01-owner-link.png') });
  });

  const coCtx = await browser.newContext(phone);
  coPage = await coCtx.newPage();
  coPage.on('dialog', (d) => d.accept());
  await step('a second browser opens the link, signs up and is brought back to accept it', async () => {
    const page = /** @type {import('playwright-core').Page} */ (coPage);
    await page.goto(link);
    await page.getByRole('heading', { name: 'You are invited to co-host an event' }).waitFor();
    assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar');
    await page.getByRole('button', { name: 'Log in or register' }).click();
    await page.waitForURL((u) => u.pathname === '/');
    const form = page.getByRole('form', { name: 'Sign up' });
    await form.getByLabel('Your name').fill(co.name);
    await form.getByLabel('Email').fill(co.email);
    await form.getByLabel('Password').fill(co.password);
    await form.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL('**/cohost');
    await page.screenshot({ path: path.join(SHOTS, 'cohost-02-accept.png') });
    await page.getByRole('button', { name: 'Accept and open the event' }).click();
    await page.waitForURL(`**/host/${sessionId}`);
    await page.getByRole('heading', { name: 'Co-host party' }).waitFor();
  });

  await step('the co-host approves a waiting photo and deletes another', async () => {
    const page = /** @type {import('playwright-core').Page} */ (coPage);
    await page.getByRole('tab', { name: 'Photos' }).click();
    await page.getByText('1 photo waiting for approval').waitFor({ timeout: 20_000 });
    await page.locator('.queue').getByRole('button', { name: 'Approve' }).click();
    await page.getByText('1 photo waiting for approval').waitFor({ state: 'detached' });
    await page.locator(`.gallery .tile[data-id="${toDelete.id}"] button`).click();
    await page.locator('dialog.lightbox').getByRole('button', { name: 'Delete' }).first().click();
    await page.locator('dialog.confirm[open]').getByRole('button', { name: 'Delete' }).click();
    await page.locator(`.gallery .tile[data-id="${toDelete.id}"]`).waitFor({ state: 'detached' });
    await page.keyboard.press('Escape');
    const gallery = (await call(`/pictures/session?sessionId=${sessionId}`, { token })).body;
    assert.deepEqual(gallery.map((/** @type {any} */ p) => [p.id, p.status]), [[waiting.id, 'approved']]);
  });

  await step('the co-host is not offered the owner\'s delete, and the dashboard shows the badge', async () => {
    const page = /** @type {import('playwright-core').Page} */ (coPage);
    await page.getByRole('tab', { name: 'Event' }).click();
    await page.locator('#event-name').waitFor();
    assert.equal(await page.locator('#delete-confirm').count(), 0, 'no delete for a co-host');
    await page.getByRole('tab', { name: 'Invite' }).click();
    assert.equal(await page.getByRole('button', { name: 'Create co-host link' }).count(), 0, 'no links from a co-host');
    await page.goto('/host');
    await page.locator('a.event-card', { hasText: 'Co-host party' }).locator('.cohost-badge').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'cohost-03-dashboard.png') });
  });

  await step('the owner removes the co-host; the API refuses them afterwards', async () => {
    const page = /** @type {import('playwright-core').Page} */ (ownerPage);
    await page.reload();
    const row = page.locator('ul.cohosts li', { hasText: co.email });
    await row.waitFor();
    await row.getByRole('button', { name: 'Remove' }).click();
    await page.locator('dialog.confirm[open]').getByRole('button', { name: 'Remove' }).click();
    await row.waitFor({ state: 'detached' });
    const coToken = await /** @type {import('playwright-core').Page} */ (coPage).evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    const refused = await call(`/sessions/${sessionId}/settings`, { token: coToken, body: { settings: { name: 'Mine now' } } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'event.not_host');
  });
  ok = true;
} catch (e) {
  console.log(`FAIL ${/** @type {Error} */ (e).stack || e}`);
  await ownerPage?.screenshot({ path: path.join(SHOTS, 'cohost-failed-owner.png') }).catch(() => {});
  await coPage?.screenshot({ path: path.join(SHOTS, 'cohost-failed-cohost.png') }).catch(() => {});
} finally {
  clearTimeout(killer);
  await browser.close().catch(() => {});
}
console.log(`co-host test ${ok ? 'passed' : 'failed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(ok ? 0 : 1);
