// Layout with the longest names the server accepts (event name 100 characters, guest name 50):
// on every screen, at 320 and 1920 px wide, in English and German, the page must not scroll
// sideways. Screenshots of every screen at phone (390×844) and TV (1920×1080) size go to
// target/screenshots/layout/:  node e2e/layout.mjs http://127.0.0.1:3000
// In the same pass, the venue screens: the slideshow at 1080p and 720p (QR code at least a fifth
// of the screen's height, nothing off screen or under the QR code, the welcome screen before the
// first photo), the event's accent colour and cover, default missions in the guest's language.
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
const TV_SIZES = /** @type {const} */ ([[1920, 1080], [1280, 720]]);
// A light accent (black text on it) on the event with photos, a dark one (white text) on the empty one.
const LIGHT = '#f4c2c2', DARK = '#1d3557';
const WELCOME = 'Herzlich-willkommen-zu-unserer-Hochzeit-teilt-alle-eure-Fotos! '.repeat(7).trim();
/** The server's default missions (src/domain/missions.rs) and their German text in the client. */
const DEFAULT_MISSIONS_DE = new Map([
  ['A photo with the bride or the groom', 'Ein Foto mit der Braut oder dem Bräutigam'],
  ['A selfie with someone you met today', 'Ein Selfie mit jemandem, den du heute kennengelernt hast'],
  ['The best dance move of the night', 'Der beste Tanzschritt des Abends'],
  ['Your table, everyone in the picture', 'Dein Tisch, alle mit im Bild'],
  ['The most beautiful detail of the decoration', 'Das schönste Detail der Deko'],
  ['A toast: glasses up!', 'Ein Toast: Gläser hoch!'],
  ['Someone laughing out loud', 'Jemand, der laut lacht'],
  ['The oldest and the youngest guest together', 'Der älteste und der jüngste Gast zusammen'],
  ['A group photo with at least five people', 'Ein Gruppenfoto mit mindestens fünf Leuten'],
  ['The cake before it is cut', 'Die Torte, bevor sie angeschnitten wird'],
  ['Shoes on the dance floor', 'Schuhe auf der Tanzfläche'],
  ['A candid moment nobody posed for', 'Ein ungestellter Moment, für den niemand posiert hat'],
  ['Your best funny face', 'Deine beste Grimasse'],
  ['Something blue', 'Etwas Blaues'],
  ['A photo of the photographer', 'Ein Foto vom Fotografen oder von der Fotografin'],
]);
/** `#rrggbb` as getComputedStyle writes it. @param {string} hex */
const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

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
  // The host's own mission: shown as written in every language.
  const OWN_MISSION = 'Ein-Selfie-mit-dem-Brautpaar-'.repeat(8);
  await call('/sessions/setmissions', { sessionId, missions: { data: [{ id: '1', description: OWN_MISSION }] } }, token);
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
  const photo = await call('/pictures/finalize-upload', { u_name: GUEST, session_id: sessionId, s3_key: init.key, user_id: guest.id, original_filename: `${GUEST}.jpg` });
  await call(`/sessions/${sessionId}/settings`, { settings: { accent_color: LIGHT, welcome_text: WELCOME, cover_picture_id: photo.id } }, token);
  const coverUrl = (await call(`/sessions/get?sessionId=${sessionId}`)).cover_url;
  if (typeof coverUrl !== 'string' || !coverUrl) problems.push(`the event view has no cover_url after cover_picture_id was set: ${coverUrl}`);

  /** A photo for `id` through the API, as the guest's phone would send it. @param {string} id @param {string} userId */
  const uploadTo = async (id, userId) => {
    const up = await call('/pictures/init-upload', { session_id: id, mimetype: 'image/jpeg', user_id: userId });
    const sent = await fetch(up.uploadUrl, { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: jpeg });
    assert.ok(sent.ok, `PUT ${sent.status}`);
    return call('/pictures/finalize-upload', { u_name: 'Ben', session_id: id, s3_key: up.key, user_id: userId, original_filename: 'ben.jpg' });
  };

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

    /**
     * The slideshow at TV sizes: the QR code at least 20 % of the screen's height; every part on
     * screen, no text running out of its box, nothing under the QR code or the full-screen button.
     * @param {string} name @param {string[]} parts selectors of what must be on screen
     */
    const tv = async (name, parts) => {
      for (const [width, height] of TV_SIZES) {
        await page.setViewportSize({ width, height });
        await page.waitForTimeout(80);
        const found = await page.evaluate((parts) => {
          /** @type {string[]} */
          const bad = [];
          const W = innerWidth, H = innerHeight;
          /** @param {string} sel */
          const box = (sel) => {
            const el = document.querySelector(sel);
            return el && el.checkVisibility() ? el.getBoundingClientRect() : null;
          };
          /** @param {DOMRect} a @param {DOMRect} b */
          const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
          const qr = box('.slide-qr');
          const code = box('.slide-qr .qr-code');
          const fs = box('.fs');
          if (!qr || !code) bad.push('no QR code');
          else if (code.height < 0.2 * H) bad.push(`QR code ${Math.round(code.height)} px high, under 20 % of ${H}`);
          for (const sel of parts) {
            const el = document.querySelector(sel);
            const r = box(sel);
            if (!el || !r) { bad.push(`${sel} not shown`); continue; }
            if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1) bad.push(`${sel} off screen (${Math.round(r.left)},${Math.round(r.top)})–(${Math.round(r.right)},${Math.round(r.bottom)})`);
            if (el.scrollWidth > el.clientWidth + 1) bad.push(`${sel} text wider than its box (${el.scrollWidth} > ${el.clientWidth})`);
            if (qr && !sel.startsWith('.slide-qr') && overlap(r, qr)) bad.push(`${sel} under the QR code`);
            if (fs && sel !== '.fs' && overlap(r, fs)) bad.push(`${sel} under the full-screen button`);
          }
          return bad;
        }, parts);
        checks++;
        for (const f of found) problems.push(`${lang} ${name} at ${width}×${height}: ${f}`);
      }
      await page.setViewportSize({ width: 390, height: 844 });
    };
    /** Background and text colour of the first element matching `sel`. @param {string} sel */
    const colours = (sel) => page.locator(sel).first().evaluate((el) => {
      const st = getComputedStyle(el);
      return { bg: st.backgroundColor, ink: st.color };
    });

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
    // The host's own mission as written; the event's cover (compact) and accent in the header.
    assert.equal(await page.locator('.mission-text').textContent(), OWN_MISSION);
    await page.locator('.guest-head img.head-cover').waitFor();
    assert.deepEqual(await colours('#open-camera'), { bg: rgb(LIGHT), ink: 'rgb(0, 0, 0)' }, 'the light accent, black text on it');
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
    // The join screen: the cover, the welcome text, the accent.
    const cover = page.locator('.join img.join-cover');
    await cover.waitFor();
    assert.equal(await cover.getAttribute('src'), coverUrl);
    assert.ok(await cover.evaluate((img) => /** @type {HTMLImageElement} */ (img).decode().then(() => /** @type {HTMLImageElement} */ (img).naturalWidth)) > 0, 'the cover loads');
    assert.equal((await page.locator('.join .welcome-text').textContent())?.trim(), WELCOME);
    assert.deepEqual(await colours('.join .btn.primary'), { bg: rgb(LIGHT), ink: 'rgb(0, 0, 0)' });
    await screen('guest-join');

    // A second event, as created: the server's default missions (stored in English), no photo yet,
    // a dark accent. Its guest sees the missions in their own language.
    const { sessionId: emptyId, join_code: emptyCode } = await call('/sessions/create', { settings: { name: EVENT, accent_color: DARK } }, token);
    const emptyGuest = await call('/sessions/registerSessionUser', { username: 'Ben', sessionId: emptyId });
    await page.evaluate(([s, g]) => localStorage.setItem(`pp.guest.${s}`, g), [emptyId, JSON.stringify({ id: emptyGuest.id, name: 'Ben' })]);
    await page.goto(`/s/${emptyId}`);
    await page.getByText(lang === 'de' ? 'Hallo Ben' : 'Hi Ben').waitFor();
    for (let roll = 0; roll < 3; roll++) {
      const shown = await page.locator('.mission-text').textContent();
      const missionId = await page.evaluate((s) => sessionStorage.getItem(`pp.mission.${s}`), emptyId);
      const english = (await call(`/sessions/get?sessionId=${emptyId}`)).missions.data.find((/** @type {any} */ m) => m.id === missionId)?.description;
      assert.ok(DEFAULT_MISSIONS_DE.has(english), `mission ${missionId} is a default: ${english}`);
      assert.equal(shown, lang === 'de' ? DEFAULT_MISSIONS_DE.get(english) : english, `default mission ${missionId} in ${lang}`);
      await page.locator('.mission button').click();
    }
    assert.deepEqual(await colours('#open-camera'), { bg: rgb(DARK), ink: 'rgb(255, 255, 255)' }, 'the dark accent, white text on it');
    await screen('guest-default-missions');

    // The slideshow before the first photo: the welcome screen with the QR code and the code.
    await page.goto(`/slideshow/${emptyId}`);
    await page.locator('.stage.empty .slide-welcome').waitFor();
    // The screen is there at once; the event's name and code once the event has loaded.
    await page.locator('.slide-qr .join-code').waitFor();
    await page.locator('.welcome-name').filter({ hasText: EVENT }).waitFor();
    assert.equal(await page.locator('.slide-qr .join-code').textContent(), emptyCode);
    assert.equal(await page.locator('.slide-qr .scan').textContent(), lang === 'de' ? 'Scanne den Code und teile deine Fotos' : 'Scan to share your photos');
    assert.deepEqual(await colours('.slide-qr .scan'), { bg: rgb(DARK), ink: 'rgb(255, 255, 255)' });
    await page.locator('.slide-qr .qr-code').evaluate((img) => /** @type {HTMLImageElement} */ (img).decode());
    // The host's welcome text reaches the screen live.
    await call(`/sessions/${emptyId}/settings`, { settings: { welcome_text: WELCOME } }, token);
    await page.locator('.welcome-note').filter({ hasText: WELCOME }).waitFor({ timeout: 10_000 });
    await screen('slideshow-waiting');
    await tv('slideshow-waiting', ['.welcome-eyebrow', '.welcome-name', '.welcome-note', '.welcome-wait', '.slide-qr', '.slide-qr .join-code', '.slide-qr .scan']);
    // The first photo replaces the welcome screen at once.
    const first = await uploadTo(emptyId, emptyGuest.id);
    await page.waitForFunction((id) => document.querySelector('.stage')?.getAttribute('data-current') === id && !document.querySelector('.stage.empty'), first.id, { timeout: 10_000 });
    assert.equal(await page.locator('.slide-welcome').isVisible(), false, 'the welcome screen gives way to the photo');

    await page.goto(`/slideshow/${sessionId}`);
    await page.locator('.slide.on img.slide-photo[src]').waitFor();
    await page.waitForTimeout(1200);
    // The photo whole, on a blurred copy of itself instead of black bars.
    const layers = await page.locator('.slide.on').evaluate((el) => {
      const [fill, photo] = /** @type {HTMLImageElement[]} */ ([...el.querySelectorAll('img')]);
      return { same: fill.src === photo.src, filter: getComputedStyle(fill).filter, fit: getComputedStyle(fill).objectFit };
    });
    assert.ok(layers.same && /blur/.test(layers.filter) && layers.fit === 'cover', `blurred fill: ${JSON.stringify(layers)}`);
    await screen('slideshow');
    await tv('slideshow', ['.slide-title', '.slide-caption', '.slide-qr', '.slide-qr .join-code', '.fs']);

    await page.goto(`/print/${sessionId}`);
    await page.locator('.table-card').first().waitFor();
    await page.locator('.table-card img.card-cover').first().waitFor();
    assert.equal(await page.locator('.table-card').first().evaluate((el) => getComputedStyle(el).borderTopColor), rgb(LIGHT));
    await screen('print');

    await page.goto('/no-such-page');
    await page.locator('#main h1').waitFor();
    assert.equal(await page.evaluate(() => document.body.style.getPropertyValue('--brand')), '', 'the accent stays on the event\'s pages');
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
