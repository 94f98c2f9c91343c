// `/reset`: asking for a password-reset mail, and setting a new password with its link (`?token=`).
import { api } from './api.js';
import { h, toast } from './dom.js';
import { field, validateAll, busy } from './forms.js';
import { t } from './i18n.js';
import { navigate } from './router.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** @param {HTMLElement} main */
export function reset(main) {
  document.title = t('reset.title');
  const token = new URLSearchParams(location.search).get('token');
  main.append(h('section.card', null, h('h1', null, t('reset.title')), token ? setPassword(token) : askForMail()));
}

function askForMail() {
  const email = field(t('auth.email'), { name: 'email', type: 'email', autocomplete: 'email', required: true },
    (v) => (!v.trim() ? t('auth.emailRequired') : EMAIL.test(v.trim()) ? '' : t('auth.emailInvalid')));
  const note = h('p', { role: 'status' });
  const submit = /** @type {HTMLButtonElement} */ (h('button.btn.primary', { type: 'submit' }, t('reset.send')));
  return h('form', {
    novalidate: true,
    'aria-label': t('reset.title'),
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      note.textContent = '';
      if (!validateAll([email])) return;
      busy(submit, true);
      try {
        await api('/auth/password-reset', { body: { email: email.input.value.trim() } });
        note.textContent = t('reset.sent');
      } catch (err) {
        note.textContent = /** @type {Error} */ (err).message;
      } finally {
        busy(submit, false);
      }
    },
  }, h('p', null, t('reset.lead')), email.wrap, note, submit);
}

/** @param {string} token */
function setPassword(token) {
  const password = field(t('reset.newPassword'), { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' },
    (v) => (!v ? t('auth.passwordRequired') : v.length < 8 ? t('auth.passwordShort') : ''));
  const error = h('p.form-error', { role: 'alert' });
  const submit = /** @type {HTMLButtonElement} */ (h('button.btn.primary', { type: 'submit' }, t('reset.save')));
  return h('form', {
    novalidate: true,
    'aria-label': t('reset.title'),
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      error.textContent = '';
      if (!validateAll([password])) return;
      busy(submit, true);
      try {
        await api('/auth/password-reset/confirm', { body: { token, password: password.input.value } });
        navigate('/#host', { replace: true });
        toast(t('reset.done'));
      } catch (err) {
        error.textContent = /** @type {Error} */ (err).message;
      } finally {
        busy(submit, false);
      }
    },
  }, password.wrap, error, submit);
}
