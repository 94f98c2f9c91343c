// `/`: what PartyPic is, joining an event by link or code, and the host's sign-up / log-in.
import { api, auth, saveAuth, isUuid, takeReturn, ApiError } from './api.js';
import { h, replace } from './dom.js';
import { field, validateAll, busy } from './forms.js';
import { t } from './i18n.js';
import { navigate } from './router.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** @param {HTMLElement} main */
export function landing(main) {
  document.title = t('app.title');
  const me = auth();
  main.append(
    h('section.hero', null,
      h('h1', null, t('landing.headline')),
      h('p.lead', null, t('landing.lead')),
      h('p', null, h('a.btn.primary', { href: me ? '/host' : '#host' }, me ? t('landing.toDashboard') : t('landing.ctaHost'))),
      h('ul.features', null,
        h('li', null, h('strong', null, t('landing.f1')), ' ', t('landing.f1b')),
        h('li', null, h('strong', null, t('landing.f2')), ' ', t('landing.f2b')),
        h('li', null, h('strong', null, t('landing.f3')), ' ', t('landing.f3b')),
        h('li', null, h('strong', null, t('landing.f4')), ' ', t('landing.f4b')))),
    joinCard(),
    me
      ? h('section.card', null, h('h2', null, t('landing.welcomeBack')),
        h('p', null, t('landing.loggedInAs', { email: me.email })),
        h('a.btn.primary', { href: '/host' }, t('landing.toDashboard')))
      : authCard());
}

function joinCard() {
  const f = field(t('landing.joinLabel'), { name: 'code', placeholder: t('landing.joinPlaceholder'), autocomplete: 'off' },
    (v) => (extractId(v) || extractCode(v) ? '' : t('landing.joinInvalid')));
  return h('section.card', null,
    h('h2', null, t('landing.joinTitle')),
    h('form', {
      novalidate: true,
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        if (!validateAll([f])) return;
        const id = extractId(f.input.value);
        navigate(id ? `/s/${id}` : `/j/${extractCode(f.input.value)}`);
      },
    }, f.wrap, h('button.btn', { type: 'submit' }, t('landing.joinButton'))),
    h('p.muted', null, t('venue.codeInvalid')));
}

/** Join codes: 8 characters without 0/O, 1/I/L and U (the server's domain/join_code.rs). */
const CODE = /^[2-9ABCDEFGHJKMNPQRSTVWXYZ]{8}$/;

/** A join code typed (`k7qm-2xdp`) or in a short link (`…/j/K7QM2XDP`), compact; else ''. @param {string} v */
function extractCode(v) {
  const fromLink = v.match(/\/j\/([0-9A-Za-z-]+)/);
  const compact = (fromLink ? fromLink[1] : v).replace(/[\s-]/g, '').toUpperCase();
  return CODE.test(compact) ? compact : '';
}

/**
 * `/j/{code}`: the short link on cards and the slideshow; looks the code up and opens the event.
 * @param {HTMLElement} main @param {string} code
 */
export function joinByCode(main, code) {
  document.title = t('app.title');
  const status = h('p.muted', { role: 'status' }, t('venue.codeLooking'));
  main.append(h('section.card', null, h('h1', null, t('venue.enterCode')), status));
  let gone = false;
  const compact = extractCode(code);
  const fail = (/** @type {string} */ message) => {
    if (gone) return;
    replace(status, h('span.form-error', null, message), ' ', h('a', { href: '/' }, t('guest.home')));
  };
  if (!compact) {
    fail(t('venue.codeInvalid'));
  } else {
    api(`/sessions/by-code/${encodeURIComponent(compact)}`).then((s) => {
      if (!gone) navigate(`/s/${s.id}`, { replace: true });
    }).catch((e) => fail(e instanceof ApiError && e.status === 404 ? t('venue.codeUnknown') : /** @type {Error} */ (e).message));
  }
  return () => { gone = true; };
}

/** @param {string} v */
function extractId(v) {
  const m = v.trim().match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
  return m && isUuid(m[0]) ? m[0] : '';
}

function authCard() {
  const section = h('section.card', { id: 'host' });
  /** @param {'register' | 'login'} mode */
  const show = (mode) => {
    section.replaceChildren(
      h('h2', null, t('landing.hostTitle')),
      h('p', null, t('landing.hostLead')),
      h('div.tabs', { role: 'tablist' },
        h('button', { type: 'button', role: 'tab', 'aria-selected': String(mode === 'register'), onclick: () => show('register') }, t('auth.register')),
        h('button', { type: 'button', role: 'tab', 'aria-selected': String(mode === 'login'), onclick: () => show('login') }, t('auth.login'))),
      form(mode));
  };
  show('register');
  return section;
}

/** @param {'register' | 'login'} mode */
function form(mode) {
  const name = field(t('auth.name'), { name: 'username', autocomplete: 'name', maxlength: 50, required: true },
    (v) => (!v.trim() ? t('auth.nameRequired') : v.length > 50 ? t('auth.nameTooLong') : ''));
  const email = field(t('auth.email'), { name: 'email', type: 'email', autocomplete: 'email', required: true },
    (v) => (!v.trim() ? t('auth.emailRequired') : EMAIL.test(v.trim()) ? '' : t('auth.emailInvalid')));
  const password = field(t('auth.password'), {
    name: 'password', type: 'password', required: true, minlength: mode === 'register' ? 8 : undefined,
    autocomplete: mode === 'register' ? 'new-password' : 'current-password',
  }, (v) => (!v ? t('auth.passwordRequired') : mode === 'register' && v.length < 8 ? t('auth.passwordShort') : ''));
  const fields = mode === 'register' ? [name, email, password] : [email, password];
  const error = h('p.form-error', { role: 'alert' });
  const submit = /** @type {HTMLButtonElement} */ (h('button.btn.primary', { type: 'submit' },
    mode === 'register' ? t('auth.registerButton') : t('auth.loginButton')));

  return h('form', {
    novalidate: true,
    'aria-label': mode === 'register' ? t('auth.register') : t('auth.login'),
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = '';
      if (!validateAll(fields)) return;
      busy(submit, true);
      const creds = { email: email.input.value.trim(), password: password.input.value };
      try {
        if (mode === 'register') {
          await api('/auth/register', { body: { username: name.input.value.trim(), ...creds } });
        }
        saveAuth(await api('/auth/login', { body: creds }));
        navigate(takeReturn('/host'));
      } catch (err) {
        const e2 = /** @type {import('./api.js').ApiError} */ (err);
        // Once: at the field it concerns (announced there), else above the button.
        const at = e2.code === 'auth.email_taken' || e2.status === 409 ? email
          : e2.code === 'auth.invalid_credentials' || e2.status === 401 ? password : null;
        if (at) {
          at.setError(e2.message);
          at.input.focus();
        } else {
          error.textContent = e2.message;
        }
      } finally {
        busy(submit, false);
      }
    },
  }, fields.map((f) => f.wrap), error, submit,
  mode === 'login' ? h('p', null, h('a', { href: '/reset' }, t('reset.forgot'))) : null);
}
