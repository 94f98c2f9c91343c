// The photo grid: newest first, pages loaded as the end scrolls into view, live inserts and
// removals, and a lightbox. Tiles use lazy images and `content-visibility` so thousands of
// them stay cheap; only loaded pages are ever in the DOM.
import { api, apiUrl } from './api.js';
import { ask, h, icon, replace, timeOf, toast } from './dom.js';
import { t } from './i18n.js';
import { onBack } from './router.js';

const PAGE = 60;
/** The most-loved view is one ranked page, not a feed. */
const LOVED_PAGE = 200;
/** The reactions a photo can get, as the server names them, and how they look. */
export const REACTIONS = /** @type {const} */ ([['heart', '❤️'], ['laugh', '😂'], ['wow', '😮'], ['party', '🎉']]);

/** @param {Picture} p */
const reactionTotal = (p) => Object.values(p.reactions || {}).reduce((a, b) => a + (Number(b) || 0), 0);

/** @typedef {import('./api.js').Picture} Picture */

/**
 * @typedef {{sessionId: string, token?: string, userId?: string, host?: boolean,
 *   canDelete?: (p: Picture) => boolean, missions?: () => Map<string, string>,
 *   empty?: () => string, actions?: (p: Picture) => (HTMLElement | null)[],
 *   reactions?: () => boolean, comments?: () => boolean, downloads?: () => string}} GalleryOptions
 * `actions`: more buttons for the viewer (the host's "Use as cover"). `reactions`: whether the
 * event takes reactions (the host's `reactions` setting; on by default). `downloads`: the host's
 * `guest_downloads` (`none`, `photos`, `all`).
 */

export class Gallery extends EventTarget {
  /** @param {GalleryOptions} opts */
  constructor(opts) {
    super();
    this.opts = opts;
    /** @type {Picture[]} */
    this.pictures = [];
    /** @type {Map<string, HTMLElement>} */
    this.tiles = new Map();
    this.done = false;
    this.loading = false;
    this.fetchedAt = 0;
    this.refreshing = false;
    this.generation = 0;
    /** @type {{uploader?: string, name?: string, sort?: 'loved'}} whose photos, in which order */
    this.filter = {};
    /** Comments already counted on their tile from live updates. */
    this.countedComments = new Set();
    this.toolbar = h('div.gallery-filter', { role: 'toolbar', 'aria-label': t('gallery.filter') });
    this.grid = h('ul.grid', { 'aria-label': t('gallery.title') });
    this.sentinel = h('div.sentinel', { 'aria-hidden': 'true' });
    this.status = h('p.muted.center', { role: 'status' });
    this.el = h('div.gallery', null, this.toolbar, this.grid, this.status, this.sentinel);
    this.drawToolbar();
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: '800px 0px' });
    this.observer.observe(this.sentinel);
    this.lightbox = new Lightbox(this);
  }

  destroy() {
    this.observer.disconnect();
    this.lightbox.destroy();
  }

  /** @param {string} [before] the id of the oldest picture already shown */
  query(before = '', limit = PAGE) {
    const loved = this.filter.sort === 'loved';
    const q = new URLSearchParams({ sessionId: this.opts.sessionId, limit: String(loved ? LOVED_PAGE : limit) });
    if (before && !loved) q.set('before', before);
    if (this.opts.userId) q.set('userId', this.opts.userId);
    if (this.filter.uploader) q.set('uploader', this.filter.uploader);
    if (loved) q.set('sort', 'loved');
    return api(`/pictures/session?${q}`, { token: this.opts.token });
  }

  /**
   * Show only one guest's photos, the most loved first, or everything again.
   * @param {{uploader?: string, name?: string, sort?: 'loved'}} filter
   */
  setFilter(filter) {
    this.filter = filter;
    this.drawToolbar();
    this.reset();
  }

  drawToolbar() {
    const f = this.filter;
    /** @param {string} label @param {boolean} on @param {() => void} pick */
    const chip = (label, on, pick) => h('button.chip', { type: 'button', 'aria-pressed': String(on), onclick: pick }, label);
    const mine = this.opts.userId && !this.opts.host;
    replace(this.toolbar,
      chip(t('gallery.all'), !f.uploader && !f.sort, () => this.setFilter({})),
      mine ? chip(t('gallery.mine'), f.uploader === this.opts.userId, () => this.setFilter({ uploader: this.opts.userId })) : null,
      chip(t('gallery.loved'), f.sort === 'loved', () => this.setFilter({ sort: 'loved' })),
      f.uploader && f.uploader !== this.opts.userId
        ? chip(t('gallery.onlyOf', { name: f.name || '?' }) + ' ✕', true, () => this.setFilter({}))
        : null);
  }

  /** @returns {Promise<void>} */
  async more() {
    if (this.loading || this.done) return;
    this.loading = true;
    this.status.textContent = t('gallery.loading');
    const generation = this.generation;
    try {
      const last = this.pictures[this.pictures.length - 1];
      /** @type {Picture[]} */
      const page = await this.query(last ? last.id : '');
      if (generation !== this.generation) return; // reset meanwhile: this page is stale
      this.fetchedAt = Date.now();
      // A server without pagination answers everything at once; the loved view is one page.
      if (page.length < PAGE || page.length > PAGE || this.filter.sort === 'loved') this.done = true;
      let added = 0;
      for (const p of page) if (this.insert(p, false)) added++;
      if (!added && page.length) this.done = true;
      this.status.textContent = this.pictures.length ? '' : (this.opts.empty?.() || t('gallery.empty'));
    } catch (e) {
      this.status.replaceChildren(/** @type {Error} */ (e).message, ' ',
        h('button.link', { type: 'button', onclick: () => this.more() }, t('action.retry')));
    } finally {
      this.loading = false;
    }
    if (generation !== this.generation) { this.more(); return; }
    this.changed();
    // The sentinel may still be visible (few photos, tall screen): keep filling.
    if (!this.done) requestAnimationFrame(() => {
      const r = this.sentinel.getBoundingClientRect();
      // offsetParent is null while the gallery is hidden (another tab): wait for the observer.
      if (r.top < innerHeight + 800 && this.sentinel.offsetParent) this.more();
    });
  }

  /** Start over (what the viewer may see changed, e.g. the host revealed the gallery). */
  reset() {
    this.generation++;
    this.pictures = [];
    this.tiles.clear();
    this.grid.replaceChildren();
    this.done = false;
    this.more();
  }

  /** Fetch the newest page again (after a reconnect, or as the polling fallback). */
  async resync() {
    if (this.filter.sort === 'loved') { this.reset(); return; }
    try {
      /** @type {Picture[]} */
      const page = await this.query('');
      this.fetchedAt = Date.now();
      const ids = new Set(page.map((p) => p.id));
      const oldest = page.length ? page[page.length - 1].created_at : '';
      for (const p of [...this.pictures]) {
        if (!ids.has(p.id) && (page.length < PAGE || Date.parse(p.created_at) > Date.parse(oldest))) this.remove(p.id);
      }
      for (const p of page) this.insert(p, true);
      this.changed();
    } catch { /* next time */ }
  }

  changed() {
    if (this.pictures.length) this.status.textContent = '';
    else if (this.done) this.status.textContent = this.opts.empty?.() || t('gallery.empty');
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Add or update one picture; returns whether it was new.
   * @param {Picture} p @param {boolean} [live]
   */
  insert(p, live = true) {
    const old = this.pictures.findIndex((x) => x.id === p.id);
    if (this.filter.uploader && p.user_id !== this.filter.uploader) return false;
    // The ranking is the server's: a new photo (no reactions yet) waits for the next visit.
    if (this.filter.sort === 'loved' && old < 0 && live) return false;
    if (old >= 0) {
      this.pictures[old] = { ...this.pictures[old], ...p };
      const tile = this.tiles.get(p.id);
      if (tile) tile.replaceWith(this.tile(this.pictures[old]));
      return false;
    }
    // Newest first; live arrivals almost always go to the top. The loved page keeps its order.
    const at = Date.parse(p.created_at);
    let i = this.filter.sort === 'loved' ? this.pictures.length : 0;
    while (i < this.pictures.length && Date.parse(this.pictures[i].created_at) > at) i++;
    // Older than everything loaded while more pages remain: pagination will bring it in order.
    if (live && !this.done && i === this.pictures.length && i > 0) return false;
    this.pictures.splice(i, 0, p);
    const tile = this.tile(p);
    const next = this.pictures[i + 1] && this.tiles.get(this.pictures[i + 1].id);
    this.grid.insertBefore(tile, next || null);
    if (live) tile.classList.add('new');
    return true;
  }

  /**
   * Point at a photo the guest sent again ("already in the gallery"): scroll to it and make it
   * flash (a photo older than the pages loaded so far is not shown out of order).
   * @param {Picture} p
   */
  reveal(p) {
    this.insert(p, true);
    const tile = this.tiles.get(p.id);
    if (!tile) return;
    tile.scrollIntoView({ block: 'center', behavior: 'smooth' });
    tile.classList.remove('spotlight');
    void tile.offsetWidth;
    tile.classList.add('spotlight');
  }

  /** Draw the open viewer again (its actions may have changed). */
  refreshViewer() {
    if (this.lightbox.index >= 0) this.lightbox.show(this.lightbox.index);
  }

  /** @param {Picture} p */
  update(p) {
    this.insert(p, true);
    this.changed();
  }

  /** @param {string} id */
  remove(id) {
    const i = this.pictures.findIndex((x) => x.id === id);
    if (i < 0) return;
    this.pictures.splice(i, 1);
    this.tiles.get(id)?.remove();
    this.tiles.delete(id);
    this.lightbox.removed(id, i);
    this.changed();
  }

  /** @param {Picture} p */
  tile(p) {
    const label = t('gallery.photoBy', { name: p.u_name, time: timeOf(p.created_at) });
    const img = h('img', {
      src: p.thumbUrl || p.url, alt: '', loading: 'lazy', decoding: 'async',
      onerror: () => this.expired(),
    });
    const li = h('li.tile', { 'data-id': p.id },
      h('button', {
        type: 'button', 'aria-label': label, title: label,
        onclick: () => this.lightbox.open(this.pictures.findIndex((x) => x.id === p.id)),
      }, img),
      p.media_type === 'video' ? h('span.play-badge', { 'aria-label': t('gallery.video') }, '▶ ', clipLength(p.duration_secs)) : null,
      p.status === 'pending' ? h('span.badge', null, t('gallery.pending')) : null,
      h('span.who', { 'aria-hidden': 'true' }, p.u_name),
      h('span.counts', null,
        reactionTotal(p) ? h('span.react-count', { 'aria-label': t('reactions.count', { n: reactionTotal(p) }) }, '❤️ ', String(reactionTotal(p))) : null,
        p.comment_count ? h('span.comment-count', { 'aria-label': t('gallery.comments', { n: p.comment_count }) }, '💬 ', String(p.comment_count)) : null));
    this.tiles.set(p.id, li);
    return li;
  }

  /** Presigned URLs last an hour: refresh the loaded pages once they are older than that. */
  async expired() {
    if (Date.now() - this.fetchedAt < 50 * 60_000 || this.refreshing) return;
    this.refreshing = true;
    try {
      let before = '';
      for (let n = 0; n < this.pictures.length; n += PAGE) {
        /** @type {Picture[]} */
        const page = await this.query(before);
        if (!page.length) break;
        for (const p of page) this.insert(p, false);
        before = page[page.length - 1].id;
        if (page.length !== PAGE) break;
      }
      this.fetchedAt = Date.now();
    } finally {
      this.refreshing = false;
    }
  }

  /** @param {Picture} p */
  async delete(p) {
    if (!await ask(t('gallery.confirmDelete'), { ok: t('action.delete') })) return false;
    try {
      await api(`/pictures/${p.id}`, {
        method: 'DELETE', token: this.opts.token,
        headers: this.opts.userId ? { 'X-Guest-Id': this.opts.userId } : undefined,
      });
      this.remove(p.id);
      toast(t('gallery.deleted'));
      return true;
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
      return false;
    }
  }

  /**
   * The viewer's reaction: the same one again takes it back.
   * @param {Picture} p @param {string} name
   */
  async react(p, name) {
    const again = p.my_reaction === name;
    try {
      const counts = await api(`/pictures/${p.id}/reaction`, {
        method: again ? 'DELETE' : 'PUT', token: this.opts.token,
        headers: this.opts.userId && !this.opts.token ? { 'X-Guest-Id': this.opts.userId } : undefined,
        body: again ? undefined : { reaction: name },
      });
      this.reacted(counts);
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
  }

  /**
   * New counts of a photo (`picture.reactions` live, or the answer to our own reaction, which
   * also carries `my_reaction`).
   * @param {{picture_id: string, reactions: Picture['reactions'], my_reaction?: Picture['my_reaction']}} d
   */
  reacted(d) {
    const p = this.pictures.find((x) => x.id === d.picture_id);
    if (!p) return;
    const mine = d.my_reaction !== undefined ? { my_reaction: d.my_reaction } : {};
    this.insert({ ...p, reactions: d.reactions, ...mine }, false);
    if (this.pictures[this.lightbox.index]?.id === p.id) this.refreshViewer();
  }

  /**
   * A comment came or went (live): the open viewer's list and the tile's count. An approved
   * comment may arrive twice (once pending for its author or the host), so ids are remembered.
   * @param {'added' | 'deleted'} k @param {any} d
   */
  comment(k, d) {
    this.lightbox.panel?.then((c) => c[k](d));
    const p = this.pictures.find((x) => x.id === d.picture_id);
    if (!p) return;
    const n = p.comment_count || 0;
    if (k === 'added') {
      // Guests' counts hold approved comments only, as the server's do.
      if (this.countedComments.has(d.id) || (d.status === 'pending' && !this.opts.host)) return;
      this.countedComments.add(d.id);
      this.insert({ ...p, comment_count: n + 1 }, false);
    } else if (n > 0) {
      this.countedComments.delete(d.id);
      this.insert({ ...p, comment_count: n - 1 }, false);
    }
  }

  /** @param {Picture} p */
  async approve(p) {
    try {
      const updated = await api(`/pictures/${p.id}/approve`, { method: 'POST', token: this.opts.token });
      this.update({ ...p, status: 'approved', ...updated });
    } catch (e) {
      toast(/** @type {Error} */ (e).message, 'error');
    }
  }
}

/** `m:ss` of a clip's length. @param {number | null | undefined} secs */
export function clipLength(secs) {
  const s = Math.round(secs || 0);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Full-screen viewer: arrows, keyboard, swipe; uploader and time; actions. */
class Lightbox {
  /** @param {Gallery} gallery */
  constructor(gallery) {
    this.gallery = gallery;
    this.index = -1;
    this.img = /** @type {HTMLImageElement} */ (h('img', { alt: '' }));
    /** Clips play here (guests get an H.264 MP4); hidden for photos. */
    this.video = /** @type {HTMLVideoElement} */ (h('video', { controls: true, playsInline: true, preload: 'metadata', hidden: true }));
    this.caption = h('div.caption');
    this.actions = h('div.actions');
    /** @type {Promise<import('./comments.js').Comments> | undefined} */
    this.panel = undefined;
    const prev = h('button.nav.prev', { type: 'button', 'aria-label': t('lightbox.prev'), onclick: () => this.step(-1) }, '‹');
    const next = h('button.nav.next', { type: 'button', 'aria-label': t('lightbox.next'), onclick: () => this.step(1) }, '›');
    // Opened, the viewer focuses its close button: it stays while photos change (the caption's
    // buttons are drawn anew), so the arrow keys keep reaching the dialog.
    const close = h('button.close', { type: 'button', autofocus: true, 'aria-label': t('action.close'), onclick: () => this.close() }, '×');
    this.dialog = /** @type {HTMLDialogElement} */ (h('dialog.lightbox', { 'aria-label': t('lightbox.title') },
      h('figure', null, this.img, this.video, h('figcaption', null, this.caption, this.actions)), prev, next, close));
    this.dialog.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft') this.step(-1);
      if (e.key === 'ArrowRight') this.step(1);
    });
    this.dialog.addEventListener('close', () => {
      this.index = -1;
      this.video.pause();
      this.video.removeAttribute('src');
      this.dialog.remove();
      // Closed by its button, Escape or a swipe: take back the history entry the viewer added.
      if (this.pushed) {
        this.pushed = false;
        // Only ever step back over our own entry, never out of the page.
        if (history.state?.viewer) {
          this.backing = true;
          history.back();
        }
      }
    });
    let x0 = 0, y0 = 0;
    this.img.addEventListener('pointerdown', (e) => { x0 = e.clientX; y0 = e.clientY; });
    this.img.addEventListener('pointerup', (e) => {
      const dx = e.clientX - x0, dy = e.clientY - y0;
      if (Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(dy)) this.step(dx < 0 ? 1 : -1);
      else if (dy > 90) this.close();
    });
    // The viewer is a history entry, so the phone's Back button closes it instead of leaving the
    // event; the router leaves the page alone while the viewer takes the Back press.
    this.pushed = false;
    this.backing = false;
    this.offBack = onBack(() => {
      if (this.backing) {
        // Our own history.back(); the viewer may have been opened again meanwhile.
        this.backing = false;
        if (this.dialog.open) this.push();
        return true;
      }
      if (this.pushed) {
        this.pushed = false;
        this.close();
        return true;
      }
      return false;
    });
  }

  /** @param {number} i */
  open(i) {
    if (i < 0) return;
    if (!this.dialog.isConnected) document.body.append(this.dialog);
    if (!this.dialog.open) {
      this.dialog.showModal();
      if (!this.backing) this.push();
    }
    this.show(i);
  }

  push() {
    history.pushState({ ...history.state, viewer: true }, '');
    this.pushed = true;
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** The page is going away: close without touching history. */
  destroy() {
    this.offBack();
    this.pushed = false;
    this.close();
    this.backing = false;
  }

  /** @param {number} d */
  step(d) {
    const n = this.gallery.pictures.length;
    const i = this.index + d;
    if (i < 0 || i >= n) return;
    this.show(i);
    if (i > n - 5) this.gallery.more();
  }

  /** @param {string} id @param {number} at */
  removed(id, at) {
    if (this.index < 0) return;
    if (!this.gallery.pictures.length) return this.close();
    if (at <= this.index) this.show(Math.min(Math.max(0, this.index - (at < this.index ? 1 : 0)), this.gallery.pictures.length - 1));
  }

  /** @param {number} i */
  show(i) {
    const g = this.gallery;
    const p = g.pictures[i];
    if (!p) return;
    this.index = i;
    this.dialog.dataset.index = String(i);
    // A clip plays its web MP4 once it exists (the host's `url`, the original, may be HEVC).
    const clip = p.media_type === 'video' && p.video_url ? p.video_url : null;
    this.img.hidden = !!clip;
    this.video.hidden = !clip;
    if (clip) {
      if (this.video.getAttribute('src') !== clip) {
        this.video.poster = p.thumbUrl || '';
        this.video.src = clip;
      }
    } else {
      this.video.pause();
      this.video.removeAttribute('src');
      this.img.src = p.thumbUrl || p.url;
      // Show the thumbnail at once, swap in the full image when it has loaded.
      const full = new Image();
      full.onload = () => { if (g.pictures[this.index]?.id === p.id) this.img.src = p.url; };
      full.src = p.url;
    }
    for (const n of [g.pictures[i + 1], g.pictures[i - 1]]) if (n) new Image().src = n.thumbUrl || n.url;
    const mission = p.mission_id ? g.opts.missions?.().get(String(p.mission_id)) : null;
    const byName = h('strong', null, p.user_id && g.filter.uploader !== p.user_id
      ? h('button.link.who', { type: 'button', title: t('gallery.onlyOf', { name: p.u_name }),
        onclick: () => { this.close(); g.setFilter({ uploader: /** @type {string} */ (p.user_id), name: p.u_name }); } }, p.u_name)
      : p.u_name);
    replace(this.caption,
      byName, ' · ', h('time', { datetime: p.created_at }, timeOf(p.created_at)),
      p.status === 'pending' ? h('span.badge.inline', null, t('gallery.pending')) : null,
      mission ? h('div.muted', null, icon('target'), ' ', mission) : null);
    /** @type {HTMLElement[]} */
    const acts = [h('a.btn.small', { href: p.url, download: p.original_filename || 'photo.jpg', target: '_blank', rel: 'noopener' }, t('lightbox.open'))];
    // A guest's download, as the host allows it (the display copy, or the original).
    if (!g.opts.host && g.opts.downloads?.() !== 'none' && p.variants === 'ready') {
      const q = g.opts.userId ? `?userId=${encodeURIComponent(g.opts.userId)}` : '';
      acts.push(h('a.btn.small', { href: apiUrl(`/pictures/${p.id}/download${q}`), download: '' }, t('lightbox.download')));
    }
    if (g.opts.host && p.status === 'pending') {
      acts.push(h('button.btn.small.primary', { type: 'button', onclick: () => g.approve(p) }, t('moderation.approve')));
    }
    if (g.opts.canDelete?.(p)) {
      acts.push(h('button.btn.small.danger', { type: 'button', onclick: () => g.delete(p) },
        g.opts.host && p.status === 'pending' ? t('moderation.reject') : t('action.delete')));
    }
    for (const extra of g.opts.actions?.(p) || []) if (extra) acts.push(extra);
    // A photo that arrived live carries no counts yet: none is zero.
    const reactable = p.status === 'approved' && (g.opts.reactions?.() ?? true);
    replace(this.actions, reactable ? h('div.reactions', { role: 'group', 'aria-label': t('reactions.label') },
      REACTIONS.map(([name, emoji]) => h('button.btn.small.reaction', {
        type: 'button', 'data-reaction': name, 'aria-pressed': String(p.my_reaction === name),
        'aria-label': t(`reactions.${name}`), onclick: () => g.react(p, name),
      }, emoji, ' ', h('span.n', null, String(p.reactions?.[name] || 0))))) : null, acts);
    this.img.alt = t('gallery.photoBy', { name: p.u_name, time: timeOf(p.created_at) });
    this.panel ||= import('./comments.js').then((m) => new m.Comments(g, /** @type {HTMLElement} */ (this.actions.parentElement)));
    this.panel.then((c) => c.show(p), () => (this.panel = undefined));
  }
}
