// `/slideshow/{id}`: for a TV or projector. Before the first photo, a welcome screen (event name,
// welcome text, cover, a big join QR code and the join code). Then the newest photos first and the
// loop; a photo that arrives is shown next, at once. Each photo sits on a blurred, cover-sized
// copy of itself instead of black bars; the QR code and the code stay in a corner.
// `?mode=loved` loops the most-loved photos (most reactions first) instead; arrivals still jump in.
// Approved guestbook messages are interleaved: a message card after every few photos, rotating
// through the messages (a new one comes next); a message with a photo shows both.
import { api, apiUrl, getSession, eventName, joinUrl, revealPending } from './api.js';
import { h, replace } from './dom.js';
import { applyAccent, coverOf, welcomeOf } from './identity.js';
import { t, missionText } from './i18n.js';
import { live } from './live.js';

const INTERVAL = 7000;
/** Clips play muted and at most this long before the show goes on. */
const CLIP_MAX = 20_000;
/** A guestbook message after this many photos. */
const PHOTOS_PER_MESSAGE = 4;
/** A message stays longer than a photo: it is read. */
const MESSAGE_INTERVAL = 10_000;

/** @typedef {import('./api.js').Picture} Picture */
/** @typedef {import('./api-types').components['schemas']['GuestbookMessageView']} Message */

/** A clip whose MP4 is ready to play. @param {Picture} p */
const isClip = (p) => p.media_type === 'video' && !!p.video_url;

/** The slideshow's stylesheet, beside this module's folder (so under the same versioned path). */
function loadStyles() {
  const href = new URL('../slideshow.css', import.meta.url).href;
  if (![...document.querySelectorAll('link[rel=stylesheet]')].some((l) => /** @type {HTMLLinkElement} */ (l).href === href)) {
    document.head.append(h('link', { rel: 'stylesheet', href }));
  }
}

/** @param {HTMLElement} main @param {string} id */
export function slideshow(main, id) {
  loadStyles();
  document.body.className = 'slideshow-mode';
  /** @type {(() => void)[]} */
  const cleanups = [];
  /** @type {Picture[]} newest first */
  let pictures = [];
  /** @type {Picture[]} arrivals still to show, before the loop goes on */
  const fresh = [];
  // The loop's position in `pictures`; arrivals shift it, so the loop goes on where it was.
  let index = -1;
  let paused = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let shownAt = 0;
  let gone = false;
  /** @type {import('./api.js').Session | null} */
  let session = null;
  /** @type {Message[]} approved guestbook messages, oldest first */
  let messages = [];
  /** @type {Message[]} arrivals still to show */
  const freshMessages = [];
  let messageIndex = -1;
  let photosSinceMessage = 0;

  /** One layer: the photo whole, on a blurred copy of itself filling the screen. */
  const layer = () => h('div.slide', null,
    h('img.slide-fill', { alt: '', 'aria-hidden': 'true' }), h('img.slide-photo', { alt: '' }),
    h('video.slide-photo', { muted: true, playsInline: true, hidden: true, 'aria-hidden': 'true' }));
  const layers = [layer(), layer()];
  let front = 0;
  const caption = h('div.slide-caption', { 'aria-live': 'polite' });
  // The guestbook card: text as text (h never parses markup), the author, the photo if any.
  const messagePhoto = /** @type {HTMLImageElement} */ (h('img.message-photo', { alt: '', hidden: true }));
  const messageText = h('p.message-text');
  const messageAuthor = h('p.message-author');
  const messageCard = h('section.slide-message', { 'aria-live': 'polite' },
    messagePhoto, h('div.message-body', null, h('p.message-eyebrow', null, t('guest.guestbook')), messageText, messageAuthor));
  const title = h('h1.slide-title');

  // The welcome screen: shown until the first photo (or until the host reveals the gallery).
  const cover = /** @type {HTMLImageElement} */ (h('img.welcome-cover', { alt: '', hidden: true, onerror: () => { cover.hidden = true; } }));
  const welcomeName = h('h1.welcome-name');
  const welcomeNote = h('p.welcome-note', { hidden: true });
  const waitLine = h('p.welcome-wait');
  const welcome = h('section.slide-welcome', { 'aria-live': 'polite' },
    cover, h('p.welcome-eyebrow', null, t('slideshow.welcome')), welcomeName, welcomeNote, waitLine);

  const qrImg = /** @type {HTMLImageElement} */ (h('img.qr-code', { src: apiUrl(`/sessions/${id}/qr.svg`), alt: t('share.qrAlt') }));
  const link = h('small', null, joinUrl(id).replace(/^https?:\/\//, ''));
  const codeLine = h('strong.join-code', { hidden: true });
  const qr = h('aside.slide-qr', null, qrImg, codeLine, h('span.scan', null, t('slideshow.scan')), link);
  /** The join code under the QR code, and the short link (a simpler QR code) once the event is known. @param {import('./api.js').Session} s */
  const showCode = (s) => {
    if (!s.join_code || !codeLine.hidden) return;
    codeLine.hidden = false;
    codeLine.textContent = s.join_code;
    qrImg.src = apiUrl(`/sessions/${id}/qr.svg?short=true`);
    link.textContent = `${location.host}/j/${s.join_code.replace('-', '')}`;
  };
  const loved = new URLSearchParams(location.search).get('mode') === 'loved';
  const fs = h('button.btn.small.fs', { type: 'button', onclick: () => toggleFullscreen() }, t('slideshow.fullscreen'));
  const stage = h('div.stage.empty', { tabindex: 0, 'aria-label': t('slideshow.title') }, ...layers, messageCard, welcome, title, caption, qr, fs,
    loved ? h('span.slide-mode', null, t('gallery.loved')) : null);
  main.append(stage);

  // A public screen shows what guests see: approved photos as their display copies, each once
  // it is made (`picture.updated` brings it), never a placeholder or a host's original.
  const visible = (/** @type {Picture} */ p) => p.status !== 'pending' && (p.variants ?? 'ready') === 'ready';
  const hiddenByReveal = () => !!session && revealPending(session);

  /** Name, welcome text, cover and colour: again whenever the host changes them. */
  function drawIdentity() {
    if (!session) return;
    const name = eventName(session);
    title.textContent = name;
    welcomeName.textContent = name;
    document.title = `${name} · ${t('slideshow.title')}`;
    const note = welcomeOf(session);
    welcomeNote.textContent = note;
    welcomeNote.hidden = !note;
    const url = coverOf(session);
    if (!url) cover.hidden = true;
    else if (cover.getAttribute('src') !== url) { cover.hidden = false; cover.src = url; }
    applyAccent(session);
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else stage.requestFullscreen?.().catch(() => {});
  }

  /** @param {Message} m */
  function showMessage(m) {
    messageText.textContent = m.text;
    messageAuthor.textContent = `— ${m.author_name}`;
    const photo = m.photo?.url;
    messagePhoto.hidden = !photo;
    if (photo) messagePhoto.src = photo;
    else messagePhoto.removeAttribute('src');
    layers.forEach((l) => l.classList.remove('on'));
    for (const v of stage.querySelectorAll('video')) /** @type {HTMLVideoElement} */ (v).pause();
    caption.textContent = '';
    stage.classList.add('messaging');
    stage.dataset.message = m.id;
    delete stage.dataset.current;
    shownAt = Date.now();
  }

  /** The message to show now, if one is due: a new one first, else the next in turn. */
  function dueMessage() {
    let m;
    while ((m = freshMessages.shift()) && !messages.includes(m)) { /* deleted meanwhile */ }
    if (m) return m;
    if (!messages.length || (pictures.length && photosSinceMessage < PHOTOS_PER_MESSAGE)) return null;
    messageIndex = (messageIndex + 1) % messages.length;
    return messages[messageIndex];
  }

  /** @param {Picture} p */
  function show(p) {
    stage.classList.remove('messaging');
    delete stage.dataset.message;
    const back = layers[1 - front];
    const video = /** @type {HTMLVideoElement} */ (back.querySelector('video'));
    const clip = isClip(p);
    video.hidden = !clip;
    back.querySelector('img.slide-photo')?.toggleAttribute('hidden', clip);
    if (clip) {
      video.muted = true;
      video.src = p.video_url || '';
      video.play().catch(() => { /* autoplay refused: the poster stays */ });
    } else {
      video.removeAttribute('src');
    }
    const img = new Image();
    img.onload = img.onerror = () => {
      for (const el of back.querySelectorAll('img')) el.setAttribute('src', img.src);
      back.classList.add('on');
      layers[front].classList.remove('on');
      const old = /** @type {HTMLVideoElement} */ (layers[front].querySelector('video'));
      old.pause();
      front = 1 - front;
    };
    img.src = clip ? p.thumbUrl : p.url;
    stage.dataset.current = p.id;
    const mission = p.mission_id && session ? session.missions.data.find((m) => String(m.id) === String(p.mission_id)) : null;
    replace(caption, h('strong', null, p.u_name), mission ? h('span', null, ' · ', missionText(mission.description)) : null);
    shownAt = Date.now();
  }

  function next() {
    clearTimeout(timer);
    if (hiddenByReveal() || (!pictures.length && !messages.length)) {
      layers.forEach((l) => l.classList.remove('on'));
      stage.classList.remove('messaging');
      caption.textContent = '';
      waitLine.textContent = hiddenByReveal() ? t('slideshow.revealLater') : t('slideshow.waiting');
      stage.classList.add('empty');
      delete stage.dataset.current;
      return;
    }
    stage.classList.remove('empty');
    const m = fresh.length ? null : dueMessage();
    if (m) {
      photosSinceMessage = 0;
      showMessage(m);
      if (!paused) timer = setTimeout(next, MESSAGE_INTERVAL);
      return;
    }
    if (!pictures.length) return;
    photosSinceMessage++;
    // Arrivals first (each once), then the loop from where it was: newest to oldest, again.
    let p;
    while ((p = fresh.shift()) && !pictures.includes(p)) { /* deleted meanwhile */ }
    if (!p) {
      index = (index + 1) % pictures.length;
      p = pictures[index];
    }
    show(p);
    if (!paused) timer = setTimeout(next, isClip(p) ? Math.min(CLIP_MAX, Math.max(3000, (p.duration_secs || 0) * 1000)) : INTERVAL);
  }

  /** @param {Picture} p */
  function arrived(p) {
    if (!visible(p) || pictures.some((x) => x.id === p.id)) return;
    pictures.unshift(p);
    index++;
    fresh.push(p);
    // Jump in at once, but let the current photo be seen for a moment.
    const wait = stage.classList.contains('empty') ? 0 : Math.max(0, 1500 - (Date.now() - shownAt));
    clearTimeout(timer);
    timer = setTimeout(next, wait);
  }

  /** A guestbook message written or approved. @param {Message} m */
  function messageArrived(m) {
    if (m.status !== 'approved') return;
    const i = messages.findIndex((x) => x.id === m.id);
    if (i >= 0) { messages[i] = m; return; }
    messages.push(m);
    freshMessages.push(m);
    const wait = stage.classList.contains('empty') ? 0 : Math.max(0, 1500 - (Date.now() - shownAt));
    clearTimeout(timer);
    timer = setTimeout(next, wait);
  }

  /** @param {string} messageId */
  function messageGone(messageId) {
    const i = messages.findIndex((x) => x.id === messageId);
    if (i < 0) return;
    messages.splice(i, 1);
    if (i <= messageIndex) messageIndex--;
    if (stage.dataset.message === messageId) next();
  }

  async function loadMessages() {
    /** @type {Message[]} */
    const list = await api(`/sessions/${id}/guestbook`);
    messages = list.filter((m) => m.status === 'approved');
    messageIndex = -1;
  }

  async function load() {
    const q = new URLSearchParams({ sessionId: id, limit: loved ? '100' : '300' });
    if (loved) q.set('sort', 'loved');
    /** @type {Picture[]} */
    const list = await api(`/pictures/session?${q}`);
    pictures = list.filter(visible);
    index = -1;
  }

  (async () => {
    try {
      session = await getSession(id);
      if (gone) return;
      showCode(session);
    } catch (e) {
      welcomeName.textContent = '';
      waitLine.textContent = /** @type {Error} */ (e).message;
      return;
    }
    drawIdentity();
    try { await load(); } catch { pictures = []; }
    try { await loadMessages(); } catch { messages = []; }
    if (gone) return;
    next();
    cleanups.push(live(id, {}, {
      created: arrived,
      updated: (p) => arrived(p),
      deleted: (d) => {
        const i = pictures.findIndex((x) => x.id === d.id);
        if (i < 0) return;
        pictures.splice(i, 1);
        if (i <= index) index--;
        if (!pictures.length && !messages.length) next();
      },
      guestbook: (k, d) => (k === 'added' ? messageArrived(d) : messageGone(d.id)),
      session: (s) => {
        const was = hiddenByReveal();
        session = { ...session, ...s };
        drawIdentity();
        if (was !== hiddenByReveal()) load().then(next).catch(() => {});
      },
      resync: async () => {
        const before = new Set(pictures.map((p) => p.id));
        const old = pictures;
        try { await load(); } catch { return; }
        const added = pictures.filter((p) => !before.has(p.id));
        pictures = old.filter((p) => pictures.some((x) => x.id === p.id));
        index = Math.min(index, pictures.length - 1);
        added.reverse().forEach(arrived);
        const known = new Set(messages.map((m) => m.id));
        try {
          await loadMessages();
          messages.filter((m) => !known.has(m.id)).forEach((m) => freshMessages.push(m));
        } catch { /* keep the messages we have */ }
        if (!old.length && pictures.length) next();
      },
    }));
  })();

  /** @param {KeyboardEvent} e */
  const onKey = (e) => {
    if (e.key === 'f' || e.key === 'F') toggleFullscreen();
    else if (e.key === ' ') { e.preventDefault(); paused = !paused; if (!paused) next(); else clearTimeout(timer); }
    else if (e.key === 'ArrowRight') next();
    else if (e.key === 'ArrowLeft') { index = (index - 2 + 2 * pictures.length) % Math.max(1, pictures.length); next(); }
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
    applyAccent(null);
    cleanups.forEach((fn) => fn());
  };
}
