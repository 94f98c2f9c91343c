// Comments in the photo viewer: the list (oldest first, with name and time), a field to write
// one, delete (own ones; the host any) and approve (the host, pending ones). Loaded with the first
// photo shown, with its own strings and styles, so a guest's first visit stays small.
import { api } from './api.js';
import { h, replace, timeOf, toast } from './dom.js';
import { lang } from './i18n.js';

/** @typedef {import('./api-types').components['schemas']['CommentView']} Comment */

const STRINGS = {
  en: {
    label: 'Comments', field: 'Write a comment', send: 'Send', none: 'No comments yet.',
    pending: 'Waiting for approval', byHost: '{name} (host)', approve: 'Approve', delete: 'Delete',
    rule: 'Comments on photos', ruleHint: 'Guests and you can write short comments in the photo viewer.',
    approval: 'Approve comments first', approvalHint: 'Guests’ comments are shown to others only once you approve them.',
  },
  de: {
    label: 'Kommentare', field: 'Schreib einen Kommentar', send: 'Senden', none: 'Noch keine Kommentare.',
    pending: 'Wartet auf Freigabe', byHost: '{name} (Gastgeber)', approve: 'Freigeben', delete: 'Löschen',
    rule: 'Kommentare zu Fotos', ruleHint: 'Gäste und du können in der Fotoansicht kurze Kommentare schreiben.',
    approval: 'Kommentare erst freigeben', approvalHint: 'Kommentare von Gästen sehen andere erst, wenn du sie freigibst.',
  },
};

/** @param {keyof typeof STRINGS.en} key @param {string} [name] */
export const ct = (key, name = '') => (STRINGS[lang] || STRINGS.en)[key].replace('{name}', name);

let styled = false;

export class Comments {
  /** @param {import('./gallery.js').Gallery} gallery @param {HTMLElement} caption where the comments go */
  constructor(gallery, caption) {
    if (!styled) {
      styled = true;
      document.head.append(h('link', { rel: 'stylesheet', href: new URL('../comments.css', import.meta.url).href }));
    }
    this.g = gallery;
    const el = h('section.comments', { 'aria-label': ct('label') });
    caption.append(el);
    this.el = el;
    /** @type {string | null} the photo whose comments are shown */
    this.of = null;
    /** @type {Comment[]} */
    this.list = [];
    // The list is drawn anew, the form stays (so live updates keep a half-typed text).
    this.items = h('ol.comment-list');
    this.input = /** @type {HTMLInputElement} */ (h('input', { type: 'text', name: 'comment', maxlength: 280, autocomplete: 'off', enterkeyhint: 'send', placeholder: ct('field') }));
    this.send = h('button.btn.primary', { type: 'submit' }, ct('send'));
    this.form = h('form.comment-form', { onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); this.post(); } },
      h('label', null, h('span.visually-hidden', null, ct('field')), this.input), this.send);
    replace(el, h('h2.visually-hidden', null, ct('label')), this.items, this.form);
  }

  /** How this viewer asks: the host's token or the guest's id; `null` for anonymous visitors. */
  auth() {
    const { token, userId } = this.g.opts;
    if (token) return { token };
    return userId ? { headers: { 'X-Guest-Id': userId } } : null;
  }

  /** The viewer shows `p`: load its comments when it is another photo. @param {import('./gallery.js').Picture} p */
  show(p) {
    const who = this.auth();
    this.el.hidden = !who || p.status !== 'approved';
    if (this.el.hidden) return void (this.of = null);
    this.form.hidden = this.g.opts.comments?.() === false;
    if (this.of === p.id) return this.draw();
    this.of = p.id;
    this.list = [];
    this.input.value = '';
    this.draw();
    const id = p.id;
    api(`/pictures/${id}/comments`, who || {}).then((/** @type {Comment[]} */ list) => {
      if (this.of !== id) return;
      // Live comments may have arrived while loading: keep them.
      for (const c of this.list) if (!list.some((x) => x.id === c.id)) list.push(c);
      this.list = list;
      this.draw();
    }).catch((e) => { if (this.of === id) toast(e.message, 'error'); });
  }

  draw() {
    const { host, token, userId } = this.g.opts;
    const me = token ? null : userId;
    const id = this.of;
    const sorted = [...this.list].sort((a, b) => a.created_at.localeCompare(b.created_at));
    replace(this.items, sorted.length ? sorted.map((c) => {
      const base = `/pictures/${id}/comments/${c.id}`;
      // The text is a text node (h never parses markup): what was typed shows as typed.
      return h('li.comment', { 'data-id': c.id, 'data-status': c.status },
        h('div.comment-meta', null,
          h('strong', null, c.by_host ? ct('byHost', c.author_name) : c.author_name), ' · ',
          h('time', { datetime: c.created_at }, timeOf(c.created_at)),
          c.status === 'pending' ? h('span.badge.inline', null, ct('pending')) : null),
        h('p.comment-text', null, c.text),
        h('div.comment-actions', null,
          host && c.status === 'pending' ? h('button.btn.small.primary', { type: 'button', onclick: () => this.act(`${base}/approve`, 'POST') }, ct('approve')) : null,
          host || (me && c.author_id === me) ? h('button.btn.small.danger', { type: 'button', onclick: () => this.act(base, 'DELETE', c.id) }, ct('delete')) : null));
    }) : h('li.muted', null, ct('none')));
  }

  async post() {
    const id = this.of;
    const who = this.auth();
    const text = this.input.value.trim();
    if (!id || !who || !text) return;
    this.send.disabled = true;
    try {
      const c = await api(`/pictures/${id}/comments`, { ...who, method: 'POST', body: { text } });
      if (this.of === id) this.input.value = '';
      this.added(c);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    } finally {
      this.send.disabled = false;
    }
  }

  /** Approves or deletes a comment. @param {string} path @param {string} method @param {string} [deleted] */
  async act(path, method, deleted) {
    const id = this.of;
    try {
      const c = await api(path, { ...this.auth(), method });
      if (deleted && id) this.deleted({ picture_id: id, id: deleted });
      else if (c) this.added(c);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
  }

  /** A comment written or approved (live, or the answer to our own). @param {Comment} c */
  added(c) {
    if (this.of !== c.picture_id) return;
    const i = this.list.findIndex((x) => x.id === c.id);
    if (i >= 0) this.list[i] = c;
    else this.list.push(c);
    this.draw();
  }

  /** @param {{picture_id: string, id: string}} d */
  deleted(d) {
    if (this.of !== d.picture_id) return;
    this.list = this.list.filter((x) => x.id !== d.id);
    this.draw();
  }
}
