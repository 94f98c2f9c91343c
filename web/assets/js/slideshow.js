// `/slideshow/{id}`: for a TV or projector. Auto-advances; a photo that arrives is shown next,
// at once; the join QR code stays in a corner.
import { api, apiUrl, auth, getSession, eventName, joinUrl } from './api.js';
import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { live } from './live.js';

const INTERVAL = 7000;

/** @typedef {import('./api.js').Picture} Picture */

/** @param {HTMLElement} main @param {string} id */
export function slideshow(main, id) {
  document.body.className = 'slideshow-mode';
  /** @type {(() => void)[]} */
  const cleanups = [];
  /** @type {Picture[]} */
  let pictures = [];
  /** @type {Picture[]} */
  const fresh = [];
  let index = -1;
  let paused = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let shownAt = 0;
  let gone = false;
  /** @type {import('./api.js').Session | null} */
  let session = null;

  const a = auth();
  const layers = [h('img.slide', { alt: '' }), h('img.slide', { alt: '' })];
  let front = 0;
  const caption = h('div.slide-caption', { 'aria-live': 'polite' });
  const title = h('h1.slide-title');
  const waiting = h('div.slide-waiting');
  const qrImg = /** @type {HTMLImageElement} */ (h('img', { src: apiUrl(`/sessions/${id}/qr.svg`), alt: t('share.qrAlt') }));
  const link = h('small', null, joinUrl(id).replace(/^https?:\/\//, ''));
  const codeLine = h('strong.join-code', { hidden: true });
  const qr = h('aside.slide-qr', null, qrImg, h('span', null, t('slideshow.join')), codeLine, link);
  /** The join code beside the QR code, and the short link (a simpler QR code) once the event is known. @param {import('./api.js').Session} s */
  const showCode = (s) => {
    if (!s.join_code || !codeLine.hidden) return;
    codeLine.hidden = false;
    codeLine.textContent = s.join_code;
    qrImg.src = apiUrl(`/sessions/${id}/qr.svg?short=true`);
    link.textContent = `${location.host}/j/${s.join_code.replace('-', '')}`;
  };
  const fs = h('button.btn.small.fs', { type: 'button', onclick: () => toggleFullscreen() }, t('slideshow.fullscreen'));
  const stage = h('div.stage', { tabindex: 0, 'aria-label': t('slideshow.title') }, ...layers, waiting, title, caption, qr, fs);
  main.append(stage);

  const visible = (/** @type {Picture} */ p) => p.status !== 'pending';
  const hiddenByReveal = () => session?.settings?.reveal === 'after_reveal' && !session.settings.revealed;

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else stage.requestFullscreen?.().catch(() => {});
  }

  /** @param {Picture} p */
  function show(p) {
    const back = layers[1 - front];
    const img = new Image();
    img.onload = img.onerror = () => {
      back.setAttribute('src', img.src);
      back.classList.add('on');
      layers[front].classList.remove('on');
      front = 1 - front;
    };
    img.src = p.url;
    stage.dataset.current = p.id;
    const mission = p.mission_id && session ? session.missions.data.find((m) => String(m.id) === String(p.mission_id)) : null;
    replace(caption, h('strong', null, p.u_name), mission ? h('span', null, ' · ', mission.description) : null);
    shownAt = Date.now();
  }

  function next() {
    clearTimeout(timer);
    if (hiddenByReveal() || !pictures.length) {
      layers.forEach((l) => l.classList.remove('on'));
      caption.textContent = '';
      waiting.textContent = hiddenByReveal() ? t('slideshow.revealLater') : t('slideshow.waiting');
      waiting.hidden = false;
      stage.classList.add('empty');
      return;
    }
    waiting.hidden = true;
    stage.classList.remove('empty');
    const p = fresh.shift();
    if (p) index = pictures.findIndex((x) => x.id === p.id);
    else index = (index + 1) % pictures.length;
    show(pictures[Math.max(0, index)]);
    if (!paused) timer = setTimeout(next, INTERVAL);
  }

  /** @param {Picture} p */
  function arrived(p) {
    if (!visible(p) || pictures.some((x) => x.id === p.id)) return;
    pictures.unshift(p);
    index++;
    fresh.push(p);
    // Jump in at once, but let the current photo be seen for a moment.
    const wait = Math.max(0, 1500 - (Date.now() - shownAt));
    clearTimeout(timer);
    timer = setTimeout(next, wait);
  }

  async function load() {
    const q = new URLSearchParams({ sessionId: id, limit: '300' });
    /** @type {Picture[]} */
    const list = await api(`/pictures/session?${q}`, { token: a?.token });
    pictures = list.filter(visible);
  }

  (async () => {
    try {
      session = await getSession(id);
      if (gone) return;
      showCode(session);
    } catch (e) {
      waiting.textContent = /** @type {Error} */ (e).message;
      return;
    }
    title.textContent = eventName(session);
    document.title = `${eventName(session)} · ${t('slideshow.title')}`;
    try { await load(); } catch { pictures = []; }
    if (gone) return;
    next();
    cleanups.push(live(id, a ? { token: a.token } : {}, {
      created: arrived,
      updated: (p) => arrived(p),
      deleted: (d) => {
        const i = pictures.findIndex((x) => x.id === d.id);
        if (i >= 0) { pictures.splice(i, 1); if (i <= index) index--; }
      },
      session: (s) => { const was = hiddenByReveal(); session = { ...session, ...s }; if (was && !hiddenByReveal()) load().then(next); },
      resync: async () => {
        const before = new Set(pictures.map((p) => p.id));
        const old = pictures;
        try { await load(); } catch { return; }
        const added = pictures.filter((p) => !before.has(p.id));
        pictures = old.filter((p) => pictures.some((x) => x.id === p.id));
        added.reverse().forEach(arrived);
        if (!old.length && pictures.length) next();
      },
    }));
  })();

  /** @param {KeyboardEvent} e */
  const onKey = (e) => {
    if (e.key === 'f' || e.key === 'F') toggleFullscreen();
    else if (e.key === ' ') { e.preventDefault(); paused = !paused; if (!paused) next(); else clearTimeout(timer); }
    else if (e.key === 'ArrowRight') next();
    else if (e.key === 'ArrowLeft') { index = (index - 2 + pictures.length) % Math.max(1, pictures.length); next(); }
  };
  document.addEventListener('keydown', onKey);

  // Keep the screen on, and the cursor out of the picture.
  /** @type {any} */
  let lock = null;
  const wake = () => { if (document.visibilityState === 'visible') /** @type {any} */ (navigator).wakeLock?.request('screen').then((/** @type {any} */ l) => { lock = l; }).catch(() => {}); };
  wake();
  document.addEventListener('visibilitychange', wake);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let idle;
  const onMove = () => { stage.classList.remove('idle'); clearTimeout(idle); idle = setTimeout(() => stage.classList.add('idle'), 2500); };
  stage.addEventListener('pointermove', onMove);
  onMove();

  return () => {
    gone = true;
    clearTimeout(timer);
    clearTimeout(idle);
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('visibilitychange', wake);
    lock?.release?.();
    cleanups.forEach((fn) => fn());
  };
}
