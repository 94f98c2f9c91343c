// `/print/{id}`: printable table cards with the event's cover, name, welcome text, QR code, join
// link and code, and a mission; in the event's accent colour.
import { apiUrl, getSession, eventName, joinUrl } from './api.js';
import { h, replace } from './dom.js';
import { applyAccent, coverImage, coverOf, welcomeOf } from './identity.js';
import { t, missionText } from './i18n.js';

/** @param {HTMLElement} main @param {string} id */
export function print(main, id) {
  document.body.className = 'print-mode';
  const sheet = h('div.cards');
  const count = /** @type {HTMLSelectElement} */ (h('select', { id: 'card-count', onchange: () => draw() },
    [4, 8, 12, 16, 24].map((n) => h('option', { value: n, selected: n === 8 }, String(n)))));
  main.append(
    h('div.print-controls.no-print', null,
      h('a.back', { href: `/host/${id}` }, '← ', t('host.back')),
      h('h1', null, t('print.title')),
      h('p.muted', null, t('print.lead')),
      h('div.row', null,
        h('label', { for: 'card-count' }, t('print.count')), count,
        h('button.btn.primary', { type: 'button', onclick: () => window.print() }, t('print.print')))),
    sheet);

  /** @type {import('./api.js').Session | null} */
  let session = null;
  function draw() {
    if (!session) return;
    const s = session;
    const missions = [...s.missions.data].sort(() => Math.random() - 0.5);
    // The short link and its QR code (fewer modules) when the event has a join code.
    const code = s.join_code || '';
    const url = code ? `${location.origin}/j/${code.replace('-', '')}` : joinUrl(id);
    const cover = coverOf(s);
    const welcome = welcomeOf(s);
    replace(sheet, Array.from({ length: Number(count.value) }, (_, i) => h('article.table-card', null,
      cover ? coverImage('img.card-cover', cover, '') : null,
      h('p.eyebrow', null, t('print.eyebrow')),
      h('h2', null, eventName(s)),
      welcome ? h('p.card-welcome', null, welcome) : null,
      h('img', { src: apiUrl(`/sessions/${id}/qr.svg${code ? '?short=true' : ''}`), alt: t('share.qrAlt') }),
      h('p.scan', null, t('print.scan')),
      code ? h('p.card-code', null, t('venue.code'), ' ', h('strong.join-code', null, code)) : null,
      h('p.url', null, url.replace(/^https?:\/\//, '')),
      missions.length ? h('p.teaser', null, h('strong', null, t('print.mission')), ' ', missionText(missions[i % missions.length].description)) : null)));
  }

  getSession(id).then((s) => {
    session = s;
    applyAccent(s);
    document.title = `${eventName(s)} · ${t('print.title')}`;
    draw();
  }).catch((e) => replace(sheet, h('p.form-error', null, e.message)));
  return () => applyAccent(null);
}
