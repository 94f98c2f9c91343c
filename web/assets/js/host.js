// `/host` (the host's events, create one) and `/host/{id}` (run one event: share, missions,
// photos with moderation, rules, download, end).
import { api, apiUrl, auth, logout, getSession, eventName, isOpen, joinUrl, ApiError } from './api.js';
import { cht, cohostsSection } from './cohosts.js';
import { ct } from './comments.js';
import { ask, h, replace, timeOf, toast, uid } from './dom.js';
import { field, validateAll, busy } from './forms.js';
import { Gallery } from './gallery.js';
import { ACCENT_PRESETS, accentOf, coverOf, inkOn, welcomeOf } from './identity.js';
import { t, exampleMissions, missionText } from './i18n.js';
import { live } from './live.js';
import { navigate } from './router.js';

/** @typedef {import('./api.js').Session} Session */
/** @typedef {import('./api-types').components['schemas']['InviteView'] & {code?: string | null}} Invite */

const MINE = 'pp.mine';

/** Event ids created on this device: the list when the server has no /sessions/mine. */
function localMine() {
  try { return /** @type {string[]} */ (JSON.parse(localStorage.getItem(MINE) || '[]')); } catch { return []; }
}

function requireAuth() {
  const a = auth();
  if (!a) {
    navigate('/', { replace: true });
    setTimeout(() => document.getElementById('host')?.scrollIntoView(), 0);
    return null;
  }
  return a;
}

/** Default end: tomorrow 04:00 local time, as a datetime-local value. */
function defaultEnd() {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  d.setHours(4, 0, 0, 0);
  return toLocalInput(d);
}

function yearAhead() {
  const d = new Date();
  d.setFullYear(d.getFullYear() + 1);
  return d;
}

/** @param {Date} d */
function toLocalInput(d) {
  const p = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** @param {HTMLElement} main */
export function hostHome(main) {
  const a = requireAuth();
  if (!a) return;
  document.title = `${t('host.title')} · PartyPic`;
  const hello = h('p.muted', null, a.email);
  const list = h('div.events', { 'aria-busy': 'true' }, h('p.muted', null, t('gallery.loading')));
  main.append(
    h('div.page-head', null,
      h('div', null, h('h1', null, t('host.title')), hello),
      h('button.btn.small', { type: 'button', onclick: () => { logout(); navigate('/'); } }, t('auth.logout'))),
    createCard(),
    h('section', null, h('h2', null, t('host.yourEvents')), list));

  api('/auth/me', { token: a.token })
    .then((me) => { hello.textContent = t('host.hello', { name: me.username || me.email }); })
    .catch((e) => { if (e instanceof ApiError && e.status === 401) { logout(); navigate('/'); } });

  loadMine(a.token).then((sessions) => {
    list.removeAttribute('aria-busy');
    if (!sessions.length) return replace(list, h('p.muted', null, t('host.noEvents')));
    replace(list, sessions.map((s) => {
      const open = isOpen(s);
      return h('a.event-card', { href: `/host/${s.id}` },
        h('strong', null, eventName(s), s.role === 'co_host' ? h('span.cohost-badge', null, cht('badge')) : null),
        h('span.muted', null, t(open ? 'host.endsAt' : 'host.endedOn', { time: timeOf(s.ends_at || s.settings?.ends_at || '') })),
        s.delete_after ? h('span.muted', null, t('host.deleteAfter', { time: timeOf(s.delete_after) })) : '',
        h('span.stats', null,
          s.picture_count !== undefined ? t('host.photos', { n: s.picture_count }) : '',
          s.pending_count ? ` ${t('host.waitingN', { n: s.pending_count })}` : '',
          s.guest_count !== undefined ? ` · ${t('host.guests', { n: s.guest_count })}` : ''),
        h('span.pill', { class: open ? 'live' : 'over' }, open ? t('host.running') : t('host.ended')));
    }));
  }).catch((e) => replace(list, h('p.form-error', null, e.message)));
}

/** @param {string} token @returns {Promise<Session[]>} */
async function loadMine(token) {
  try {
    return await api('/sessions/mine', { token });
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 405)) throw e;
    const all = await Promise.all(localMine().map((id) => getSession(id).catch(() => null)));
    return /** @type {Session[]} */ (all.filter(Boolean));
  }
}

function createCard() {
  const name = field(t('host.eventName'), { name: 'name', required: true, maxlength: 100, placeholder: t('host.eventNamePlaceholder') },
    (v) => (v.trim() ? '' : t('host.eventNameRequired')));
  const end = field(t('host.endsLabel'), { name: 'ends_at', type: 'datetime-local', required: true, value: defaultEnd(), min: toLocalInput(new Date()), max: toLocalInput(yearAhead()) },
    (v) => (!v ? t('host.endRequired') : new Date(v).getTime() <= Date.now() ? t('host.endPast')
      : new Date(v) > yearAhead() ? t('host.endTooLate') : ''));
  const error = h('p.form-error', { role: 'alert' });
  const submit = /** @type {HTMLButtonElement} */ (h('button.btn.primary', { type: 'submit' }, t('host.create')));
  return h('section.card', null,
    h('h2', null, t('host.newEvent')),
    h('form', {
      novalidate: true,
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        error.textContent = '';
        if (!validateAll([name, end])) return;
        const a = auth();
        if (!a) return navigate('/');
        busy(submit, true);
        try {
          const s = await api('/sessions/create', {
            token: a.token,
            body: { settings: { name: name.input.value.trim(), description: '', ends_at: new Date(end.input.value).toISOString() } },
          });
          const id = s.sessionId || s.id;
          localStorage.setItem(MINE, JSON.stringify([id, ...localMine()].slice(0, 50)));
          navigate(`/host/${id}`);
        } catch (err) {
          error.textContent = /** @type {Error} */ (err).message;
        } finally {
          busy(submit, false);
        }
      },
    }, name.wrap, end.wrap, error, submit));
}

/** @param {HTMLElement} main @param {string} id */
export function hostEvent(main, id) {
  const a = requireAuth();
  if (!a) return;
  const token = a.token;
  const me = a.sub;
  /** @type {(() => void)[]} */
  const cleanups = [];
  main.append(h('p.muted', null, t('gallery.loading')));

  let gone = false;
  getSession(id).then(async (session) => {
    if (gone) return;
    const role = session.user_id === a.sub ? 'owner' : await coHostOf(id, a);
    if (gone) return;
    if (!role) {
      replace(main, h('h1', null, eventName(session)), h('p', null, t('host.notYours')), h('a', { href: `/s/${id}` }, t('host.openGuest')));
      return;
    }
    build(session, role);
  }).catch((e) => { if (!gone) replace(main, h('p.form-error', null, e.message), h('a', { href: '/host' }, t('host.back'))); });

  /** @param {Session} session @param {'owner' | 'co_host'} role */
  function build(session, role) {
    document.title = `${eventName(session)} · PartyPic`;
    const title = h('h1', null, eventName(session));
    const state = h('p.muted');
    const online = h('span.pill.live', { role: 'status', 'aria-live': 'polite' }, t('host.onlineUnknown'));
    const count = h('span.pill');
    const missions = () => new Map(session.missions.data.map((m) => [String(m.id), missionText(m.description)]));
    // The viewer offers an approved photo as the event's cover, or takes the cover back.
    const coverAction = (/** @type {import('./api.js').Picture} */ p) => {
      if (p.status === 'pending') return null;
      const isCover = session.settings?.cover_picture_id === p.id;
      return h('button.btn.small', { type: 'button', 'data-cover': isCover ? 'remove' : 'use', onclick: () => setCover(isCover ? null : p.id) },
        isCover ? t('identity.removeCover') : t('identity.useCover'));
    };
    const gallery = new Gallery({ sessionId: id, token, host: true, canDelete: () => true, missions, empty: () => t('host.noPhotos'), actions: (p) => [coverAction(p)], reactions: () => session.settings?.reactions !== false, comments: () => session.settings?.comments !== false });
    cleanups.push(() => gallery.destroy());
    const queue = h('div.queue');
    const showState = () => {
      title.textContent = eventName(session);
      const end = session.ends_at || session.settings?.ends_at || '';
      state.textContent = isOpen(session) ? t('host.endsAt', { time: timeOf(end) }) : t('host.endedAt', { time: timeOf(end) });
      // Retention (RETENTION_DAYS): the host learns when the event goes, before it does.
      if (session.delete_after) state.textContent += ` · ${t('host.deleteAfter', { time: timeOf(session.delete_after) })}`;
    };
    showState();

    gallery.addEventListener('change', () => {
      const pending = gallery.pictures.filter((p) => p.status === 'pending');
      count.textContent = t('host.photos', { n: gallery.pictures.length - pending.length }) + (gallery.done ? '' : '+')
        + (pending.length ? ` ${t('host.waitingN', { n: pending.length })}` : '');
      replace(queue, pending.length ? [
        h('h3', null, t('moderation.queue', { n: pending.length })),
        h('ul.queue-list', null, pending.map((p) => h('li', null,
          h('img', { src: p.thumbUrl || p.url, alt: t('gallery.photoBy', { name: p.u_name, time: timeOf(p.created_at) }), loading: 'lazy' }),
          h('div.row', null,
            h('button.btn.small.primary', { type: 'button', onclick: () => gallery.approve(p) }, t('moderation.approve')),
            h('button.btn.small.danger', { type: 'button', onclick: () => gallery.delete(p) }, t('moderation.reject')))))),
      ] : []);
    });

    const identity = identityPanel(() => session, token, (s) => { session = s; gallery.refreshViewer(); }, (pid) => setCover(pid));
    /** @param {string | null} pictureId */
    async function setCover(pictureId) {
      try {
        const updated = await api(`/sessions/${id}/settings`, { token, body: { settings: { cover_picture_id: pictureId } } });
        session = updated.data || updated;
        toast(pictureId ? t('identity.coverSet') : t('identity.coverRemoved'));
      } catch (e) {
        toast(/** @type {Error} */ (e).message, 'error');
      }
      identity.draw();
      gallery.refreshViewer();
    }

    // The guestbook: moderation and its two switches, from its own module.
    /** @type {import('./guestbook.js').Guestbook | null} */
    let book = null;
    const bookPanel = h('section.panel');
    import('./guestbook.js').then(({ Guestbook }) => {
      if (gone) return;
      book = new Guestbook({
        sessionId: id, token,
        open: () => session.settings?.guestbook !== false,
        photos: () => gallery.pictures.filter((p) => p.status === 'approved'),
        settings: () => session.settings || {},
        patch: async (settings) => {
          try {
            const updated = await api(`/sessions/${id}/settings`, { token, body: { settings } });
            session = updated.data || updated;
          } catch (e) {
            toast(/** @type {Error} */ (e).message, 'error');
          }
        },
      });
      replace(bookPanel, book.el);
    }).catch((e) => toast(e.message, 'error'));

    /** @type {Record<string, HTMLElement>} */
    const panels = {
      photos: h('section.panel', null, queue, bulkBar(gallery, token, id), gallery.el),
      share: sharePanel(id, cohostsSection(id, token, me, role)),
      missions: missionsPanel(session, token, (s) => { session = s; }),
      guestbook: bookPanel,
      rules: rulesPanel(() => session, token, (s) => { session = s; showState(); }, identity.el),
      event: managePanel(() => session, token, (s) => { session = s; showState(); }, role),
    };
    const tabs = h('div.tabs', { role: 'tablist', 'aria-label': t('host.sections') });
    /** @param {string} name */
    const select = (name) => {
      for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== name;
      panels[name]?.querySelectorAll('textarea').forEach(fit);
      for (const b of tabs.querySelectorAll('button')) {
        b.setAttribute('aria-selected', String(b.dataset.tab === name));
        b.tabIndex = b.dataset.tab === name ? 0 : -1;
      }
      sessionStorage.setItem(`pp.tab.${id}`, name);
    };
    for (const [key, panel] of Object.entries(panels)) {
      panel.id = `panel-${key}`;
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', `tab-${key}`);
      tabs.append(h('button', {
        type: 'button', role: 'tab', id: `tab-${key}`, 'aria-controls': `panel-${key}`, 'data-tab': key, onclick: () => select(key),
      }, t(`host.tab.${key}`)));
    }
    // Arrow keys move between tabs, as in every tab list.
    tabs.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const keys = Object.keys(panels);
      const cur = keys.indexOf(/** @type {HTMLElement} */ (document.activeElement)?.dataset?.tab || '');
      if (cur < 0) return;
      const next = keys[(cur + (e.key === 'ArrowRight' ? 1 : -1) + keys.length) % keys.length];
      select(next);
      /** @type {HTMLElement | null} */ (tabs.querySelector(`[data-tab="${next}"]`))?.focus();
    });
    replace(main,
      h('a.back', { href: '/host' }, '← ', t('host.back')),
      h('div.page-head', null, h('div', null, title, state), h('div.row', null, online, count)),
      tabs, ...Object.values(panels));
    select(sessionStorage.getItem(`pp.tab.${id}`) || 'share');
    gallery.more();

    cleanups.push(live(id, { token }, {
      created: (p) => { if (gallery.insert(p, true)) gallery.changed(); },
      updated: (p) => gallery.update(p),
      reactions: (d) => gallery.reacted(d),
      comment: (k, d) => gallery.comment(k, d),
      guestbook: (k, d) => book?.live(k, d),
      deleted: (d) => gallery.remove(d.id),
      guests: (d) => { online.textContent = t('host.online', { n: d.online }); },
      session: (s) => { session = { ...session, ...s }; showState(); identity.draw(); book?.refresh(); },
      resync: () => gallery.resync(),
    }));
  }

  return () => { gone = true; cleanups.forEach((fn) => fn()); };
}

/**
 * `co_host` when the logged-in host co-hosts the event (one of its hosts), else null.
 * @param {string} id @param {{token: string, sub: string}} a @returns {Promise<'co_host' | null>}
 */
async function coHostOf(id, a) {
  try {
    /** @type {{host_id: string, role: string}[]} */
    const hosts = await api(`/sessions/${encodeURIComponent(id)}/cohosts`, { token: a.token });
    return hosts.some((host) => host.host_id === a.sub && host.role === 'co_host') ? 'co_host' : null;
  } catch {
    return null;
  }
}

/** Whether this page was opened on the host's own machine, where links name no other device. */
function onLoopback() {
  const host = location.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1';
}

/** @param {string} id @param {HTMLElement} cohosts the co-hosts' section */
function sharePanel(id, cohosts) {
  let url = joinUrl(id);
  const input = /** @type {HTMLInputElement} */ (h('input', { id: 'join-url', value: url, readonly: true, onfocus: (/** @type {Event} */ e) => /** @type {HTMLInputElement} */ (e.target).select() }));
  const copy = async () => {
    try { await navigator.clipboard.writeText(url); toast(t('share.copied')); } catch { input.select(); }
  };
  // Filled from the server's view of the invite: the LAN link (page on localhost), the join code.
  const local = h('div.notice.lan-warning', { hidden: true, role: 'status' });
  const code = h('div.join-code-box', { hidden: true });
  api(`/sessions/${encodeURIComponent(id)}/invite`).then((/** @type {Invite} */ invite) => {
    if (invite.public_url_set && invite.join_url !== url) {
      url = invite.join_url;
      input.value = url;
    } else if (onLoopback()) {
      local.hidden = false;
      const lan = invite.lan_join_url;
      replace(local, h('strong', null, t('venue.localTitle')),
        lan ? [h('p', null, t('venue.localLead')),
          h('p', null, h('a.lan-link', { href: lan, 'data-external': '' }, lan)),
          invite.lan_qr_url ? h('img.lan-qr', { src: invite.lan_qr_url, alt: t('venue.lanQrAlt'), width: 200, height: 200 }) : null]
          : h('p', null, t('venue.localNoLan')));
    }
    if (invite.code) {
      code.hidden = false;
      const base = new URL(invite.lan_join_url && onLoopback() ? invite.lan_join_url : url);
      replace(code, h('span.muted', null, t('venue.code')), h('strong.join-code', null, invite.code),
        h('p.muted', null, t('venue.codeLead', { host: base.host })));
    }
  }).catch(() => { /* the panel works without it */ });
  return h('section.panel', null,
    h('h2', null, t('share.title')),
    h('p', null, t('share.lead')),
    local,
    h('div.field', null, h('label', { for: 'join-url' }, t('share.link')),
      h('div.row', null, input, h('button.btn.small', { type: 'button', onclick: copy }, t('share.copy')),
        'share' in navigator ? h('button.btn.small', { type: 'button', onclick: () => navigator.share({ url, title: 'PartyPic' }).catch(() => {}) }, t('share.share')) : null)),
    h('figure.qr', null, h('img', { src: apiUrl(`/sessions/${id}/qr.svg`), alt: t('share.qrAlt'), width: 240, height: 240 }),
      h('figcaption.muted', null, t('share.qrCaption'))),
    code,
    h('div.row.wrap', null,
      h('a.btn', { href: `/print/${id}` }, t('share.print')),
      h('a.btn', { href: `/slideshow/${id}`, target: '_blank' }, t('share.slideshow')),
      h('a.btn', { href: `/slideshow/${id}?mode=loved`, target: '_blank' }, t('share.slideshowLoved')),
      h('a.btn', { href: `/s/${id}`, target: '_blank' }, t('share.guestView'))),
    cohosts);
}

const SIZES_ITSELF = typeof CSS !== 'undefined' && CSS.supports('field-sizing', 'content');

/** Grow a textarea to its text (where CSS `field-sizing` is missing; hidden ones on showing). @param {HTMLTextAreaElement} el */
function fit(el) {
  if (SIZES_ITSELF || !el.offsetParent) return;
  el.style.height = 'auto';
  el.style.height = `${el.scrollHeight + 2}px`;
}

/** @param {HTMLTextAreaElement} el */
function growing(el) {
  el.addEventListener('input', () => fit(el));
  return el;
}

/**
 * @param {Session} session @param {string} token @param {(s: Session) => void} onSaved
 */
function missionsPanel(session, token, onSaved) {
  /** @type {{id: string, description: string}[]} */
  let items = session.missions.data.map((m) => ({ id: String(m.id), description: m.description }));
  let dirty = false;
  const list = h('ol.missions');
  const save = /** @type {HTMLButtonElement} */ (h('button.btn.primary', { type: 'button', disabled: true, onclick: doSave }, t('missions.save')));
  const status = h('p.muted', { role: 'status' });
  const addInput = /** @type {HTMLInputElement} */ (h('input', { id: 'mission-new', maxlength: 300, placeholder: t('missions.placeholder') }));
  const touch = () => { dirty = true; save.disabled = false; status.textContent = t('missions.unsaved'); };
  const paste = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: 'mission-paste', rows: 5 }));

  function draw() {
    replace(list, items.map((m, i) => h('li', null,
      growing(h('textarea', {
        value: m.description, maxlength: 300, rows: 1, 'aria-label': t('missions.item', { n: i + 1 }),
        oninput: (/** @type {Event} */ e) => { m.description = /** @type {HTMLTextAreaElement} */ (e.target).value; touch(); },
      })),
      h('button.btn.small.ghost', {
        type: 'button', 'aria-label': t('missions.remove', { n: i + 1 }),
        onclick: () => { items.splice(i, 1); touch(); draw(); },
      }, '✕'))));
    if (!items.length) list.append(h('li.muted', null, t('missions.none')));
    requestAnimationFrame(() => list.querySelectorAll('textarea').forEach(fit));
  }

  /** @param {string[]} texts */
  function add(texts) {
    const clean = texts.map((s) => s.trim()).filter(Boolean);
    if (!clean.length) return;
    items.push(...clean.map((description) => ({ id: uid(), description: description.slice(0, 300) })));
    touch();
    draw();
  }

  async function doSave() {
    busy(save, true);
    try {
      const kept = items.filter((m) => m.description.trim()).map((m) => ({ ...m, description: m.description.trim() }));
      const res = await api('/sessions/setmissions', { token, body: { sessionId: session.id, missions: { data: kept } } });
      const s = res.data || res;
      session = s;
      items = s.missions.data.map((/** @type {import('./api.js').Mission} */ m) => ({ id: String(m.id), description: m.description }));
      onSaved(s);
      dirty = false;
      status.textContent = t('missions.saved');
      toast(t('missions.saved'));
      draw();
    } catch (e) {
      status.textContent = /** @type {Error} */ (e).message;
      toast(/** @type {Error} */ (e).message, 'error');
    } finally {
      busy(save, false);
      save.disabled = !dirty;
    }
  }

  draw();
  const fileInput = /** @type {HTMLInputElement} */ (h('input', {
    id: 'mission-import', type: 'file', accept: '.txt,text/plain', class: 'visually-hidden',
    onchange: async () => {
      const file = fileInput.files?.[0];
      if (file) add((await file.text()).split(/\r?\n/));
      fileInput.value = '';
    },
  }));
  return h('section.panel', null,
    h('h2', null, t('missions.title')),
    h('p', null, t('missions.lead')),
    list,
    h('form.row', {
      onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); add([addInput.value]); addInput.value = ''; addInput.focus(); },
    }, h('label.visually-hidden', { for: 'mission-new' }, t('missions.new')), addInput, h('button.btn', { type: 'submit' }, t('missions.add'))),
    h('div.row.wrap', null,
      h('label.btn.small', { for: 'mission-import' }, t('missions.import')), fileInput,
      h('button.btn.small', { type: 'button', onclick: () => add(exampleMissions()) }, t('missions.addExamples'))),
    h('details.paste-missions', null,
      h('summary', null, t('missions.pasteTitle')),
      h('div.field', null, h('label', { for: 'mission-paste' }, t('missions.pasteLabel')), paste),
      h('button.btn.small', { type: 'button', onclick: () => { add(paste.value.split(/\r?\n/)); paste.value = ''; } }, t('missions.pasteAdd'))),
    h('div.row', null, save), status);
}

/**
 * @param {() => Session} get @param {string} token @param {(s: Session) => void} onSaved
 * @param {HTMLElement} identity the look-and-welcome part, shown before "After the party"
 */
function rulesPanel(get, token, onSaved, identity) {
  const s = () => get().settings || {};
  const id = get().id;
  const section = h('section.panel');

  /** @param {Record<string, unknown>} patch */
  async function patch(patch) {
    try {
      const updated = await api(`/sessions/${id}/settings`, { token, body: { settings: patch } });
      onSaved(updated.data || updated);
      toast(t('rules.saved'));
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
    draw();
  }

  /** @param {string} key @param {string} label @param {string} hint @param {boolean} checked @param {(on: boolean) => Record<string, unknown>} make */
  const toggle = (key, label, hint, checked, make) => h('div.toggle', null,
    h('input', { type: 'checkbox', id: `rule-${key}`, checked, 'aria-describedby': `rule-${key}-hint`, onchange: (/** @type {Event} */ e) => patch(make(/** @type {HTMLInputElement} */ (e.target).checked)) }),
    h('label', { for: `rule-${key}` }, label),
    h('p.muted', { id: `rule-${key}-hint` }, hint));

  // The event PIN: set, replace or remove; never shown back (the server keeps only its hash).
  function pinForm() {
    const isSet = !!get().protected;
    const pin = h('input', { id: 'rule-pin', autocomplete: 'off', minlength: 4, maxlength: 64, required: true, placeholder: isSet ? '••••' : undefined, 'aria-describedby': 'rule-pin-hint' });
    return h('form.field', {
      onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); patch({ pin: pin.value.trim() }); },
    }, h('label', { for: 'rule-pin' }, t('rules.pin')),
    h('div.row', null, pin, h('button.btn.small', { type: 'submit' }, t('action.save')),
      isSet ? h('button.btn.small.ghost', { type: 'button', id: 'rule-pin-clear', onclick: () => patch({ pin: null }) }, t('rules.pinClear')) : null),
    h('p.muted.small', { id: 'rule-pin-hint' }, t('rules.pinHint')));
  }

  function draw() {
    const st = s();
    const after = st.reveal === 'after_reveal';
    const limit = /** @type {HTMLInputElement} */ (h('input', { id: 'rule-limit', type: 'number', min: 1, max: 10000, inputmode: 'numeric', value: st.upload_limit_per_guest ?? '', placeholder: t('rules.unlimited') }));
    const revealAt = /** @type {HTMLInputElement} */ (h('input', { id: 'rule-reveal-at', type: 'datetime-local', value: st.reveal_at ? toLocalInput(new Date(String(st.reveal_at))) : '' }));
    const end = h('input', { id: 'rule-end', type: 'datetime-local', value: toLocalInput(new Date(get().ends_at || st.ends_at || Date.now())), max: toLocalInput(yearAhead()) });
    const open = isOpen(get());
    const a = auth();
    replace(section,
      h('h2', null, t('rules.title')),
      toggle('approval', t('rules.approval'), t('rules.approvalHint'), !!st.require_approval, (on) => ({ require_approval: on })),
      toggle('reveal', t('rules.reveal'), t('rules.revealHint'), after, (on) => ({ reveal: on ? 'after_reveal' : 'always' })),
      after || st.reveal_at ? h('div.row', null, st.revealed
        ? h('span.pill.live', null, t('rules.revealed'))
        : h('button.btn.primary', { type: 'button', onclick: () => patch({ revealed: true }) }, t('rules.revealNow'))) : null,
      // A timed reveal ("the morning after"): guests' galleries open by themselves at that time.
      after || st.reveal_at ? h('form.field', {
        onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); patch({ reveal_at: revealAt.value ? new Date(revealAt.value).toISOString() : null }); },
      }, h('label', { for: 'rule-reveal-at' }, t('rules.revealAt')),
      h('div.row', null, revealAt, h('button.btn.small', { type: 'submit' }, t('action.save')),
        st.reveal_at ? h('button.btn.small.ghost', { type: 'button', onclick: () => patch({ reveal_at: null }) }, t('rules.revealAtClear')) : null),
      h('p.muted.small', null, t('rules.revealAtHint'))) : null,
      toggle('guestdelete', t('rules.guestDelete'), t('rules.guestDeleteHint'), st.guest_delete !== false, (on) => ({ guest_delete: on })),
      toggle('comments', ct('rule'), ct('ruleHint'), st.comments !== false, (on) => ({ comments: on })),
      st.comments !== false
        ? toggle('commentapproval', ct('approval'), ct('approvalHint'), !!st.comment_approval, (on) => ({ comment_approval: on }))
        : null,
      pinForm(),
      h('div.field', null, h('label', { for: 'rule-downloads' }, t('rules.downloads')),
        h('select', { id: 'rule-downloads', onchange: (/** @type {Event} */ e) => patch({ guest_downloads: /** @type {HTMLSelectElement} */ (e.target).value }) },
          ['none', 'photos', 'all'].map((v) => h('option', { value: v, selected: (st.guest_downloads || 'photos') === v }, t(`rules.downloads.${v}`))))),
      st.guest_downloads !== 'none'
        ? toggle('originals', t('rules.originals'), t('rules.originalsHint'), !!st.guest_originals, (on) => ({ guest_originals: on }))
        : null,
      h('form.field', {
        onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); patch({ upload_limit_per_guest: limit.value ? Number(limit.value) : null }); },
      }, h('label', { for: 'rule-limit' }, t('rules.limit')), h('div.row', null, limit, h('button.btn.small', { type: 'submit' }, t('action.save')))),
      h('form.field', {
        onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); if (end.value) patch({ ends_at: new Date(end.value).toISOString() }); },
      }, h('label', { for: 'rule-end' }, t('rules.endsAt')), h('div.row', null, end, h('button.btn.small', { type: 'submit' }, t('action.save')))),
      identity,
      h('h2', null, t('rules.after')),
      h('div.row.wrap', null,
        h('a.btn.primary', { id: 'download-zip', href: apiUrl(`/sessions/${id}/download?access_token=${encodeURIComponent(a?.token || '')}`), download: `partypic-${id.slice(0, 8)}.zip` }, t('rules.download')),
        open ? h('button.btn.danger', { type: 'button', onclick: endNow }, t('rules.end')) : h('span.pill.over', null, t('host.ended'))));
  }

  async function endNow() {
    if (!await ask(t('rules.endConfirm'), { ok: t('rules.end') })) return;
    try {
      let updated;
      try {
        updated = await api(`/sessions/${id}/end`, { method: 'POST', token });
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
        updated = await api(`/sessions/${id}/settings`, { token, body: { settings: { ends_at: new Date().toISOString() } } });
      }
      const next = updated?.data || updated;
      onSaved(next && next.id ? next : { ...get(), ends_at: new Date().toISOString(), settings: { ...s(), ends_at: new Date().toISOString() } });
      toast(t('rules.ended'));
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
    draw();
  }

  draw();
  return section;
}

/**
 * The event's look: welcome text, accent colour (presets or any colour) and the cover photo
 * (chosen in the photo viewer; removed here or there).
 * @param {() => Session} get @param {string} token @param {(s: Session) => void} onSaved
 * @param {(pictureId: string | null) => void} setCover
 */
function identityPanel(get, token, onSaved, setCover) {
  const saved = h('p.muted', { role: 'status' });
  const error = h('p.form-error', { role: 'alert' });
  const s = get();
  /** The colour chosen in the form; '' = PartyPic's own. */
  let accent = accentOf(s);
  const welcome = /** @type {HTMLTextAreaElement} */ (growing(h('textarea', {
    id: 'welcome-text', name: 'welcome_text', maxlength: 500, rows: 3, value: welcomeOf(s), placeholder: t('identity.welcomePlaceholder'),
  })));
  const picker = /** @type {HTMLInputElement} */ (h('input', {
    id: 'accent-color', type: 'color', value: accent || ACCENT_PRESETS[0], 'aria-label': t('identity.accent'),
    oninput: () => pick(picker.value),
  }));
  const sample = h('span.accent-sample', null, t('guest.join'));
  const swatches = h('div.swatches', { role: 'group', 'aria-labelledby': 'accent-label' },
    h('button.btn.small', { type: 'button', 'data-color': '', onclick: () => pick('') }, t('identity.accentDefault')),
    ACCENT_PRESETS.slice(1).map((c) => h('button.swatch', {
      type: 'button', 'data-color': c, style: { background: c }, title: c, 'aria-label': t('identity.preset', { color: c }), onclick: () => pick(c),
    })),
    picker, sample);
  /** @param {string} color '' for PartyPic's own */
  function pick(color) {
    accent = color;
    const shown = color || ACCENT_PRESETS[0];
    sample.style.background = shown;
    sample.style.color = inkOn(shown);
    for (const b of swatches.querySelectorAll('button')) b.setAttribute('aria-pressed', String((b.dataset.color || '') === color));
    if (color) picker.value = color;
  }
  pick(accent);

  // The cover changes from the photo viewer and live: drawn apart from the form being edited.
  const coverBox = h('div.cover-box');
  function draw() {
    const cover = coverOf(get());
    replace(coverBox, cover
      ? h('div.cover-stack', null, h('img.cover-preview', { src: cover, alt: t('identity.coverAlt') }),
        h('button.btn.small', { type: 'button', onclick: () => setCover(null) }, t('identity.removeCover')))
      : h('p.muted', null, t('identity.coverNone')));
  }
  draw();
  requestAnimationFrame(() => fit(welcome));

  const el = h('div.identity', null,
    h('h2', null, t('identity.title')),
    h('p.muted', null, t('identity.lead')),
    h('h3', null, t('identity.cover')),
    coverBox,
    h('form', {
      novalidate: true,
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        error.textContent = '';
        saved.textContent = '';
        const text = welcome.value.trim();
        if ([...text].length > 500) { error.textContent = t('identity.welcomeTooLong'); welcome.focus(); return; }
        try {
          const updated = await api(`/sessions/${get().id}/settings`, { token, body: { settings: { welcome_text: text || null, accent_color: accent || null } } });
          onSaved(updated.data || updated);
          saved.textContent = t('identity.saved');
        } catch (err) {
          error.textContent = /** @type {Error} */ (err).message;
        }
      },
    },
    h('div.field', null, h('label', { for: 'welcome-text' }, t('identity.welcome')), welcome),
    h('div.field', null, h('span.label', { id: 'accent-label' }, t('identity.accent')), swatches, h('p.muted.small', null, t('identity.accentHint'))),
    error,
    h('div.row', null, h('button.btn.primary', { type: 'submit', id: 'identity-save' }, t('action.save')), saved)));
  return { el, draw };
}

/**
 * Select several photos, then approve or delete them together. While selecting, a tap on a
 * photo marks it instead of opening the viewer.
 * @param {Gallery} gallery @param {string} token @param {string} eventId
 */
function bulkBar(gallery, token, eventId) {
  /** @type {Set<string>} */
  const selected = new Set();
  let selecting = false;
  let confirming = false;
  const bar = h('div.bulk-bar', { role: 'toolbar', 'aria-label': t('venue.select') });
  const tiles = () => /** @type {HTMLElement[]} */ ([...gallery.el.querySelectorAll('li.tile')]);
  const mark = () => {
    for (const tile of tiles()) {
      const on = selected.has(tile.dataset.id || '');
      tile.classList.toggle('selected', on);
      tile.querySelector('button')?.setAttribute('aria-pressed', String(on));
    }
    gallery.el.classList.toggle('selecting', selecting);
  };
  const byId = (/** @type {string} */ id) => gallery.pictures.find((p) => p.id === id);
  /** @param {(id: string) => Promise<void>} action */
  const each = async (action) => {
    let done = 0;
    for (const id of [...selected]) {
      try {
        await action(id);
        selected.delete(id);
        done++;
      } catch (e) {
        toast(/** @type {Error} */ (e).message, 'error');
        break;
      }
    }
    if (done) toast(t('venue.bulkDone', { n: done }));
    confirming = false;
    draw();
  };
  const approve = () => each(async (id) => {
    const p = byId(id);
    if (!p || p.status !== 'pending') return;
    const updated = await api(`/pictures/${id}/approve`, { method: 'POST', token });
    gallery.update({ ...p, status: 'approved', ...updated });
  });
  const remove = () => each(async (id) => {
    await api(`/pictures/${id}`, { method: 'DELETE', token });
    gallery.remove(id);
  });
  // A form submission streams the ZIP straight into the browser's downloads; a client served
  // from another origin than the API (form-action 'self') fetches it instead.
  const download = async () => {
    const url = apiUrl(`/sessions/${eventId}/download?access_token=${encodeURIComponent(token)}`);
    const ids = [...selected].join(',');
    if (new URL(url, location.href).origin === location.origin) {
      const form = h('form', { method: 'POST', action: url, hidden: true }, h('input', { type: 'hidden', name: 'ids', value: ids }));
      document.body.append(form);
      /** @type {HTMLFormElement} */ (form).submit();
      form.remove();
      return;
    }
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ids }) });
      if (!res.ok) throw new Error(t('venue.downloadFailed'));
      const link = h('a', { href: URL.createObjectURL(await res.blob()), download: `partypic-${eventId.slice(0, 8)}-selection.zip` });
      /** @type {HTMLAnchorElement} */ (link).click();
      setTimeout(() => URL.revokeObjectURL(/** @type {HTMLAnchorElement} */ (link).href), 60_000);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
  };
  function draw() {
    const n = selected.size;
    replace(bar, selecting ? [
      h('span.pill', { role: 'status' }, t('venue.selected', { n })),
      h('button.btn.small', { type: 'button', onclick: () => { for (const tile of tiles()) if (tile.dataset.id) selected.add(tile.dataset.id); draw(); } }, t('venue.selectAll')),
      h('button.btn.small.primary', { type: 'button', disabled: !n, onclick: approve }, t('venue.approveSelected')),
      h('button.btn.small.download-selected', { type: 'button', disabled: !n, onclick: download }, t('venue.downloadSelected')),
      confirming
        ? h('button.btn.small.danger.confirm-delete', { type: 'button', onclick: remove }, t('venue.bulkDeleteConfirm', { n }))
        : h('button.btn.small.danger', { type: 'button', disabled: !n, onclick: () => { confirming = true; draw(); } }, t('venue.deleteSelected')),
      h('button.btn.small', { type: 'button', onclick: () => { selecting = false; confirming = false; selected.clear(); draw(); } }, t('venue.selectDone')),
    ] : [h('button.btn.small.select-photos', { type: 'button', onclick: () => { selecting = true; draw(); } }, t('venue.select'))]);
    mark();
  }
  // Capture phase: the tile's own button (the viewer) never sees a click while selecting.
  gallery.el.addEventListener('click', (e) => {
    if (!selecting) return;
    const tile = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest?.('li.tile'));
    if (!tile || !tile.dataset.id) return;
    e.preventDefault();
    e.stopPropagation();
    const id = tile.dataset.id;
    if (selected.has(id)) selected.delete(id); else selected.add(id);
    confirming = false;
    draw();
  }, true);
  gallery.addEventListener('change', () => {
    for (const id of [...selected]) if (!byId(id)) selected.delete(id);
    if (selecting) draw(); else mark();
  });
  draw();
  return bar;
}

/**
 * The event itself: its name and date, and deleting it with everything in it (the owner types
 * the name to confirm; co-hosts cannot delete it).
 * @param {() => Session} get @param {string} token @param {(s: Session) => void} onSaved
 * @param {'owner' | 'co_host'} role
 */
function managePanel(get, token, onSaved, role) {
  const id = get().id;
  const section = h('section.panel');
  const saved = h('p.muted', { role: 'status' });
  const error = h('p.form-error', { role: 'alert' });
  function draw() {
    const s = get();
    const name = /** @type {HTMLInputElement} */ (h('input', { id: 'event-name', name: 'name', required: true, maxlength: 100, value: eventName(s) }));
    const date = /** @type {HTMLInputElement} */ (h('input', { id: 'event-date', name: 'date', type: 'date', value: typeof s.settings.date === 'string' ? s.settings.date : '' }));
    const confirmInput = /** @type {HTMLInputElement} */ (h('input', { id: 'delete-confirm', autocomplete: 'off' }));
    const del = /** @type {HTMLButtonElement} */ (h('button.btn.danger', { type: 'button', disabled: true }, t('venue.delete')));
    confirmInput.addEventListener('input', () => { del.disabled = confirmInput.value.trim() !== eventName(get()).trim(); });
    del.addEventListener('click', async () => {
      if (del.disabled) return;
      busy(del, true);
      try {
        await api(`/sessions/${encodeURIComponent(id)}/delete`, { method: 'POST', token });
        localStorage.setItem(MINE, JSON.stringify(localMine().filter((x) => x !== id)));
        toast(t('venue.deleted'));
        navigate('/host');
      } catch (e) {
        error.textContent = /** @type {Error} */ (e).message;
        busy(del, false);
      }
    });
    replace(section,
      h('h2', null, t('venue.manage')),
      h('form.stack', {
        novalidate: true,
        onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          error.textContent = '';
          saved.textContent = '';
          const value = name.value.trim();
          if (!value) { error.textContent = t('host.eventNameRequired'); name.focus(); return; }
          try {
            const updated = await api(`/sessions/${id}/settings`, { token, body: { settings: { name: value, date: date.value || null } } });
            onSaved(updated);
            saved.textContent = t('venue.saved');
          } catch (err) {
            error.textContent = /** @type {Error} */ (err).message;
          }
        },
      },
      h('div.field', null, h('label', { for: 'event-name' }, t('venue.rename')), name),
      h('div.field', null, h('label', { for: 'event-date' }, t('venue.starts')), date),
      h('button.btn.primary', { type: 'submit' }, t('venue.save')), saved),
      role !== 'owner' ? null : h('div.danger-zone', null,
        h('h3', null, t('venue.deleteTitle')),
        h('p', null, t('venue.deleteLead')),
        h('div.field', null, h('label', { for: 'delete-confirm' }, t('venue.deleteConfirm', { name: eventName(s) })), confirmInput),
        del),
      error);
  }
  draw();
  return section;
}
