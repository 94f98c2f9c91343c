// The guestbook: guests write a message (optionally with one of their own photos), read the
// approved ones and their own pending ones, and delete their own; the host approves and deletes
// any, and switches the guestbook and its approval. Loaded on demand (the guest's Guestbook
// button, the host's Guestbook tab) with its own strings and styles, so a guest's first visit
// stays small. Every text from a person is a text node (h never parses markup).
import { api } from './api.js';
import { h, replace, timeOf, toast } from './dom.js';
import { lang } from './i18n.js';

/** @typedef {import('./api-types').components['schemas']['GuestbookMessageView']} Message */
/** @typedef {import('./api.js').Picture} Picture */

const MAX_CHARS = 1000;

const STRINGS = {
  en: {
    title: 'Guestbook', lead: 'Leave a few words for the hosts — they will find them in the keepsake.',
    field: 'Your message', send: 'Write in the guestbook', none: 'No messages yet.',
    photo: 'Add one of your photos (optional)', noPhoto: 'No photo', pending: 'Waiting for approval',
    byHost: '{name} (host)', approve: 'Approve', delete: 'Delete', closed: 'The guestbook is closed.',
    sent: 'Thank you! Your message is in the guestbook.', sentPending: 'Thank you! The host will approve your message.',
    rule: 'Guestbook', ruleHint: 'Guests write messages; the slideshow shows them between the photos, and the ZIP has them as a printable page.',
    approval: 'Approve guestbook messages first', approvalHint: 'Guests’ messages are shown to others (and on the slideshow) only once you approve them.',
    left: '{name} characters left',
  },
  de: {
    title: 'Gästebuch', lead: 'Hinterlasse ein paar Worte für die Gastgeber – sie finden sie im Andenken wieder.',
    field: 'Deine Nachricht', send: 'Ins Gästebuch schreiben', none: 'Noch keine Einträge.',
    photo: 'Eines deiner Fotos dazu (freiwillig)', noPhoto: 'Kein Foto', pending: 'Wartet auf Freigabe',
    byHost: '{name} (Gastgeber)', approve: 'Freigeben', delete: 'Löschen', closed: 'Das Gästebuch ist geschlossen.',
    sent: 'Danke! Deine Nachricht steht im Gästebuch.', sentPending: 'Danke! Die Gastgeber geben deine Nachricht frei.',
    rule: 'Gästebuch', ruleHint: 'Gäste schreiben Nachrichten; die Diashow zeigt sie zwischen den Fotos, und das ZIP enthält sie als druckbare Seite.',
    approval: 'Gästebuch-Einträge erst freigeben', approvalHint: 'Einträge von Gästen sehen andere (und die Diashow) erst, wenn du sie freigibst.',
    left: 'noch {name} Zeichen',
  },
};

/** @param {keyof typeof STRINGS.en} key @param {string} [name] */
export const gt = (key, name = '') => (STRINGS[lang] || STRINGS.en)[key].replace('{name}', name);

let styled = false;

/**
 * @typedef {{sessionId: string, userId?: string, token?: string,
 *   open?: () => boolean, photos?: () => Picture[],
 *   settings?: () => Record<string, any>, patch?: (settings: Record<string, any>) => Promise<void>}} Options
 * `open`: whether writing is allowed (the `guestbook` setting); `photos`: the guest's own photos
 * to choose from; `settings` / `patch`: the host's two switches.
 */

export class Guestbook {
  /** @param {Options} opts */
  constructor(opts) {
    if (!styled) {
      styled = true;
      document.head.append(h('link', { rel: 'stylesheet', href: new URL('../guestbook.css', import.meta.url).href }));
    }
    this.opts = opts;
    /** @type {Message[]} */
    this.list = [];
    this.items = h('ol.guestbook-list');
    this.text = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: 'guestbook-text', name: 'guestbook', rows: 4, maxlength: MAX_CHARS, required: true, oninput: () => this.count() }));
    this.left = h('p.muted.small', { 'aria-live': 'polite' });
    this.pick = h('fieldset.guestbook-photos');
    this.send = h('button.btn.primary', { type: 'submit' }, gt('send'));
    this.closed = h('p.notice', { hidden: true }, gt('closed'));
    this.form = h('form.guestbook-form', { onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); this.post(); } },
      h('label', { for: 'guestbook-text' }, gt('field')), this.text, this.left, this.pick, this.send);
    this.switches = h('div.guestbook-switches');
    this.el = h('section.card.guestbook', { 'aria-labelledby': 'guestbook-title' },
      h('h2', { id: 'guestbook-title' }, gt('title')),
      opts.token ? this.switches : h('p.muted', null, gt('lead')),
      this.closed, this.form, this.items);
    this.refresh();
    this.load();
  }

  /** How this reader asks: the host's token or the guest's id. */
  auth() {
    const { token, userId } = this.opts;
    if (token) return { token };
    return userId ? { headers: { 'X-Guest-Id': userId } } : {};
  }

  load() {
    api(`/sessions/${this.opts.sessionId}/guestbook`, this.auth()).then((/** @type {Message[]} */ list) => {
      // Live messages may have arrived while loading: keep them.
      for (const m of this.list) if (!list.some((x) => x.id === m.id)) list.push(m);
      this.list = list;
      this.draw();
    }).catch((e) => toast(e.message, 'error'));
  }

  /** The form, the photo choice and (host) the switches, as the settings now are. */
  refresh() {
    const open = this.opts.open?.() !== false;
    this.closed.hidden = open;
    this.form.hidden = !open;
    this.count();
    const own = (this.opts.photos?.() || []).filter((p) => p.media_type !== 'video').slice(0, 12);
    const chosen = /** @type {HTMLInputElement | null} */ (this.pick.querySelector('input:checked'))?.value || '';
    this.pick.hidden = !own.length;
    replace(this.pick, h('legend', null, gt('photo')),
      h('label.guestbook-photo', null, h('input', { type: 'radio', name: 'guestbook-photo', value: '', checked: !chosen }), h('span', null, gt('noPhoto'))),
      own.map((p) => h('label.guestbook-photo', null,
        h('input', { type: 'radio', name: 'guestbook-photo', value: p.id, checked: chosen === p.id }),
        h('img', { src: p.thumbUrl, alt: timeOf(p.created_at), loading: 'lazy' }))));
    const settings = this.opts.settings?.();
    if (settings && this.opts.patch) {
      const patch = this.opts.patch;
      /** @param {string} key @param {string} label @param {string} hint @param {boolean} checked @param {(on: boolean) => Record<string, any>} make */
      const toggle = (key, label, hint, checked, make) => h('div.toggle', null,
        h('input', { type: 'checkbox', id: `rule-${key}`, checked, 'aria-describedby': `rule-${key}-hint`, onchange: (/** @type {Event} */ e) => patch(make(/** @type {HTMLInputElement} */ (e.target).checked)).then(() => this.refresh()) }),
        h('label', { for: `rule-${key}` }, label),
        h('p.muted', { id: `rule-${key}-hint` }, hint));
      replace(this.switches,
        toggle('guestbook', gt('rule'), gt('ruleHint'), settings.guestbook !== false, (on) => ({ guestbook: on })),
        settings.guestbook !== false
          ? toggle('guestbookapproval', gt('approval'), gt('approvalHint'), !!settings.guestbook_approval, (on) => ({ guestbook_approval: on }))
          : null);
    }
  }

  count() {
    this.left.textContent = gt('left', String(MAX_CHARS - [...this.text.value].length));
  }

  draw() {
    const { token, userId } = this.opts;
    const me = token ? null : userId;
    // Newest first: the latest wishes on top.
    const sorted = [...this.list].sort((a, b) => b.created_at.localeCompare(a.created_at));
    replace(this.items, sorted.length ? sorted.map((m) => {
      const base = `/sessions/${this.opts.sessionId}/guestbook/${m.id}`;
      return h('li.guestbook-message', { 'data-id': m.id, 'data-status': m.status },
        m.photo ? h('img.guestbook-thumb', { src: m.photo.thumb_url, alt: '', loading: 'lazy' }) : null,
        h('div', null,
          h('div.guestbook-meta', null,
            h('strong', null, m.by_host ? gt('byHost', m.author_name) : m.author_name), ' · ',
            h('time', { datetime: m.created_at }, timeOf(m.created_at)),
            m.status === 'pending' ? h('span.badge.inline', null, gt('pending')) : null),
          h('p.guestbook-text', null, m.text),
          h('div.row', null,
            token && m.status === 'pending' ? h('button.btn.small.primary', { type: 'button', onclick: () => this.act(`${base}/approve`, 'POST') }, gt('approve')) : null,
            token || (me && m.author_id === me) ? h('button.btn.small.danger', { type: 'button', onclick: () => this.act(base, 'DELETE', m.id) }, gt('delete')) : null)));
    }) : h('li.muted', null, gt('none')));
  }

  async post() {
    const text = this.text.value.trim();
    if (!text) return this.text.focus();
    const photo = /** @type {HTMLInputElement | null} */ (this.pick.querySelector('input:checked'))?.value || undefined;
    this.send.disabled = true;
    try {
      const m = await api(`/sessions/${this.opts.sessionId}/guestbook`, { ...this.auth(), method: 'POST', body: { text, photo_id: photo } });
      this.text.value = '';
      this.refresh();
      toast(m.status === 'pending' ? gt('sentPending') : gt('sent'));
      this.added(m);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    } finally {
      this.send.disabled = false;
    }
  }

  /** Approves or deletes a message. @param {string} path @param {string} method @param {string} [deleted] */
  async act(path, method, deleted) {
    try {
      const m = await api(path, { ...this.auth(), method });
      if (deleted) this.deleted({ id: deleted });
      else if (m) this.added(m);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
  }

  /** A message written or approved (live, or the answer to our own). @param {Message} m */
  added(m) {
    const i = this.list.findIndex((x) => x.id === m.id);
    if (i >= 0) this.list[i] = m;
    else this.list.push(m);
    this.draw();
  }

  /** @param {{id: string}} d */
  deleted(d) {
    this.list = this.list.filter((x) => x.id !== d.id);
    this.draw();
  }

  /** A live event: `added` or `deleted`. @param {string} kind @param {any} d */
  live(kind, d) {
    if (kind === 'added') this.added(d);
    else this.deleted(d);
  }
}
