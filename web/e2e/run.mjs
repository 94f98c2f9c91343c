// End-to-end test of a whole event in headless Chromium, two browser contexts (host and guest),
// against a running PartyPic server:  node e2e/run.mjs http://127.0.0.1:3000
// A host signs up, creates an event, adds missions; a guest joins, takes photos with the fake
// camera and from a file (one of them queued offline); the host sees them live, deletes one,
// downloads the ZIP. Phone-size screenshots of each screen go to target/screenshots/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { zipEntries } from './zip.mjs';

const AXE = fs.readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const BASE = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const SHOTS = process.env.SCREENSHOT_DIR || path.join(repo, 'target/screenshots');
const TMP = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'partypic-e2e-'));
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 240_000);
fs.mkdirSync(SHOTS, { recursive: true });

const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US', acceptDownloads: true };
// E2E_LENIENT=1 (development against a server without the issue-4 endpoints) turns failures
// of steps marked `server: true` into skips.
const LENIENT = process.env.E2E_LENIENT === '1';
let passed = 0, failed = 0, skipped = 0;
/** @type {string[]} */
const problems = [];

/** @type {Record<string, import('playwright-core').Page>} pages to capture when a step fails */
const pages = {};

/** @param {string} name @param {() => Promise<void>} fn @param {{server?: boolean}} [opts] */
async function step(name, fn, opts = {}) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    if (LENIENT && opts.server) {
      skipped++;
      console.log(`SKIP ${name}: ${/** @type {Error} */ (e).message.split('\n')[0]}`);
      return;
    }
    failed++;
    for (const [who, page] of Object.entries(pages)) await page.screenshot({ path: path.join(SHOTS, `failed-${who}.png`) }).catch(() => {});
    console.log(`FAIL ${name}: ${/** @type {Error} */ (e).stack || e}`);
    throw e;
  }
}

/** @param {import('playwright-core').Page} page @param {string} name */
async function shot(page, name) {
  await page.waitForTimeout(250); // let animations settle
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/**
 * WCAG 2 A/AA checks with axe-core; serious and critical findings fail the run. Evaluated
 * through the DevTools protocol, so the page's CSP stays as strict as in production.
 * @param {import('playwright-core').Page} page @param {string} screen
 */
async function a11y(page, screen) {
  await page.evaluate(`${AXE}\n;0`);
  const found = await page.evaluate(async () => {
    // @ts-ignore axe is the global the script above defined
    const r = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'], resultTypes: ['violations'] });
    return r.violations.filter((/** @type {any} */ v) => v.impact === 'serious' || v.impact === 'critical')
      .map((/** @type {any} */ v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((/** @type {any} */ n) => n.target.join(' ')).join(', ')})`);
  });
  for (const f of found) problems.push(`a11y ${screen}: ${f}`);
}

/** Console errors and CSP violations fail the run. @param {import('playwright-core').Page} page @param {string} who */
function watch(page, who) {
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() !== 'error') return;
    // Failed requests the test causes on purpose (offline, deleted photo URLs) are not app bugs.
    if (/Failed to load resource|net::ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED|EventSource/.test(text)) return;
    problems.push(`${who}: console error: ${text}`);
  });
}

/**
 * A JPEG made in the browser, written to a file the test can hand to a file input.
 * @param {import('playwright-core').Page} page @param {string} name @param {number} w @param {number} hgt @param {string} text
 */
async function makeJpeg(page, name, w, hgt, text) {
  const dataUrl = await page.evaluate(([w, hgt, text]) => {
    const c = document.createElement('canvas');
    c.width = Number(w); c.height = Number(hgt);
    const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
    const grad = g.createLinearGradient(0, 0, c.width, c.height);
    grad.addColorStop(0, '#ff7eb3'); grad.addColorStop(1, '#65d6ce');
    g.fillStyle = grad; g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = '#fff'; g.font = `bold ${Math.round(c.width / 10)}px sans-serif`; g.fillText(String(text), c.width / 5, c.height / 2);
    return c.toDataURL('image/jpeg', 0.9);
  }, [w, hgt, text]);
  const file = path.join(TMP, name);
  fs.writeFileSync(file, Buffer.from(dataUrl.split(',')[1], 'base64'));
  return file;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-dev-shm-usage',
    // A name that is not localhost, still served from this machine: a plain-http LAN address.
    '--host-resolver-rules=MAP partypic.test 127.0.0.1'],
});
const killer = setTimeout(() => {
  console.log(`FAIL the whole run took longer than ${LIMIT_MS} ms`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, LIMIT_MS);

const stamp = Date.now().toString(36);
const host = { name: 'Anna Host', email: `host-${stamp}@example.com`, password: 'correct horse battery' };
let sessionId = '';
/** @type {number[]} */
const eventsStatus = [];

try {
  const hostCtx = await browser.newContext({ ...phone, baseURL: BASE });
  const guestCtx = await browser.newContext({ ...phone, baseURL: BASE, permissions: ['camera'] });
  const hostPage = await hostCtx.newPage();
  const guestPage = await guestCtx.newPage();
  watch(hostPage, 'host');
  watch(guestPage, 'guest');
  Object.assign(pages, { host: hostPage, guest: guestPage });
  hostPage.on('response', (r) => { if (/\/sessions\/[^/]+\/events/.test(r.url())) eventsStatus.push(r.status()); });
  hostPage.on('dialog', (d) => d.accept());
  guestPage.on('dialog', (d) => d.accept());

  await step('landing page renders with the sign-up form', async () => {
    await hostPage.goto('/');
    await hostPage.getByRole('heading', { level: 1 }).waitFor();
    await hostPage.getByRole('tab', { name: 'Sign up' }).waitFor();
    await shot(hostPage, '01-landing');
  });

  await step('sign-up shows inline validation messages', async () => {
    const form = hostPage.getByRole('form', { name: 'Sign up' });
    await form.getByLabel('Email').fill('not-an-email');
    await form.getByLabel('Password').fill('short');
    await form.getByRole('button', { name: 'Create account' }).click();
    await hostPage.getByText('Please enter your name.').waitFor();
    await hostPage.getByText('Please enter a valid email address.').waitFor();
    await hostPage.getByText('At least 8 characters, please.').waitFor();
    await shot(hostPage, '02-signup-validation');
    await a11y(hostPage, '02-signup-validation');
  });

  await step('host signs up and lands on the dashboard', async () => {
    const form = hostPage.getByRole('form', { name: 'Sign up' });
    await form.getByLabel('Your name').fill(host.name);
    await form.getByLabel('Email').fill(host.email);
    await form.getByLabel('Password').fill(host.password);
    await form.getByRole('button', { name: 'Create account' }).click();
    await hostPage.waitForURL('**/host');
    await hostPage.getByRole('heading', { name: 'My events' }).waitFor();
  });

  await step('a duplicate sign-up shows one error message', async () => {
    const p = await hostCtx.newPage();
    await p.goto('/');
    await p.evaluate(() => localStorage.removeItem('pp.auth'));
    await p.reload();
    const form = p.getByRole('form', { name: 'Sign up' });
    await form.getByLabel('Your name').fill(host.name);
    await form.getByLabel('Email').fill(host.email.toUpperCase());
    await form.getByLabel('Password').fill(host.password);
    await form.getByRole('button', { name: 'Create account' }).click();
    const shown = form.locator('.form-error:not(:empty), .field-error:not(:empty)');
    await shown.first().waitFor();
    const texts = await shown.allTextContents();
    assert.equal(texts.length, 1, `the error is shown once, not ${JSON.stringify(texts)}`);
    assert.ok(texts[0].length > 3, 'an error message is shown');
    await p.close();
    // The other tab logged the host out; log in again through the form.
    await hostPage.goto('/');
    await hostPage.getByRole('tab', { name: 'Log in' }).click();
    const login = hostPage.getByRole('form', { name: 'Log in' });
    await login.getByLabel('Email').fill(host.email);
    await login.getByLabel('Password').fill('wrong password!');
    await login.getByRole('button', { name: 'Log in' }).click();
    const wrong = login.locator('.form-error:not(:empty), .field-error:not(:empty)');
    await wrong.first().waitFor();
    assert.equal(await wrong.count(), 1, 'a wrong password is reported once');
    await login.getByLabel('Password').fill(host.password);
    await login.getByRole('button', { name: 'Log in' }).click();
    await hostPage.waitForURL('**/host');
  });

  await step('host creates an event', async () => {
    await hostPage.getByLabel('Event name').fill('Anna & Ben\'s Wedding');
    await shot(hostPage, '03-host-dashboard');
    await a11y(hostPage, '03-host-dashboard');
    await hostPage.getByRole('button', { name: 'Create event' }).click();
    await hostPage.waitForURL(/\/host\/[0-9a-f-]{36}$/);
    sessionId = hostPage.url().split('/').pop() || '';
    await hostPage.getByRole('heading', { name: 'Anna & Ben\'s Wedding' }).waitFor();
    const link = await hostPage.locator('#join-url').inputValue();
    assert.equal(link, `${BASE}/s/${sessionId}`);
  });

  await step('log-in returns to the page that asked for it', async () => {
    const ctx = await browser.newContext({ ...phone, baseURL: BASE });
    const p = await ctx.newPage();
    watch(p, 'return');
    await p.goto(`/host/${sessionId}`);
    await p.waitForURL((u) => u.pathname === '/');
    await p.getByRole('tab', { name: 'Log in' }).click();
    const login = p.getByRole('form', { name: 'Log in' });
    await login.getByLabel('Email').fill(host.email);
    await login.getByLabel('Password').fill(host.password);
    await login.getByRole('button', { name: 'Log in' }).click();
    await p.waitForURL(`**/host/${sessionId}`);
    await ctx.close();
  });

  await step('the invite tab shows the join QR code', async () => {
    await hostPage.locator('.qr img').evaluate((img) => /** @type {HTMLImageElement} */ (img).decode());
  }, { server: true });
  await shot(hostPage, '04-host-invite-qr');
    await a11y(hostPage, '04-host-invite-qr');

  /** @type {string[]} */
  let missions = [];
  await step('host adds missions by hand and from a .txt file', async () => {
    await hostPage.getByRole('tab', { name: 'Missions' }).click();
    const n = await hostPage.locator('ol.missions textarea').count();
    await hostPage.getByLabel('New mission').fill('A selfie with the couple');
    await hostPage.getByRole('button', { name: 'Add', exact: true }).click();
    const txt = path.join(TMP, 'missions.txt');
    fs.writeFileSync(txt, 'The best dance move\r\n\r\nA toast!\nShoes on the dance floor\n');
    await hostPage.locator('#mission-import').setInputFiles(txt);
    await hostPage.getByRole('textbox', { name: `Mission ${n + 4}`, exact: true }).waitFor();
    await hostPage.getByRole('textbox', { name: `Mission ${n + 3}`, exact: true }).fill('A toast to the happy couple!');
    await hostPage.getByRole('button', { name: `Remove mission ${n + 4}`, exact: true }).click();
    // "Paste several": each line a mission; a mission may itself have more lines (its box grows).
    await hostPage.getByText('Paste several').click();
    await hostPage.getByLabel('One mission per line').fill('A kiss\n\n  A hug  \n');
    await hostPage.getByRole('button', { name: 'Add each line' }).click();
    const hug = hostPage.getByRole('textbox', { name: `Mission ${n + 5}`, exact: true });
    assert.equal(await hug.inputValue(), 'A hug');
    const oneLine = (await hug.boundingBox())?.height || 0;
    await hug.fill('A hug\nfrom grandma\nand grandpa');
    assert.ok(((await hug.boundingBox())?.height || 0) > oneLine + 20, 'the mission box grows with its lines');
    await hostPage.getByRole('button', { name: 'Save missions' }).click();
    await hostPage.getByRole('status').filter({ hasText: 'Missions saved' }).first().waitFor();
    const res = await hostPage.request.get(`/sessions/get?sessionId=${sessionId}`);
    missions = (await res.json()).missions.data.map((/** @type {any} */ m) => m.description);
    assert.equal(missions.length, n + 5);
    assert.deepEqual(missions.slice(n), ['A selfie with the couple', 'The best dance move', 'A toast to the happy couple!', 'A kiss', 'A hug\nfrom grandma\nand grandpa']);
    await shot(hostPage, '05-host-missions');
    await a11y(hostPage, '05-host-missions');
    await hostPage.getByRole('tab', { name: 'Photos' }).click();
    await hostPage.evaluate(() => { /** @type {any} */ (window).__noReload = true; });
  });

  await step('guest joins with a name, gets a mission and can re-roll it', async () => {
    // The way in without a QR scanner: paste the invitation link on the start page.
    await guestPage.goto('/');
    await guestPage.getByLabel('Invitation link or code').fill(`Join us! ${BASE}/s/${sessionId}`);
    await guestPage.getByRole('button', { name: 'Join', exact: true }).click();
    await guestPage.waitForURL(`**/s/${sessionId}`);
    await guestPage.getByLabel('Your name').waitFor();
    await shot(guestPage, '06-guest-join');
    await a11y(guestPage, '06-guest-join');
    await guestPage.getByRole('button', { name: 'Let\'s go' }).click();
    await guestPage.getByLabel('Your name').fill('Carla Guest');
    await guestPage.getByRole('button', { name: 'Let\'s go' }).click();
    await guestPage.getByText('Hi Carla Guest').waitFor();
    const mission = guestPage.locator('.mission-text');
    const first = await mission.textContent();
    assert.ok(missions.includes(first || ''), `mission ${first} is one of the event's`);
    await guestPage.getByRole('button', { name: 'Another mission' }).click();
    assert.notEqual(await mission.textContent(), first);
    await shot(guestPage, '07-guest-home');
    await a11y(guestPage, '07-guest-home');
  });

  await step('returning guest is recognised after a reload', async () => {
    await guestPage.reload();
    await guestPage.getByText('Hi Carla Guest').waitFor();
  });

  await step('a protected event: the host sets a PIN; a guest is told a wrong one, then joins with the right one', async () => {
    const token = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    const created = await hostPage.request.post('/sessions/create', { headers: { Authorization: `Bearer ${token}` }, data: { settings: { name: 'Secret Party' } } });
    assert.equal(created.status(), 201);
    const secretId = (await created.json()).sessionId;
    const hostTab = await hostCtx.newPage();
    await hostTab.goto(`/host/${secretId}`);
    await hostTab.getByRole('tab', { name: 'Settings' }).click();
    await hostTab.getByLabel('Event PIN or password').fill('4711');
    await hostTab.getByLabel('Event PIN or password').press('Enter');
    await hostTab.getByRole('button', { name: 'Remove PIN' }).waitFor();
    await hostTab.close();
    const ctx = await browser.newContext({ ...phone, baseURL: BASE });
    const page = await ctx.newPage();
    watch(page, 'pin-guest');
    await page.goto(`/s/${secretId}`);
    await page.getByLabel('Your name').fill('Dora Guest');
    const pin = page.getByLabel('Event PIN');
    assert.equal(await pin.getAttribute('inputmode'), 'numeric');
    await pin.fill('1234');
    await page.getByRole('button', { name: 'Let\'s go' }).click();
    await page.getByText('Wrong PIN').waitFor();
    await shot(page, '06b-guest-pin-wrong');
    await a11y(page, '06b-guest-pin-wrong');
    await pin.fill('4711');
    await page.getByRole('button', { name: 'Let\'s go' }).click();
    await page.getByText('Hi Dora Guest').waitFor();
    await ctx.close();
  }, { server: true });

  await step('the app shell works offline (service worker) and the guest page still opens', async () => {
    await guestPage.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 20_000 });
    await guestCtx.setOffline(true);
    await guestPage.reload();
    await guestPage.getByText('Hi Carla Guest').waitFor();
    await guestPage.getByRole('button', { name: 'Take a photo' }).waitFor();
    await guestCtx.setOffline(false);
    await guestPage.reload();
    await guestPage.getByText('Hi Carla Guest').waitFor();
  });

  await step('guest takes two photos with the camera', async () => {
    await guestPage.getByRole('button', { name: 'Take a photo' }).click();
    const video = guestPage.locator('dialog.camera video');
    await guestPage.waitForFunction(() => {
      const v = /** @type {HTMLVideoElement | null} */ (document.querySelector('dialog.camera video'));
      return !!v && v.videoWidth > 0 && !v.paused;
    });
    await video.waitFor();
    await shot(guestPage, '08-guest-camera');
    await guestPage.getByRole('button', { name: 'Take photo' }).click();
    await guestPage.getByText('1 photo taken').waitFor();
    await guestPage.waitForTimeout(600);
    await guestPage.getByRole('button', { name: 'Switch camera' }).click();
    await guestPage.waitForFunction(() => !(/** @type {HTMLButtonElement} */ (document.querySelector('.shutter')).disabled));
    await guestPage.getByRole('button', { name: 'Take photo' }).click();
    await guestPage.getByText('2 photos taken').waitFor();
    await guestPage.getByRole('button', { name: 'Close' }).click();
    await guestPage.waitForFunction(() => document.querySelectorAll('.gallery .tile').length >= 2, null, { timeout: 20_000 });
  });

  await step('the host\'s gallery shows the photos live, without a reload', async () => {
    // Well within the 15 s of the polling fallback: the server pushed them.
    await hostPage.waitForFunction(() => document.querySelectorAll('.gallery .tile').length >= 2, null, { timeout: 8_000 });
    assert.equal(await hostPage.evaluate(() => /** @type {any} */ (window).__noReload), true, 'the host page was not reloaded');
  });

  await step('two photos chosen offline are queued in IndexedDB, downscaled and sent when back online', async () => {
    const big = await makeJpeg(guestPage, 'big-photo.jpg', 3200, 2400, 'PartyPic');
    const small = await makeJpeg(guestPage, 'small-photo.jpg', 640, 480, 'Cheers');
    await guestCtx.setOffline(true);
    await guestPage.locator('#pick').setInputFiles([big, small]); // multi-select
    await guestPage.locator('.uploads li').filter({ hasText: 'offline' }).first().waitFor();
    await guestPage.waitForFunction(() => document.querySelectorAll('.uploads li').length === 2);
    await shot(guestPage, '09-guest-offline-queue');
    const queued = await guestPage.evaluate(() => new Promise((resolve) => {
      const req = indexedDB.open('partypic');
      req.onsuccess = () => {
        const all = req.result.transaction('uploads').objectStore('uploads').getAll();
        all.onsuccess = () => resolve(all.result.length);
      };
    }));
    assert.equal(queued, 2, 'the offline photos are stored in IndexedDB');
    await guestPage.getByText('2 photos waiting to be sent').waitFor();
    await guestPage.getByText('You are offline').waitFor();
    await guestCtx.setOffline(false);
    await guestPage.waitForFunction(() => document.querySelectorAll('.uploads li').length === 0, null, { timeout: 30_000 });
    // One running toast for the batch ("4 photos uploaded" when the camera's two were just
    // before), not one per photo.
    await guestPage.locator('.toast').filter({ hasText: /^[2-9] photos uploaded$/ }).waitFor();
    assert.equal(await guestPage.locator('.toast').count(), 1);
    await hostPage.waitForFunction(() => document.querySelectorAll('.gallery .tile').length >= 4, null, { timeout: 20_000 });
    // The host's view: `url` is the original as uploaded (guests get the server's ≤ 2048 px copy).
    const hostToken = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    const pics = await (await guestPage.request.get(`/pictures/session?sessionId=${sessionId}`, { headers: { Authorization: `Bearer ${hostToken}` } })).json();
    const biggest = pics.find((/** @type {any} */ p) => p.original_filename === 'big-photo.jpg');
    assert.ok(biggest, 'the file upload arrived');
    const dims = await guestPage.evaluate(async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, biggest.url);
    assert.deepEqual(dims, [2560, 1920], 'downscaled on the device to at most 2560 px');
  });

  await step('choosing the same photo again does not add a second copy', async () => {
    const before = await guestPage.locator('.gallery .tile').count();
    const finalized = guestPage.waitForResponse((r) => r.url().endsWith('/pictures/finalize-upload'));
    await guestPage.locator('#pick').setInputFiles(path.join(TMP, 'small-photo.jpg'));
    assert.ok((await finalized).ok());
    await guestPage.waitForFunction(() => document.querySelectorAll('.uploads li').length === 0);
    await guestPage.locator('.toast').filter({ hasText: 'Already in the gallery' }).waitFor();
    await guestPage.locator('.gallery .tile.spotlight').waitFor();
    assert.equal(await guestPage.locator('.gallery .tile').count(), before);
    assert.equal(await hostPage.locator('.gallery .tile').count(), before);
  }, { server: true });

  await step('a photo queued offline is sent by the service worker after its page was closed (Background Sync)', async () => {
    const ctx = await browser.newContext({ ...phone, baseURL: BASE });
    const p = await ctx.newPage();
    watch(p, 'bgsync');
    await p.goto(`/s/${sessionId}`);
    await p.getByLabel('Your name').fill('Dora');
    await p.getByRole('button', { name: 'Let\'s go' }).click();
    await p.getByText('Hi Dora').waitFor();
    await p.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 20_000 });
    const file = await makeJpeg(p, 'later.jpg', 900, 600, 'Later');
    await ctx.setOffline(true);
    await p.locator('#pick').setInputFiles(file);
    await p.locator('.uploads li').filter({ hasText: 'offline' }).waitFor();
    await p.close();
    await ctx.setOffline(false);
    await hostPage.locator('.gallery .tile button[aria-label^="Photo by Dora"]').waitFor({ timeout: 30_000 });
    // Keep the ZIP and counts below about Carla's photos.
    const pic = (await (await hostPage.request.get(`/pictures/session?sessionId=${sessionId}`)).json()).find((/** @type {any} */ x) => x.u_name === 'Dora');
    const token = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    assert.equal((await hostPage.request.delete(`/pictures/${pic.id}`, { headers: { Authorization: `Bearer ${token}` } })).status(), 204);
    await hostPage.locator('.gallery .tile button[aria-label^="Photo by Dora"]').waitFor({ state: 'detached' });
    await ctx.close();
  });

  await step('over plain http on the LAN (no secure context) a guest still uploads, through the camera app input', async () => {
    const lan = new URL(BASE);
    lan.hostname = 'partypic.test';
    const ctx = await browser.newContext({ ...phone, baseURL: lan.origin });
    const p = await ctx.newPage();
    watch(p, 'lan');
    await p.goto(`/s/${sessionId}`);
    assert.equal(await p.evaluate(() => isSecureContext), false);
    await p.getByLabel('Your name').fill('Eve');
    await p.getByRole('button', { name: 'Let\'s go' }).click();
    await p.getByText('Hi Eve').waitFor();
    const file = await makeJpeg(p, 'lan.jpg', 1600, 1200, 'LAN');
    const [chooser] = await Promise.all([p.waitForEvent('filechooser'), p.getByRole('button', { name: 'Take a photo' }).click()]);
    await chooser.setFiles(file);
    await p.locator('.gallery .tile button[aria-label^="Photo by Eve"]').waitFor({ timeout: 20_000 });
    await hostPage.locator('.gallery .tile button[aria-label^="Photo by Eve"]').waitFor({ timeout: 20_000 });
    const pic = (await (await hostPage.request.get(`/pictures/session?sessionId=${sessionId}`)).json()).find((/** @type {any} */ x) => x.u_name === 'Eve');
    const token = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    assert.equal((await hostPage.request.delete(`/pictures/${pic.id}`, { headers: { Authorization: `Bearer ${token}` } })).status(), 204);
    await hostPage.locator('.gallery .tile button[aria-label^="Photo by Eve"]').waitFor({ state: 'detached' });
    await ctx.close();
  });

  await step('guest gallery and lightbox', async () => {
    await guestPage.locator('.gallery .tile button').first().click();
    await guestPage.locator('dialog.lightbox[open]').waitFor();
    await guestPage.locator('dialog.lightbox figcaption strong').filter({ hasText: 'Carla Guest' }).waitFor();
    await shot(guestPage, '11-guest-lightbox');
    await a11y(guestPage, '11-guest-lightbox');
    // A swipe to the left shows the next photo, the arrow key goes back.
    const box = guestPage.locator('dialog.lightbox');
    assert.equal(await box.getAttribute('data-index'), '0');
    await box.locator('img').evaluate((el) => {
      const r = el.getBoundingClientRect();
      const y = r.top + r.height / 2;
      el.dispatchEvent(new PointerEvent('pointerdown', { clientX: r.right - 30, clientY: y, bubbles: true, pointerType: 'touch' }));
      el.dispatchEvent(new PointerEvent('pointerup', { clientX: r.left + 30, clientY: y + 10, bubbles: true, pointerType: 'touch' }));
    });
    assert.equal(await box.getAttribute('data-index'), '1');
    await guestPage.keyboard.press('ArrowLeft');
    assert.equal(await box.getAttribute('data-index'), '0');
    await guestPage.keyboard.press('Escape');
    await guestPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
    const t1 = Date.now();
    // The phone's Back button closes the viewer and stays in the event, on the same page (not
    // drawn anew: the gallery keeps its scroll position and loaded pages).
    await guestPage.evaluate(() => { /** @type {HTMLElement} */ (document.querySelector('.gallery')).dataset.kept = '1'; });
    await guestPage.locator('.gallery .tile button').first().click();
    await guestPage.locator('dialog.lightbox[open]').waitFor();
    await guestPage.goBack();
    await guestPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
    assert.ok(guestPage.url().endsWith(`/s/${sessionId}`), `still in the event: ${guestPage.url()}`);
    await guestPage.getByText('Hi Carla Guest').waitFor();
    assert.equal(await guestPage.evaluate(() => /** @type {HTMLElement} */ (document.querySelector('.gallery')).dataset.kept), '1', 'the page was drawn anew');
    console.log(`     back closes the viewer (${Date.now() - t1} ms)`);
    await guestPage.evaluate(() => scrollTo(0, document.querySelector('.gallery')?.getBoundingClientRect().top ?? 0));
    await shot(guestPage, '10-guest-gallery');
  });

  await step('a guest reacts to a photo; the host sees the count live', async () => {
    const id = await guestPage.locator('.gallery .tile').first().getAttribute('data-id');
    await guestPage.locator('.gallery .tile button').first().click();
    const heart = guestPage.locator('dialog.lightbox[open] .reaction[data-reaction="heart"]');
    await heart.click();
    await guestPage.locator('dialog.lightbox[open] .reaction[data-reaction="heart"][aria-pressed="true"]').waitFor();
    assert.equal(await heart.locator('.n').innerText(), '1');
    await hostPage.locator(`.gallery .tile[data-id="${id}"] .react-count`).waitFor({ timeout: 10_000 });
    assert.match(await hostPage.locator(`.gallery .tile[data-id="${id}"] .react-count`).innerText(), /1$/);
    // Another emoji replaces it (one reaction per guest); the same one again takes it back.
    await guestPage.locator('dialog.lightbox[open] .reaction[data-reaction="party"]').click();
    await guestPage.locator('dialog.lightbox[open] .reaction[data-reaction="party"][aria-pressed="true"]').waitFor();
    assert.equal(await heart.getAttribute('aria-pressed'), 'false');
    await guestPage.locator('dialog.lightbox[open] .reaction[data-reaction="party"]').click();
    await guestPage.locator('dialog.lightbox[open] .reaction[data-reaction="party"][aria-pressed="false"]').waitFor();
    await hostPage.locator(`.gallery .tile[data-id="${id}"] .react-count`).waitFor({ state: 'detached', timeout: 10_000 });
    await guestPage.keyboard.press('Escape');
    await guestPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
  });

  await step('a guest comments in the viewer; the host sees it live, markup shows as text', async () => {
    const id = await guestPage.locator('.gallery .tile').first().getAttribute('data-id');
    await hostPage.locator(`.gallery .tile[data-id="${id}"] button`).first().click();
    await hostPage.locator('dialog.lightbox[open] .comments .comment-list').getByText('No comments yet.').waitFor();
    await guestPage.locator('.gallery .tile button').first().click();
    const xss = '<img src=x onerror=alert(1)>';
    await guestPage.getByRole('textbox', { name: 'Write a comment' }).fill(xss);
    await guestPage.locator('dialog.lightbox[open] .comment-form').getByRole('button', { name: 'Send' }).click();
    const mine = guestPage.locator('dialog.lightbox[open] .comment').filter({ hasText: xss });
    await mine.waitFor();
    assert.equal(await mine.locator('strong').innerText(), 'Carla Guest');
    await mine.getByRole('button', { name: 'Delete' }).waitFor();
    const live = hostPage.locator('dialog.lightbox[open] .comment .comment-text');
    await live.filter({ hasText: xss }).waitFor({ timeout: 10_000 });
    assert.equal(await live.first().innerText(), xss);
    assert.equal(await hostPage.locator('dialog.lightbox[open] .comment img').count(), 0, 'no markup was rendered');
    // Both galleries count the comment on the photo's tile, live.
    for (const page of [guestPage, hostPage]) {
      const count = page.locator(`.gallery .tile[data-id="${id}"] .comment-count`);
      await count.waitFor({ timeout: 10_000 });
      assert.match(await count.textContent() || '', /💬 1$/);
    }
    await a11y(guestPage, '11c-guest-comments');
    await shot(guestPage, '11c-guest-comments');
    await guestPage.keyboard.press('Escape');
    await guestPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
    await hostPage.keyboard.press('Escape');
    await hostPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
  });

  await step('a guest filters the gallery: the most loved first, their own photos', async () => {
    const tiles = guestPage.locator('.gallery .tile');
    const last = await tiles.last().getAttribute('data-id');
    const token = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    const put = await hostPage.request.put(`/pictures/${last}/reaction`, { headers: { Authorization: `Bearer ${token}` }, data: { reaction: 'heart' } });
    assert.equal(put.status(), 200);
    await guestPage.getByRole('button', { name: '❤️ Most loved' }).click();
    await guestPage.waitForFunction((id) => document.querySelector('.gallery .tile')?.getAttribute('data-id') === id, last, { timeout: 10_000 });
    await guestPage.getByRole('button', { name: 'My photos' }).click();
    await guestPage.locator('.gallery-filter .chip[aria-pressed="true"]').filter({ hasText: 'My photos' }).waitFor();
    await tiles.first().waitFor();
    // textContent: tiles scrolled out of view skip rendering (content-visibility), so their innerText is empty.
    const names = await guestPage.locator('.gallery .tile .who').allTextContents();
    assert.ok(names.length > 0 && names.every((n) => n === 'Carla Guest'), `own photos only: ${names}`);
    await guestPage.getByRole('button', { name: 'All' }).click();
    await guestPage.locator('.gallery-filter .chip[aria-pressed="true"]').filter({ hasText: 'All' }).waitFor();
    // Tapping the uploader's name in the viewer shows only their photos.
    await tiles.first().locator('button').click();
    const who = guestPage.locator('dialog.lightbox[open] .caption button.who');
    const name = await who.innerText();
    await who.click();
    await guestPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
    await guestPage.locator('.gallery-filter .chip[aria-pressed="true"]').filter({ hasNotText: 'All' }).waitFor();
    await tiles.first().waitFor();
    const theirs = await guestPage.locator('.gallery .tile .who').allTextContents();
    assert.ok(theirs.length > 0 && theirs.every((n) => n === name), `only ${name}'s photos: ${theirs}`);
    await guestPage.getByRole('button', { name: 'All' }).click();
    await guestPage.locator('.gallery-filter .chip[aria-pressed="true"]').filter({ hasText: 'All' }).waitFor();
    await shot(guestPage, '10b-guest-filter');
    await hostPage.request.delete(`/pictures/${last}/reaction`, { headers: { Authorization: `Bearer ${token}` } });
  });

  await step('host deletes a photo; it disappears for the guest live', async () => {
    await hostPage.evaluate(() => scrollTo(0, 0));
    await shot(hostPage, '12-host-photos');
    await hostPage.locator('.gallery .tile button').first().click();
    await hostPage.locator('dialog.lightbox[open]').waitFor();
    await shot(hostPage, '13-host-lightbox');
    // The photo on screen becomes the event's cover, and stops being it.
    const viewer = hostPage.locator('dialog.lightbox');
    const shownId = await hostPage.locator('.gallery .tile').first().getAttribute('data-id');
    const eventView = async () => (await hostPage.request.get(`/sessions/get?sessionId=${sessionId}`)).json();
    await viewer.getByRole('button', { name: 'Use as cover' }).click();
    await viewer.getByRole('button', { name: 'Remove cover' }).waitFor();
    const covered = await eventView();
    assert.equal(covered.settings.cover_picture_id, shownId);
    assert.match(covered.cover_url, /^https?:\/\//, 'the event view names the cover image');
    await viewer.getByRole('button', { name: 'Remove cover' }).click();
    await viewer.getByRole('button', { name: 'Use as cover' }).waitFor();
    assert.equal((await eventView()).cover_url, null);
    const before = await hostPage.locator('.gallery .tile').count();
    await hostPage.locator('dialog.lightbox').getByRole('button', { name: 'Delete' }).first().click();
    // An in-app confirmation, not the browser's confirm(): nothing is deleted before it is answered.
    const confirm = hostPage.locator('dialog.confirm[open]');
    await confirm.getByText('Delete this photo for everyone?').waitFor();
    await shot(hostPage, '13b-host-confirm-delete');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal(await hostPage.locator('.gallery .tile').count(), before);
    await hostPage.locator('dialog.lightbox').getByRole('button', { name: 'Delete' }).first().click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await hostPage.waitForFunction((n) => document.querySelectorAll('.gallery .tile').length === n - 1, before);
    await hostPage.keyboard.press('Escape');
    await guestPage.waitForFunction((n) => document.querySelectorAll('.gallery .tile').length === n - 1, before, { timeout: 20_000 });
  }, { server: true });

  await step('host downloads all photos as a ZIP', async () => {
    await hostPage.getByRole('tab', { name: 'Settings' }).click();
    await shot(hostPage, '14-host-settings');
    await a11y(hostPage, '14-host-settings');
    const [download] = await Promise.all([
      hostPage.waitForEvent('download'),
      hostPage.getByRole('link', { name: 'Download all photos (ZIP)' }).click(),
    ]);
    const file = path.join(TMP, 'all.zip');
    await download.saveAs(file);
    const zip = fs.readFileSync(file);
    const all = zipEntries(zip);
    console.log('     zip entries:', all.map((e) => `${e.name} (${e.size} B)`).join(', '));
    // The photos, and at most the printable guestbook page (see the guestbook step).
    assert.ok(all.every((e) => /\.jpe?g$/i.test(e.name) || e.name === 'guestbook.html'), 'photos and the guestbook page only');
    assert.ok(!zip.includes('<img src=x'), 'no markup from guests');
    const entries = all.filter((e) => e.name !== 'guestbook.html');
    assert.equal(entries.length, await hostPage.locator('.gallery .tile').count());
    assert.equal(entries.length, 3);
    for (const e of entries) {
      assert.match(e.name, /^Carla[ _-]?Guest_.+_\d+\.jpe?g$/i);
      assert.ok(e.size > 1000);
    }
  }, { server: true });

  await step('a guest downloads the whole event as a ZIP once the host allows it', async () => {
    await hostPage.getByLabel('Guests may download').selectOption('all');
    await hostPage.getByRole('status').filter({ hasText: 'Saved' }).first().waitFor();
    const link = guestPage.locator('#guest-zip');
    await link.waitFor({ timeout: 20_000 });
    // Display copies: the approved photos whose copy is made (one that cannot be decoded is left
    // out). Wait until every copy is decided, so the count below is the final one.
    /** @type {any[]} */
    let page = [];
    for (let i = 0; i < 300; i++) {
      page = await (await guestPage.request.get(`/pictures/session?sessionId=${sessionId}`)).json();
      if (page.every((/** @type {any} */ p) => p.variants !== 'pending')) break;
      await guestPage.waitForTimeout(100);
    }
    const ready = page.filter((/** @type {any} */ p) => p.status === 'approved' && p.variants === 'ready').length;
    const [download] = await Promise.all([guestPage.waitForEvent('download'), link.click()]);
    const file = path.join(TMP, 'guest.zip');
    await download.saveAs(file);
    const entries = zipEntries(fs.readFileSync(file));
    assert.ok(ready > 0, `no display copy made: ${JSON.stringify(page.map((/** @type {any} */ p) => p.variants))}`);
    assert.equal(entries.length, ready);
    for (const e of entries) assert.match(e.name, /_\d+\.jpg$/);
    await hostPage.getByLabel('Guests may download').selectOption('photos');
    await link.waitFor({ state: 'detached', timeout: 20_000 });
  }, { server: true });

  await step('the live stream (SSE) was used', async () => {
    assert.ok(eventsStatus.includes(200), `GET /sessions/{id}/events answered ${JSON.stringify(eventsStatus)}`);
  }, { server: true });

  await step('slideshow shows photos and the join QR code', async () => {
    const p = await guestCtx.newPage();
    watch(p, 'slideshow');
    await p.setViewportSize({ width: 844, height: 390 });
    await p.goto(`/slideshow/${sessionId}`);
    await p.locator('.slide.on img.slide-photo').waitFor();
    await p.waitForTimeout(1200); // the cross-fade
    await step('the slideshow shows the join QR code', async () => {
      await p.locator('.slide-qr img').evaluate((img) => /** @type {HTMLImageElement} */ (img).decode());
    }, { server: true });
    await shot(p, '15-slideshow');
    await a11y(p, '15-slideshow');
    // A new photo jumps in at once, not after a full loop.
    const shown = await p.locator('.stage').getAttribute('data-current');
    const file = await makeJpeg(guestPage, 'slideshow-new.jpg', 1024, 768, 'New!');
    const t0 = Date.now();
    await guestPage.locator('#pick').setInputFiles(file);
    // The slideshow shows a photo once its display copy is made (picture.updated), then at once.
    let freshId = '';
    for (let i = 0; i < 100 && !freshId; i++) {
      const [newest] = await (await guestPage.request.get(`/pictures/session?sessionId=${sessionId}&limit=1`)).json();
      if (newest?.original_filename === 'slideshow-new.jpg') freshId = newest.id;
      else await guestPage.waitForTimeout(100);
    }
    assert.ok(freshId, 'the new photo arrived');
    await p.waitForFunction((id) => document.querySelector('.stage')?.getAttribute('data-current') === id, freshId, { timeout: 30_000 });
    assert.notEqual(freshId, shown);
    assert.ok((await p.locator('.slide-caption').last().textContent())?.includes('Carla Guest'), 'the caption names the guest');
    console.log(`     new photo on the slideshow ${Date.now() - t0} ms after choosing it`);
    await p.close();
  });

  await step('a guest writes in the guestbook; the host approves it; the slideshow shows it, markup as text', async () => {
    // The host asks for approval in the Guestbook tab (and goes back to the tab it was on after).
    const tabBefore = await hostPage.locator('[role="tab"][aria-selected="true"]').innerText();
    await hostPage.getByRole('tab', { name: 'Guestbook' }).click();
    await hostPage.locator('#rule-guestbookapproval').check();
    await hostPage.locator('#rule-guestbookapproval:checked').waitFor();
    const show = await guestCtx.newPage();
    watch(show, 'slideshow-guestbook');
    await show.goto(`/slideshow/${sessionId}`);
    await show.locator('.slide.on img.slide-photo').waitFor();
    // The guest opens the guestbook (loaded on demand) and writes, markup included.
    const text = '<script>window.__guestbook = 1</script> Alles Gute! <b>fett</b>';
    await guestPage.locator('#open-guestbook').click();
    await guestPage.locator('#guestbook-text').fill(text);
    await guestPage.getByRole('button', { name: 'Write in the guestbook' }).click();
    const mine = guestPage.locator('.guestbook-message[data-status="pending"]').filter({ hasText: 'Alles Gute!' });
    await mine.waitFor();
    assert.equal(await mine.locator('.guestbook-text').innerText(), text);
    await shot(guestPage, '15b-guest-guestbook');
    await a11y(guestPage, '15b-guest-guestbook');
    // The host sees it live, pending, and approves it; the open slideshow shows it at once.
    const pending = hostPage.locator('.guestbook-message[data-status="pending"]').filter({ hasText: 'Alles Gute!' });
    await pending.waitFor({ timeout: 10_000 });
    await pending.getByRole('button', { name: 'Approve' }).click();
    await hostPage.locator('.guestbook-message[data-status="approved"]').filter({ hasText: 'Alles Gute!' }).waitFor();
    await show.locator('.stage.messaging .message-text').filter({ hasText: 'Alles Gute!' }).waitFor({ timeout: 15_000 });
    assert.equal(await show.locator('.message-text').innerText(), text, 'the text shows as typed');
    assert.ok((await show.locator('.message-author').innerText()).includes('Carla Guest'));
    assert.equal(await show.locator('.slide-message script, .slide-message b').count(), 0, 'no markup was rendered');
    assert.equal(await show.evaluate(() => /** @type {any} */ (window).__guestbook), undefined, 'no script ran');
    await shot(show, '15c-slideshow-guestbook');
    await show.close();
    // The host's ZIP has it on the printable page, escaped (the page is stored uncompressed, so
    // its text is in the file as is).
    const hostToken = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    const zip = await (await guestPage.request.get(`/sessions/${sessionId}/download?access_token=${hostToken}`)).body();
    assert.ok(zipEntries(zip).some((e) => e.name === 'guestbook.html'), 'the ZIP has guestbook.html');
    assert.ok(zip.includes('&lt;script&gt;window.__guestbook = 1&lt;&#x2F;script&gt; Alles Gute! &lt;b&gt;fett&lt;&#x2F;b&gt;'), 'the message, escaped');
    assert.ok(!zip.includes('<script>window.__guestbook'), 'no markup from guests');
    await hostPage.locator('#rule-guestbookapproval').uncheck();
    await hostPage.getByRole('tab', { name: tabBefore, exact: true }).click();
  });

  await step('a guest uploads a video clip: a poster with its length in the gallery, the viewer plays it', async () => {
    // An iPhone-style QuickTime clip with sound, made by ffmpeg (the server remuxes it to MP4).
    const clip = path.join(TMP, 'party-clip.mov');
    execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25:duration=3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-y', clip]);
    await guestPage.locator('#pick').setInputFiles(clip);
    /** @type {any} */
    let made = null;
    for (let i = 0; i < 600 && !made; i++) {
      const page = await (await guestPage.request.get(`/pictures/session?sessionId=${sessionId}&limit=10`)).json();
      made = page.find((/** @type {any} */ p) => p.original_filename === 'party-clip.mov' && p.variants === 'ready') || null;
      if (!made) await guestPage.waitForTimeout(100);
    }
    assert.ok(made, 'the clip arrived and got its poster and rendition');
    assert.equal(made.media_type, 'video');
    assert.ok(Math.abs(made.duration_secs - 3) < 0.3, `duration ${made.duration_secs}`);
    assert.match(made.video_url, /\.web\.mp4/);
    const tile = guestPage.locator(`.gallery .tile[data-id="${made.id}"]`);
    await tile.locator('.play-badge').filter({ hasText: '0:03' }).waitFor({ timeout: 20_000 });
    await tile.locator('button').click();
    const video = guestPage.locator('dialog.lightbox[open] video');
    await video.waitFor();
    await video.evaluate(async (el) => {
      const v = /** @type {HTMLVideoElement} */ (el);
      v.muted = true;
      await v.play();
    });
    await guestPage.waitForFunction(() => {
      const v = /** @type {HTMLVideoElement | null} */ (document.querySelector('dialog.lightbox[open] video'));
      return !!v && v.currentTime > 0.5 && v.videoWidth === 640;
    }, null, { timeout: 20_000 });
    // Seeking (byte ranges from the store) lands near the end.
    await video.evaluate((el) => { /** @type {HTMLVideoElement} */ (el).currentTime = 2.5; });
    await guestPage.waitForFunction(() => {
      const v = /** @type {HTMLVideoElement | null} */ (document.querySelector('dialog.lightbox[open] video'));
      return !!v && v.currentTime >= 2.5 && v.readyState >= 2;
    }, null, { timeout: 10_000 });
    await shot(guestPage, '11c-guest-video');
    await guestPage.keyboard.press('Escape');
    await guestPage.locator('dialog.lightbox[open]').waitFor({ state: 'detached' });
  });

  await step('printable table cards', async () => {
    const p = await hostCtx.newPage();
    watch(p, 'print');
    await p.goto(`/print/${sessionId}`);
    await p.locator('.table-card').first().waitFor();
    assert.equal(await p.locator('.table-card').count(), 8);
    await p.locator('.table-card img').first().evaluate((img) => /** @type {HTMLImageElement} */ (img).decode()).catch(() => {});
    await shot(p, '16-print-cards');
    // Four cards per A4 page.
    const pdf = (await p.pdf({ format: 'A4', printBackground: true })).toString('latin1');
    assert.equal(pdf.match(/\/Type\s*\/Page[^s]/g)?.length, 2, 'eight cards print on two A4 pages');
    await a11y(p, '16-print-cards');
    await p.close();
  });

  await step('German is picked from the browser and switchable', async () => {
    const ctx = await browser.newContext({ ...phone, baseURL: BASE, locale: 'de-DE' });
    const p = await ctx.newPage();
    watch(p, 'de');
    await p.goto('/');
    await p.getByRole('tab', { name: 'Registrieren' }).waitFor();
    await shot(p, '17-landing-de');
    // The server's refusals in German, once, at the field they concern; never its English text.
    await p.getByRole('tab', { name: 'Anmelden' }).click();
    const login = p.getByRole('form', { name: 'Anmelden' });
    await login.getByLabel('E-Mail').fill(host.email);
    await login.getByLabel('Passwort').fill('falsches Passwort');
    await login.getByRole('button', { name: 'Anmelden' }).click();
    await login.getByText('E-Mail oder Passwort ist falsch.').waitFor();
    assert.equal(await p.getByText('E-Mail oder Passwort ist falsch.').count(), 1);
    await p.getByRole('tab', { name: 'Registrieren' }).click();
    const signup = p.getByRole('form', { name: 'Registrieren' });
    await signup.getByLabel('Dein Name').fill('Doppelt');
    await signup.getByLabel('E-Mail').fill(host.email);
    await signup.getByLabel('Passwort').fill(host.password);
    await signup.getByRole('button', { name: 'Konto anlegen' }).click();
    await signup.getByText('Mit dieser E-Mail gibt es schon ein Konto').waitFor();
    const text = await p.locator('body').innerText();
    assert.ok(!/invalid email|already|not found|password/i.test(text), `no English server message: ${text}`);
    await p.getByRole('button', { name: 'Switch to English' }).click();
    await p.getByRole('tab', { name: 'Sign up' }).waitFor();
    await p.reload();
    await p.getByRole('tab', { name: 'Sign up' }).waitFor();
    await ctx.close();
  });

  await step('pre-approval: the guest sees the own photo pending, the host approves it from the queue', async () => {
    await hostPage.getByLabel('Photos need my approval').check();
    await hostPage.getByRole('status').filter({ hasText: 'Saved' }).first().waitFor();
    // The guest learns about the rule live (session.updated).
    await guestPage.getByText('The host approves photos before everyone sees them.').waitFor({ timeout: 20_000 });
    const file = await makeJpeg(guestPage, 'pending.jpg', 1200, 900, 'Pending');
    await guestPage.locator('#pick').setInputFiles(file);
    await guestPage.locator('.gallery .tile .badge').filter({ hasText: 'Waiting for approval' }).waitFor({ timeout: 20_000 });
    await shot(guestPage, '18-guest-pending');
    await hostPage.getByRole('tab', { name: 'Photos' }).click();
    await hostPage.getByText('1 photo waiting for approval').waitFor({ timeout: 20_000 });
    // The count is of approved photos; the waiting one is shown apart.
    const approved = await hostPage.locator('.gallery .tile:not(:has(.badge))').count();
    await hostPage.locator('.pill').filter({ hasText: `${approved} photos + 1 waiting` }).waitFor();
    await shot(hostPage, '19-host-approval-queue');
    await hostPage.locator('.queue').getByRole('button', { name: 'Approve' }).click();
    await hostPage.getByText('1 photo waiting for approval').waitFor({ state: 'detached' });
    await guestPage.locator('.gallery .tile .badge').waitFor({ state: 'detached', timeout: 20_000 });
  }, { server: true });

  await step('a guest deletes an own photo', async () => {
    const before = await guestPage.locator('.gallery .tile').count();
    await guestPage.locator('.gallery .tile button').first().click();
    await guestPage.locator('dialog.lightbox').getByRole('button', { name: 'Delete' }).first().click();
    await guestPage.locator('dialog.confirm[open]').getByRole('button', { name: 'Delete' }).click();
    await guestPage.waitForFunction((n) => document.querySelectorAll('.gallery .tile').length === n - 1, before);
    await guestPage.keyboard.press('Escape');
    await hostPage.waitForFunction((n) => document.querySelectorAll('.gallery .tile').length === n - 1, before, { timeout: 20_000 });
  }, { server: true });

  await step('reveal mode: guests are told, and the host reveals the gallery', async () => {
    await hostPage.getByRole('tab', { name: 'Settings' }).click();
    await hostPage.getByLabel('Reveal the gallery later').check();
    await guestPage.getByText('The host will reveal the gallery later').waitFor({ timeout: 20_000 });
    await hostPage.getByRole('button', { name: 'Reveal the gallery now' }).click();
    await hostPage.getByText('Gallery revealed').waitFor();
    await guestPage.getByText('The host will reveal the gallery later').waitFor({ state: 'detached', timeout: 20_000 });
  }, { server: true });

  await step('a timed reveal: the guest sees a countdown, and the gallery opens by itself at the time', async () => {
    const token = await hostPage.evaluate(() => JSON.parse(localStorage.getItem('pp.auth') || '{}').token);
    const at = new Date(Date.now() + 6000).toISOString();
    const set = await hostPage.request.post(`/sessions/${sessionId}/settings`, { headers: { Authorization: `Bearer ${token}` }, data: { settings: { revealed: false, reveal_at: at } } });
    assert.equal(set.status(), 200);
    const countdown = guestPage.getByText('The gallery opens');
    await countdown.waitFor({ timeout: 10_000 });
    // Nobody does anything: at the time the server tells the guest's page, live.
    await countdown.waitFor({ state: 'detached', timeout: 20_000 });
    assert.ok(Date.now() >= Date.parse(at), 'not before the time');
    await guestPage.locator('.gallery .tile').first().waitFor();
    await hostPage.request.post(`/sessions/${sessionId}/settings`, { headers: { Authorization: `Bearer ${token}` }, data: { settings: { reveal_at: null, revealed: true } } });
  }, { server: true });

  await step('a per-guest upload limit is explained, without a Retry that cannot work', async () => {
    // After the reveal the gallery reloads: count once it is back.
    await guestPage.locator('.gallery .tile').first().waitFor();
    const mine = await guestPage.locator('.gallery .tile').count();
    await hostPage.getByLabel('Upload limit per guest').fill(String(mine));
    await hostPage.getByLabel('Upload limit per guest').press('Enter');
    await hostPage.getByRole('status').filter({ hasText: 'Saved' }).first().waitFor();
    // The film roll: every shot taken ("0 of N left") and the capture buttons gone.
    await guestPage.getByText(`Your film roll is full: all ${mine} shots taken`).waitFor({ timeout: 10_000 });
    const file = await makeJpeg(guestPage, 'too-many.jpg', 800, 600, 'Limit');
    await guestPage.locator('#pick').setInputFiles(file);
    const failedItem = guestPage.locator('.uploads li.failed');
    await failedItem.waitFor({ timeout: 20_000 });
    await failedItem.getByText('You have reached this event\'s photo limit.').waitFor();
    await guestPage.getByText('1 photo not sent').waitFor();
    assert.equal(await failedItem.getByRole('button', { name: 'Retry' }).count(), 0, 'no Retry for a final refusal');
    await shot(guestPage, '20-guest-upload-limit');
    await failedItem.getByRole('button', { name: 'Dismiss' }).click();
    await failedItem.waitFor({ state: 'detached' });
  }, { server: true });

  await step('host ends the event; the guest can no longer upload', async () => {
    await hostPage.getByRole('tab', { name: 'Settings' }).click();
    await hostPage.getByRole('button', { name: 'End the event now' }).click();
    await hostPage.locator('dialog.confirm[open]').getByRole('button', { name: 'End the event now' }).click();
    await hostPage.getByText('The event has ended.').first().waitFor();
    await guestPage.reload();
    await guestPage.getByText('This event has ended').waitFor();
    assert.equal(await guestPage.getByRole('button', { name: 'Take a photo' }).isVisible(), false);
    const init = await guestPage.request.post('/pictures/init-upload', { data: { session_id: sessionId, mimetype: 'image/jpeg' } });
    assert.equal(init.status(), 403);
  }, { server: true });

  await step('the host\'s event list shows the ended event with its counts', async () => {
    await hostPage.getByRole('link', { name: 'My events' }).first().click();
    const card = hostPage.locator('a.event-card').filter({ hasText: 'Anna & Ben\'s Wedding' });
    await card.waitFor();
    await card.getByText('Ended').first().waitFor();
    await card.getByText('3 guests').waitFor(); // Carla, Dora, Eve
    await shot(hostPage, '21-host-events');
    await a11y(hostPage, '21-host-events');
  }, { server: true });

  await step('the gallery pages through 1200 photos and stays smooth', async () => {
    const all = await (await guestPage.request.get(`/pictures/session?sessionId=${sessionId}`)).json();
    const img = all[0].thumbUrl || all[0].url;
    const t0 = Date.parse('2026-06-01T20:00:00Z');
    const fake = Array.from({ length: 1200 }, (_, i) => ({
      ...all[0], id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, u_name: `Guest ${i % 37}`,
      created_at: new Date(t0 - i * 7000).toISOString(), url: img, thumbUrl: img, status: 'approved',
    }));
    let requests = 0;
    const p = await guestCtx.newPage();
    watch(p, 'scroll');
    await p.route('**/pictures/session?*', (route) => {
      const q = new URL(route.request().url()).searchParams;
      const limit = Number(q.get('limit') || 1000);
      const start = q.get('before') ? fake.findIndex((x) => x.id === q.get('before')) + 1 : 0;
      requests++;
      return route.fulfill({ json: fake.slice(start, start + limit) });
    });
    await p.goto(`/s/${sessionId}`);
    await p.locator('.gallery .tile').first().waitFor();
    const stats = await p.evaluate(async () => {
      /** @type {number[]} */
      const gaps = [];
      let last = performance.now();
      let running = true;
      const tick = () => { const now = performance.now(); gaps.push(now - last); last = now; if (running) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
      const deadline = Date.now() + 60_000;
      while (document.querySelectorAll('.gallery .tile').length < 1200 && Date.now() < deadline) {
        scrollBy(0, 1200);
        await new Promise((r) => setTimeout(r, 50));
      }
      running = false;
      gaps.sort((a, b) => a - b);
      return { tiles: document.querySelectorAll('.gallery .tile').length, p95: gaps[Math.floor(gaps.length * 0.95)], max: gaps[gaps.length - 1], frames: gaps.length };
    });
    console.log(`     ${stats.tiles} tiles in ${requests} pages; frame gap p95 ${stats.p95.toFixed(0)} ms, max ${stats.max.toFixed(0)} ms over ${stats.frames} frames`);
    assert.equal(stats.tiles, 1200);
    assert.ok(requests >= 20, 'loaded page by page');
    // Generous for a busy 2-core CI machine: it catches a grid that stalls the main thread.
    assert.ok(stats.p95 < 200, `frame gap p95 ${stats.p95} ms`);
    await p.close();
  });

  await step('no console errors or CSP violations', async () => {
    assert.deepEqual(problems, []);
  });
} catch {
  // step() reported it
} finally {
  clearTimeout(killer);
  await browser.close();
  fs.rmSync(TMP, { recursive: true, force: true });
}
console.log(`screenshots: ${SHOTS}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
