// Layout with the longest names the server accepts (event name 100 characters, guest name 50):
// on every screen, at 320 and 1920 px wide, in English and German, the page must not scroll
// sideways. Screenshots of every screen at phone (390×844) and TV (1920×1080) size go to
// target/screenshots/layout/:  node e2e/layout.mjs http://127.0.0.1:3000
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.argv[2] || process.env.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
const SHOTS = path.join(process.env.SCREENSHOT_DIR || path.resolve(here, '../../target/screenshots'), 'layout');
const LIMIT_MS = Number(process.env.E2E_TIMEOUT_MS || 90_000);
fs.mkdirSync(SHOTS, { recursive: true });
const killer = setTimeout(() => { console.log(`FAIL the layout test took longer than ${LIMIT_MS} ms`); process.exit(1); }, LIMIT_MS);

// The longest names: event names up to 100 characters (domain/rules.rs), guest and host names up
// to 50 (domain/values.rs Name). Long words, so nothing can wrap at a space.
const EVENT = 'Hochzeitsfeierlichkeiten-von-Anna-Katharina-Müller-Lüdenscheidt-und-Benedikt-Maximilian-Schwarzenber';
const GUEST = 'Maximiliane-Konstantina-Wilhelmine-Schmidt-Hartman';
assert.equal([...EVENT].length, 100);
assert.equal([...GUEST].length, 50);
const SIZES = /** @type {const} */ ([[320, 640], [390, 844], [1920, 1080]]);
const SHOOT = new Set(['390x844', '1920x1080']);

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

const t0 = Date.now();
/** @type {string[]} */
const problems = [];
let checks = 0, shots = 0;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
});
try {
  const stamp = Date.now().toString(36);
  const email = `layout-${stamp}@example.com`;
  const hostName = 'Bartholomäus-Friedrich-Wilhelm-von-Hohenzollernbur';
  await call('/auth/register', { username: hostName, email, password: 'correct horse battery' });
  const login = await call('/auth/login', { email, password: 'correct horse battery' });
  const token = login.access_token;
  const { sessionId } = await call('/sessions/create', {
    settings: { name: EVENT, description: `${EVENT} – ${EVENT}`, require_approval: false },
  }, token);
  await call('/sessions/setmissions', { sessionId, missions: { data: [{ id: '1', description: 'Ein-Selfie-mit-dem-Brautpaar-'.repeat(8) }] } }, token);
  const guest = await call('/sessions/registerSessionUser', { username: GUEST, sessionId });

  // One photo by the guest, so the gallery, the viewer and the slideshow have something to show.
  const scratch = await browser.newPage();
  const jpeg = Buffer.from((await scratch.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 1600; c.height = 1000;
    const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
    g.fillStyle = '#65d6ce'; g.fillRect(0, 0, 1600, 1000);
    return c.toDataURL('image/jpeg', 0.9);
  })).split(',')[1], 'base64');
  await scratch.close();
  const init = await call('/pictures/init-upload', { session_id: sessionId, mimetype: 'image/jpeg', user_id: guest.id });
  const put = await fetch(init.uploadUrl, { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: jpeg });
  assert.ok(put.ok, `PUT ${put.status}`);
  await call('/pictures/finalize-upload', { u_name: GUEST, session_id: sessionId, s3_key: init.key, user_id: guest.id, original_filename: `${GUEST}.jpg` });

  const authRecord = JSON.stringify({ token, expires: Date.now() + 3_600_000, email, sub: login.user.sub });
  const me = JSON.stringify({ id: guest.id, name: guest.user_name });

  for (const lang of ['en', 'de']) {
    const ctx = await browser.newContext({ baseURL: BASE, viewport: { width: 390, height: 844 }, locale: lang === 'de' ? 'de-DE' : 'en-US' });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`${lang}: page error: ${e.message}`));

    /**
     * Checks the current screen at every size; screenshots at phone and TV size.
     * @param {string} name @param {() => Promise<void>} [settle]
     */
    const screen = async (name, settle) => {
      for (const [width, height] of SIZES) {
        await page.setViewportSize({ width, height });
        if (settle) await settle();
        await page.waitForTimeout(60);
        const { scroll, inner, culprit } = await page.evaluate(() => {
          const inner = window.innerWidth;
          let culprit = '';
          for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > inner + 1 && !el.closest('.tabs, .uploads, dialog:not([open])')) {
              culprit = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} (right ${Math.round(r.right)})`;
              break;
            }
          }
          return { scroll: document.documentElement.scrollWidth, inner, culprit };
        });
        checks++;
        if (scroll > inner) problems.push(`${lang} ${name} at ${width} px: scrollWidth ${scroll} > ${inner}${culprit ? `; e.g. ${culprit}` : ''}`);
        if (SHOOT.has(`${width}x${height}`)) {
          await page.screenshot({ path: path.join(SHOTS, `${name}-${lang}-${width === 1920 ? 'tv' : 'phone'}.png`) });
          shots++;
        }
      }
      await page.setViewportSize({ width: 390, height: 844 });
    };

    await page.goto('/');
    await page.evaluate((l) => localStorage.setItem('pp.lang', l), lang);
    await page.reload();
    await page.locator('#main h1').first().waitFor();
    await screen('landing');

    await page.evaluate(([a, s, g]) => {
      localStorage.setItem('pp.auth', a);
      localStorage.setItem(`pp.guest.${s}`, g);
    }, [authRecord, sessionId, me]);
    await page.goto('/host');
    await page.locator('a.event-card').first().waitFor();
    await screen('host-events');

    await page.goto(`/host/${sessionId}`);
    const tabs = page.getByRole('tab');
    await tabs.first().waitFor();
    const n = await tabs.count();
    for (let i = 0; i < n; i++) {
      await tabs.nth(i).click();
      const key = await tabs.nth(i).getAttribute('data-tab') || String(i);
      await screen(`host-${key}`);
    }

    await page.goto(`/s/${sessionId}`);
    await page.locator('.gallery .tile').first().waitFor();
    await screen('guest-home');
    await page.locator('.gallery .tile button').first().click();
    await page.locator('dialog.lightbox[open]').waitFor();
    await screen('guest-viewer');
    await page.keyboard.press('Escape');
    // Closing the viewer steps back in history (it was an entry of its own): let that finish.
    await page.waitForFunction(() => !history.state?.viewer);

    // Forget the guest on a page that is not theirs: the guest page itself may still save its
    // identity again (heartbeat, page hide) after the key is removed.
    await page.goto('/no-such-page');
    await page.locator('#main h1').waitFor();
    await page.evaluate((s) => localStorage.removeItem(`pp.guest.${s}`), sessionId);
    await page.goto(`/s/${sessionId}`);
    await page.locator('input[name=name]').waitFor();
    await page.locator('input[name=name]').fill(GUEST);
    await screen('guest-join');

    await page.goto(`/slideshow/${sessionId}`);
    await page.locator('.stage').waitFor();
    await page.waitForTimeout(1200);
    await screen('slideshow');

    await page.goto(`/print/${sessionId}`);
    await page.locator('.table-card').first().waitFor();
    await screen('print');

    await page.goto('/no-such-page');
    await page.locator('#main h1').waitFor();
    await screen('not-found');
    await ctx.close();
  }
  assert.ok(checks > 40, `checked ${checks} screen sizes`);
} catch (e) {
  problems.push(`${/** @type {Error} */ (e).stack || e}`);
  for (const ctx of browser.contexts()) {
    for (const p of ctx.pages()) {
      await p.screenshot({ path: path.join(SHOTS, 'failed.png') }).catch(() => {});
      problems.push(`at ${p.url()}: ${(await p.locator('body').innerText().catch(() => '')).slice(0, 300)}`);
    }
  }
} finally {
  clearTimeout(killer);
  await browser.close();
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(`layout: ${checks} screen × size checks, ${shots} screenshots in ${SHOTS}, ${((Date.now() - t0) / 1000).toFixed(1)} s: ${problems.length ? `${problems.length} problems` : 'ok'}`);
process.exit(problems.length ? 1 : 0);
