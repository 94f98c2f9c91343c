// Co-hosts: the owner's section in the invite tab (make a one-time link, see and remove
// co-hosts; a co-host may leave), and `/cohost#TOKEN`, where an invited host logs in and accepts.
// Loaded with the host pages only, with its own strings, so a guest's first visit stays small.
import { api, auth, rememberReturn } from './api.js';
import { ask, h, replace, timeOf, toast } from './dom.js';
import { lang } from './i18n.js';
import { navigate } from './router.js';

/** @typedef {import('./api-types').components['schemas']['EventHostView']} EventHost */

const STRINGS = {
  en: {
    title: 'Co-hosts', badge: 'Co-host', owner: 'Owner', you: '(you)',
    lead: 'Co-hosts help you run this event: they approve and delete photos and comments, change the settings, start the slideshow and download the photos. Only you can delete the event or add and remove co-hosts.',
    leadCoHost: 'You co-host this event. The owner can delete it and manage co-hosts.',
    create: 'Create co-host link', link: 'Co-host link', copy: 'Copy', copied: 'Link copied',
    linkHint: 'Send it to one person. It works once, until {time}; they log in or create a host account to accept it.',
    remove: 'Remove', removed: 'Co-host removed', leave: 'Leave this event', left: 'You are no longer a co-host of this event.',
    confirmRemove: 'Remove {name} as co-host?', confirmLeave: 'Leave this event? You can only come back with a new link.',
    inviteTitle: 'You are invited to co-host an event',
    inviteLead: 'As a co-host you help run the event: approve photos, change settings, start the slideshow, download the photos.',
    inviteLogin: 'Log in or create a host account to accept the invitation.',
    loginButton: 'Log in or register', accept: 'Accept and open the event', accepted: 'You are a co-host of this event now',
    noToken: 'This co-host link is incomplete. Please open the whole link you were sent.',
  },
  de: {
    title: 'Co-Gastgeber', badge: 'Co-Gastgeber', owner: 'Inhaber', you: '(du)',
    lead: 'Co-Gastgeber helfen dir bei diesem Event: Sie geben Fotos und Kommentare frei oder löschen sie, ändern die Einstellungen, starten die Diashow und laden die Fotos herunter. Nur du kannst das Event löschen und Co-Gastgeber hinzufügen oder entfernen.',
    leadCoHost: 'Du bist Co-Gastgeber dieses Events. Der Inhaber kann es löschen und Co-Gastgeber verwalten.',
    create: 'Co-Gastgeber-Link erstellen', link: 'Co-Gastgeber-Link', copy: 'Kopieren', copied: 'Link kopiert',
    linkHint: 'Schick ihn an eine Person. Er gilt einmal, bis {time}; zum Annehmen meldet sie sich an oder legt ein Gastgeber-Konto an.',
    remove: 'Entfernen', removed: 'Co-Gastgeber entfernt', leave: 'Event verlassen', left: 'Du bist nicht mehr Co-Gastgeber dieses Events.',
    confirmRemove: '{name} als Co-Gastgeber entfernen?', confirmLeave: 'Dieses Event verlassen? Zurück kommst du nur mit einem neuen Link.',
    inviteTitle: 'Du bist als Co-Gastgeber eingeladen',
    inviteLead: 'Als Co-Gastgeber hilfst du beim Event: Fotos freigeben, Einstellungen ändern, die Diashow starten, die Fotos herunterladen.',
    inviteLogin: 'Melde dich an oder lege ein Gastgeber-Konto an, um die Einladung anzunehmen.',
    loginButton: 'Anmelden oder registrieren', accept: 'Annehmen und Event öffnen', accepted: 'Du bist jetzt Co-Gastgeber dieses Events',
    noToken: 'Dieser Co-Gastgeber-Link ist unvollständig. Bitte öffne den ganzen Link, den du bekommen hast.',
  },
};

/** @param {keyof typeof STRINGS.en} key @param {Record<string, string>} [vars] */
export function cht(key, vars = {}) {
  const text = (STRINGS[lang] || STRINGS.en)[key];
  return text.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');
}

/** Where a link's token waits while its receiver logs in (the log-in form returns to `/cohost`). */
const PENDING = 'pp.cohost';

/**
 * The event's hosts for its invite tab. The owner makes links and removes co-hosts; a co-host
 * sees who runs the event and may leave.
 * @param {string} id @param {string} token @param {string} me the asker's account id
 * @param {'owner' | 'co_host'} role
 */
export function cohostsSection(id, token, me, role) {
  const list = h('ul.cohosts', { 'aria-live': 'polite' });
  const linkBox = h('div.cohost-link', { hidden: true });
  const error = h('p.form-error', { role: 'alert' });
  const base = `/sessions/${encodeURIComponent(id)}`;

  async function load() {
    try {
      /** @type {EventHost[]} */
      const hosts = await api(`${base}/cohosts`, { token });
      replace(list, hosts.map((host) => h('li', { 'data-host': host.host_id },
        h('span', null, host.username || host.email, ' ',
          h('span.muted', null, host.role === 'owner' ? cht('owner') : host.email, host.host_id === me ? ` ${cht('you')}` : '')),
        removeButton(host))));
    } catch (e) {
      error.textContent = /** @type {Error} */ (e).message;
    }
  }

  /** @param {EventHost} host */
  function removeButton(host) {
    if (host.role === 'owner') return null;
    const leaving = host.host_id === me;
    if (role !== 'owner' && !leaving) return null;
    return h('button.btn.small.danger', {
      type: 'button',
      'data-remove': host.host_id,
      onclick: async () => {
        const text = leaving ? cht('confirmLeave') : cht('confirmRemove', { name: host.username || host.email });
        if (!await ask(text, { ok: leaving ? cht('leave') : cht('remove') })) return;
        try {
          await api(`${base}/cohosts/${encodeURIComponent(host.host_id)}`, { method: 'DELETE', token });
          if (leaving) {
            toast(cht('left'));
            navigate('/host');
            return;
          }
          toast(cht('removed'));
          load();
        } catch (e) {
          error.textContent = /** @type {Error} */ (e).message;
        }
      },
    }, leaving ? cht('leave') : cht('remove'));
  }

  const create = role === 'owner' ? h('button.btn', {
    type: 'button',
    'data-cohost-create': '',
    onclick: async () => {
      error.textContent = '';
      try {
        const invite = await api(`${base}/cohost-invites`, { method: 'POST', token });
        const input = /** @type {HTMLInputElement} */ (h('input', { id: 'cohost-url', value: invite.url, readonly: true, onfocus: () => input.select() }));
        const copy = async () => {
          try { await navigator.clipboard.writeText(invite.url); toast(cht('copied')); } catch { input.select(); }
        };
        linkBox.hidden = false;
        replace(linkBox,
          h('div.field', null, h('label', { for: 'cohost-url' }, cht('link')),
            h('div.row', null, input, h('button.btn.small', { type: 'button', onclick: copy }, cht('copy')))),
          h('p.muted', null, cht('linkHint', { time: timeOf(invite.expires_at) })));
      } catch (e) {
        error.textContent = /** @type {Error} */ (e).message;
      }
    },
  }, cht('create')) : null;

  load();
  return h('section.cohosts-section', null,
    h('h2', null, cht('title')),
    h('p', null, role === 'owner' ? cht('lead') : cht('leadCoHost')),
    list, create, linkBox, error);
}

/**
 * `/cohost#TOKEN`: the invited host logs in (or registers), then accepts and lands on the event.
 * @param {HTMLElement} main
 */
export function acceptCohost(main) {
  const fromLink = location.hash.replace(/^#/, '').trim();
  if (fromLink) {
    try { sessionStorage.setItem(PENDING, fromLink); } catch { /* storage off: accept right away only */ }
    // The token stays out of the address bar, the history and any shared screenshot.
    history.replaceState(null, '', '/cohost');
  }
  let linkToken = fromLink;
  try { linkToken = linkToken || sessionStorage.getItem(PENDING) || ''; } catch { /* storage off */ }
  document.title = `${cht('inviteTitle')} · PartyPic`;
  const error = h('p.form-error', { role: 'alert' });
  main.append(h('h1', null, cht('inviteTitle')), h('p', null, cht('inviteLead')));
  if (!linkToken) {
    main.append(h('p.form-error', { role: 'alert' }, cht('noToken')));
    return;
  }
  const a = auth();
  if (!a) {
    main.append(h('p', null, cht('inviteLogin')),
      h('button.btn.primary', {
        type: 'button',
        'data-cohost-login': '',
        onclick: () => {
          rememberReturn();
          navigate('/');
          setTimeout(() => document.getElementById('host')?.scrollIntoView(), 0);
        },
      }, cht('loginButton')));
    return;
  }
  const accept = /** @type {HTMLButtonElement} */ (h('button.btn.primary', {
    type: 'button',
    'data-cohost-accept': '',
    onclick: async () => {
      error.textContent = '';
      accept.disabled = true;
      try {
        const accepted = await api('/sessions/cohost-invites/accept', { token: a.token, body: { token: linkToken } });
        try { sessionStorage.removeItem(PENDING); } catch { /* storage off */ }
        toast(cht('accepted'));
        navigate(`/host/${accepted.session_id}`);
      } catch (e) {
        error.textContent = /** @type {Error} */ (e).message;
        accept.disabled = false;
      }
    },
  }, cht('accept')));
  main.append(h('p.muted', null, a.email), accept, error);
}
