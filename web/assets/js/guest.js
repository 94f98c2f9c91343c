// `/s/{id}`: a guest joins with a name, gets missions, takes and uploads photos, sees the gallery.
import { api, apiUrl, getSession, eventName, isOpen, revealPending, ApiError } from './api.js';
import { openCamera } from './camera.js';
import { h, icon, replace, sizeOf, toast } from './dom.js';
import { field, validateAll, busy } from './forms.js';
import { Gallery } from './gallery.js';
import { applyAccent, coverImage, coverOf, welcomeOf } from './identity.js';
import { t, missionText } from './i18n.js';
import { live } from './live.js';
import { Uploader, jobError } from './upload.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {{id: string, name: string, uploads?: number}} Me `uploads`: photos sent so far (the film roll) */

/** @type {Map<string, Uploader>} kept across re-renders so uploads in flight are not started twice */
const uploaders = new Map();

/** @param {string} sessionId @returns {Me | null} */
function stored(sessionId) {
  try { return JSON.parse(localStorage.getItem(`pp.guest.${sessionId}`) || 'null'); } catch { return null; }
}

/** "in 7 h 12 min" / "in 4 min" until an ISO time. @param {string} iso */
function untilText(iso) {
  const min = Math.max(1, Math.ceil((Date.parse(iso) - Date.now()) / 60_000));
  const when = new Date(iso).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  return min >= 60 ? `${when} (${t('time.hoursMinutes', { h: Math.floor(min / 60), m: min % 60 })})` : `${when} (${t('time.minutes', { n: min })})`;
}

/** The host's welcome text; a long one folds to a few lines with "Read more". @param {Session} session */
function welcomeNote(session) {
  const text = welcomeOf(session);
  if (!text) return null;
  const note = h('p.welcome-text', null, text);
  if (text.length < 140 && !text.includes('\n')) return note;
  note.classList.add('folded');
  const more = h('button.link.small', {
    type: 'button', 'aria-expanded': 'false',
    onclick: () => {
      const folded = note.classList.toggle('folded');
      more.setAttribute('aria-expanded', String(!folded));
      more.textContent = folded ? t('guest.welcomeMore') : t('guest.welcomeLess');
    },
  }, t('guest.welcomeMore'));
  return h('div.welcome', null, note, more);
}

/** @param {HTMLElement} main @param {string} sessionId */
export function guest(main, sessionId) {
  /** @type {(() => void)[]} */
  const cleanups = [];
  let gone = false;
  main.append(h('p.muted', null, t('gallery.loading')));

  (async () => {
    let session;
    try {
      session = await getSession(sessionId);
    } catch (e) {
      if (gone) return;
      const err = /** @type {ApiError} */ (e);
      replace(main, h('h1', null, t('guest.notFoundTitle')),
        h('p', null, err.status === 404 || err.status === 400 ? t('guest.notFound') : err.message),
        h('a.btn', { href: '/' }, t('guest.home')));
      return;
    }
    if (gone) return;
    document.title = `${eventName(session)} · PartyPic`;
    applyAccent(session);
    let me = stored(sessionId);
    if (me) {
      try {
        const g = await api('/sessions/loginSessionUser', { body: { userId: me.id, sessionId } });
        me = { id: g.id, name: g.user_name, uploads: g.uploads };
        localStorage.setItem(`pp.guest.${sessionId}`, JSON.stringify(me));
      } catch (e) {
        // Unknown or foreign guest id: ask again. Offline: carry on with what we know.
        if (e instanceof ApiError && e.status !== 0 && e.status < 500) me = null;
      }
    }
    if (gone) return;
    if (me) run(session, me);
    else prompt(session);
  })();

  /** @param {Session} session */
  function prompt(session) {
    const name = field(t('guest.nameLabel'), { name: 'name', autocomplete: 'given-name', maxlength: 50, required: true, autofocus: true },
      (v) => (!v.trim() ? t('guest.nameRequired') : v.trim().length > 50 ? t('auth.nameTooLong') : ''));
    const pin = session.protected ? field(t('guest.pinLabel'), { name: 'pin', autocomplete: 'off', maxlength: 64, inputmode: session.settings?.pin_numeric ? 'numeric' : undefined }) : null;
    const error = h('p.form-error', { role: 'alert' });
    const submit = /** @type {HTMLButtonElement} */ (h('button.btn.primary.big', { type: 'submit' }, t('guest.join')));
    const cover = coverOf(session);
    replace(main, h('section.card.join', null,
      cover ? coverImage('img.join-cover', cover, t('identity.coverAlt')) : null,
      h('p.eyebrow', null, t('guest.invited')),
      h('h1', null, eventName(session)),
      welcomeNote(session),
      session.settings?.description ? h('p', null, String(session.settings.description)) : null,
      h('form', {
        novalidate: true,
        onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          error.textContent = '';
          if (!validateAll([name])) return;
          busy(submit, true);
          try {
            const g = await api('/sessions/registerSessionUser', { body: { username: name.input.value.trim(), sessionId, pin: pin?.input.value.trim() } });
            const me = { id: g.id, name: g.user_name, uploads: g.uploads };
            localStorage.setItem(`pp.guest.${sessionId}`, JSON.stringify(me));
            run(session, me);
          } catch (err) {
            // Once, where it belongs: a refused name at the name field, anything else above the button.
            const e2 = /** @type {ApiError} */ (err);
            if (e2.code === 'request.invalid_field' || e2.code === 'request.missing_field') {
              name.setError(e2.message);
              name.input.focus();
            } else if (pin && e2.code?.startsWith('join.pin_')) {
              pin.setError(e2.message);
              pin.input.focus();
            } else {
              error.textContent = e2.message;
            }
            busy(submit, false);
          }
        },
      }, name.wrap, h('p.muted.small', null, t('guest.nameHint')), pin?.wrap, error, submit)));
    name.input.focus();
  }

  /** @param {Session} session @param {Me} me */
  function run(session, me) {
    const key = `${sessionId}/${me.id}`;
    let uploader = uploaders.get(key);
    if (!uploader) {
      uploader = new Uploader(sessionId, me);
      uploaders.set(key, uploader);
      uploader.restore();
    }
    const up = uploader;
    // The film roll: photos this guest sent, counted on from what the server said at join.
    let shotsTaken = me.uploads ?? 0;
    const missionMap = () => new Map(session.missions.data.map((m) => [String(m.id), missionText(m.description)]));
    const gallery = new Gallery({
      sessionId, userId: me.id, missions: missionMap,
      canDelete: (p) => session.settings?.guest_delete !== false && !!p.user_id && p.user_id === me.id,
      empty: () => t('guest.galleryEmpty'),
      reactions: () => session.settings?.reactions !== false, comments: () => session.settings?.comments !== false,
      downloads: () => String(session.settings?.guest_downloads || 'photos'),
    });
    cleanups.push(() => gallery.destroy());

    // Mission: random, re-rollable, kept across reloads of this tab.
    const missionLine = h('p.mission-text', { 'aria-live': 'polite' });
    const missionCard = h('section.card.mission', null,
      h('p.eyebrow', null, t('guest.mission')), missionLine,
      h('button.btn.small', { type: 'button', onclick: () => roll() }, icon('dice'), t('guest.reroll')));
    let missionId = sessionStorage.getItem(`pp.mission.${sessionId}`);
    function roll() {
      const list = session.missions.data;
      if (!list.length) { missionCard.hidden = true; missionId = null; return; }
      missionCard.hidden = false;
      const others = list.filter((m) => String(m.id) !== missionId);
      const m = (others.length ? others : list)[Math.floor(Math.random() * (others.length || list.length))];
      missionId = String(m.id);
      sessionStorage.setItem(`pp.mission.${sessionId}`, missionId);
      missionLine.textContent = missionText(m.description);
    }
    const current = session.missions.data.find((m) => String(m.id) === missionId);
    if (current) missionLine.textContent = missionText(current.description);
    else roll();

    // Capture: in-app camera, the phone's camera app, or photos from the phone's gallery.
    /** @param {FileList | null} files */
    const addFiles = (files) => {
      for (const f of files || []) up.add(f, f.name, missionId);
    };
    const pick = /** @type {HTMLInputElement} */ (h('input.visually-hidden', { id: 'pick', type: 'file', accept: 'image/*,video/*', multiple: true, onchange: () => { addFiles(pick.files); pick.value = ''; } }));
    const capture = /** @type {HTMLInputElement} */ (h('input.visually-hidden', { id: 'capture', type: 'file', accept: 'image/*,video/*', capture: 'environment', onchange: () => { addFiles(capture.files); capture.value = ''; } }));
    const hasCamera = !!navigator.mediaDevices?.getUserMedia;
    const notice = h('div');
    const actions = h('section.capture', null,
      h('button.btn.primary.big', {
        type: 'button', id: 'open-camera',
        onclick: () => (hasCamera ? openCamera({ onPhoto: (b) => up.add(b, `partypic-${Date.now()}.jpg`, missionId, true) }) : capture.click()),
      }, icon('camera'), t('guest.takePhoto')),
      h('div.row.wrap.center', null,
        h('label.btn', { for: 'pick' }, icon('images'), t('guest.choose')), pick,
        hasCamera ? h('label.btn', { for: 'capture' }, t('guest.cameraApp')) : null, capture));

    // The queue: a count the guest always sees, each photo's state, and why one was not sent.
    const summary = h('p.upload-summary', { role: 'status', 'aria-live': 'polite' });
    const storageNote = h('p.notice', { role: 'alert', hidden: true });
    const queue = h('ul.uploads', { 'aria-label': t('upload.title') });
    const drawQueue = () => {
      const { waiting, failed } = up.counts();
      replace(summary,
        waiting ? h('span', null, t('upload.waitingN', { n: waiting })) : null,
        waiting && failed ? ' · ' : null,
        failed ? h('span.failed', null, t('upload.failedN', { n: failed })) : null,
        waiting && !navigator.onLine ? h('span.block', null, t('upload.offlineNote')) : null);
      summary.hidden = !waiting && !failed;
      replace(queue, [...up.jobs.values()].map((j) => {
        const pct = Math.round(j.progress * 100);
        return h('li', { class: j.state, 'data-final': j.final ? '' : undefined },
          h('span.name', null, j.filename, ' · ', sizeOf(j.blob.size)),
          h('progress', { max: 100, value: j.state === 'uploading' ? pct : j.state === 'failed' ? 0 : undefined, 'aria-label': t('upload.progress') }),
          h('span.state', null, j.state === 'preparing' ? t('upload.preparing')
            : j.state === 'uploading' ? `${pct} %`
            : j.state === 'failed' ? jobError(j)
            : !navigator.onLine ? `${t('upload.waiting')} (${t('upload.offline')})`
            : j.error ? `${t('upload.waiting')} (${jobError(j)})` : t('upload.waiting')),
          // A refusal for good (not an image, limit reached, event over) is explained, not retried.
          j.state === 'failed' && !j.final ? h('button.btn.small', { type: 'button', onclick: () => up.retry(j.id) }, t('action.retry')) : null,
          j.state === 'queued' || j.state === 'failed'
            ? h('button.btn.small.ghost', { type: 'button', 'aria-label': j.final ? t('action.dismiss') : t('upload.remove'), title: j.final ? t('action.dismiss') : t('upload.remove'), onclick: () => up.remove(j.id) }, '✕')
            : null);
      }));
    };
    // "3 photos uploaded": one running toast for a batch, not one per photo.
    const batch = { n: 0, pending: 0, timer: /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined) };
    /** @param {Event} e */
    const onUploaded = (e) => {
      const p = /** @type {CustomEvent} */ (e).detail;
      if (p && p.id) { gallery.insert(p, true); gallery.changed(); }
      if (p?.user_id === me.id) { shotsTaken++; showRules(); }
      batch.n++;
      if (p?.status === 'pending') batch.pending++;
      clearTimeout(batch.timer);
      batch.timer = setTimeout(() => { batch.n = 0; batch.pending = 0; }, 4500);
      toast(batch.pending ? t('upload.donePendingN', { n: batch.n }) : t('upload.doneN', { n: batch.n }), 'info', 'uploaded');
    };
    /** @param {Event} e */
    const onDuplicate = (e) => {
      const p = /** @type {CustomEvent} */ (e).detail;
      toast(t('upload.duplicate'), 'info', 'duplicate');
      if (p && p.id) gallery.reveal(p);
    };
    /** @param {Event} e */
    const onStorage = (e) => {
      const err = /** @type {CustomEvent} */ (e).detail;
      storageNote.textContent = err && err.name === 'QuotaExceededError' ? t('upload.storageFull') : t('upload.storageFailed');
      storageNote.hidden = false;
    };
    up.addEventListener('change', drawQueue);
    up.addEventListener('uploaded', onUploaded);
    up.addEventListener('duplicate', onDuplicate);
    up.addEventListener('storage', onStorage);
    addEventListener('online', drawQueue);
    addEventListener('offline', drawQueue);
    cleanups.push(() => {
      up.removeEventListener('change', drawQueue);
      up.removeEventListener('uploaded', onUploaded);
      up.removeEventListener('duplicate', onDuplicate);
      up.removeEventListener('storage', onStorage);
      removeEventListener('online', drawQueue);
      removeEventListener('offline', drawQueue);
      clearTimeout(batch.timer);
    });
    drawQueue();

    const showRules = () => {
      const st = session.settings || {};
      const notes = [];
      if (!isOpen(session)) notes.push(h('p.notice', null, t('guest.closed')));
      if (revealPending(session)) {
        notes.push(h('p.notice', null, st.reveal_at ? t('guest.revealAt', { time: untilText(String(st.reveal_at)) }) : t('guest.revealLater')));
      }
      if (st.require_approval) notes.push(h('p.muted.small', null, t('guest.approvalNote')));
      const limit = Number(st.upload_limit_per_guest) || 0;
      const left = Math.max(0, limit - shotsTaken);
      if (limit) notes.push(h(left ? 'p.film-roll' : 'p.notice.film-roll', { 'data-left': String(left) }, left ? t('guest.shotsLeft', { n: left, of: limit }) : t('guest.rollFull', { n: limit })));
      if (st.guest_downloads === 'all') {
        notes.push(h('p', null, h('a.btn.small', { id: 'guest-zip', href: apiUrl(`/sessions/${sessionId}/guest-download?userId=${encodeURIComponent(me.id)}`), download: '' }, icon('images'), t('guest.downloadAll'))));
      }
      replace(notice, notes);
      actions.hidden = !isOpen(session) || (limit > 0 && left === 0);
      missionCard.hidden = !isOpen(session) || !session.missions.data.length;
    };
    showRules();
    /** The film roll as the server counts it (a limit was set, photos were deleted elsewhere). */
    const refreshRoll = () => api('/sessions/loginSessionUser', { body: { userId: me.id, sessionId } })
      .then((g) => { if (typeof g.uploads === 'number' && !gone) { shotsTaken = g.uploads; showRules(); } })
      .catch(() => {});
    // The countdown to a timed reveal; at the time the server tells every live view, and this
    // fetches the event itself too, should the live connection be down.
    const revealTicker = setInterval(() => {
      if (!revealPending(session) || !session.settings?.reveal_at) return;
      showRules();
      if (Date.parse(String(session.settings.reveal_at)) + 3000 < Date.now()) {
        getSession(sessionId).then((s) => { if (!gone) sessionChanged(s); }).catch(() => {});
      }
    }, 15_000);
    cleanups.push(() => clearInterval(revealTicker));
    const online = h('span.muted.small', { role: 'status' });
    // The event as the host dressed it (compact): cover thumbnail, name; the welcome text below.
    const head = h('div.event-title');
    const welcome = h('div');
    const drawHead = () => {
      const cover = coverOf(session);
      replace(head, cover ? coverImage('img.head-cover', cover, t('identity.coverAlt')) : null, h('h1', null, eventName(session)));
      replace(welcome, welcomeNote(session));
      applyAccent(session);
    };
    drawHead();

    // The guestbook: a button until opened, then its module (loaded on demand) in its place.
    /** @type {import('./guestbook.js').Guestbook | null} */
    let book = null;
    const bookSlot = h('div.guestbook-slot');
    const openBook = async () => {
      if (book) return;
      try {
        const { Guestbook } = await import('./guestbook.js');
        if (gone || book) return;
        book = new Guestbook({
          sessionId, userId: me.id,
          open: () => session.settings?.guestbook !== false,
          photos: () => gallery.pictures.filter((p) => p.user_id === me.id),
        });
        replace(bookSlot, book.el);
        book.el.scrollIntoView({ block: 'start', behavior: 'smooth' });
      } catch (e) {
        toast(/** @type {Error} */ (e).message, 'error');
      }
    };
    replace(bookSlot, h('button.btn', { type: 'button', id: 'open-guestbook', onclick: openBook }, t('guest.guestbook')));

    replace(main,
      h('div.page-head', null,
        h('div.guest-head', null, head,
          h('p.muted', null, t('guest.hello', { name: me.name }), ' · ',
            h('button.link', {
              type: 'button',
              onclick: () => {
                localStorage.removeItem(`pp.guest.${sessionId}`);
                cleanups.splice(0).forEach((fn) => fn());
                prompt(session);
              },
            }, t('guest.notYou')))),
        online),
      welcome, notice, missionCard, actions, storageNote, summary, queue, bookSlot,
      h('h2', null, t('gallery.title')), gallery.el);
    gallery.more();

    /** @param {Partial<Session>} s */
    const sessionChanged = (s) => {
      const wasHidden = revealPending(session);
      session = { ...session, ...s };
      showRules();
      drawHead();
      book?.refresh();
      const nowHidden = revealPending(session);
      if (wasHidden !== nowHidden) gallery.reset();
      if (session.settings?.upload_limit_per_guest) refreshRoll();
    };
    cleanups.push(live(sessionId, { userId: me.id }, {
      created: (p) => { if (gallery.insert(p, true)) gallery.changed(); },
      updated: (p) => gallery.update(p),
      reactions: (d) => gallery.reacted(d),
      comment: (k, d) => gallery.comment(k, d),
      guestbook: (k, d) => book?.live(k, d),
      deleted: (d) => {
        // A deleted photo of one's own frees a shot on the film roll.
        if (gallery.pictures.some((p) => p.id === d.id && p.user_id === me.id)) { shotsTaken = Math.max(0, shotsTaken - 1); showRules(); }
        gallery.remove(d.id);
      },
      guests: (d) => { online.textContent = t('guest.online', { n: d.online }); },
      session: sessionChanged,
      // Events may have been missed (reconnect, polling): the rules may have changed too.
      resync: () => {
        gallery.resync();
        getSession(sessionId).then((s) => { if (!gone) sessionChanged(s); }).catch(() => {});
      },
    }));

    // Heartbeat while the page is visible: the host sees who is here.
    const beat = () => {
      if (document.visibilityState === 'visible') api('/sessions/heartbeat', { body: { userId: me.id } }).catch(() => {});
    };
    beat();
    const timer = setInterval(beat, 30_000);
    document.addEventListener('visibilitychange', beat);
    cleanups.push(() => { clearInterval(timer); document.removeEventListener('visibilitychange', beat); });
  }

  return () => { gone = true; applyAccent(null); cleanups.splice(0).forEach((fn) => fn()); };
}

