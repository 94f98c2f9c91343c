// Labelled fields with inline validation messages tied to the input (aria-describedby).
import { h } from './dom.js';

let seq = 0;

/**
 * @param {string} label
 * @param {Record<string, any>} attrs  input attributes (name, type, required, …)
 * @param {(value: string) => string} [validate]  returns an error message or ''
 */
export function field(label, attrs, validate) {
  const id = `f${++seq}`;
  const msg = h('p.field-error', { id: `${id}-err`, 'aria-live': 'polite' });
  const input = /** @type {HTMLInputElement} */ (h(attrs.type === 'textarea' ? 'textarea' : 'input',
    { id, 'aria-describedby': `${id}-err`, ...attrs, type: attrs.type === 'textarea' ? undefined : attrs.type }));
  const wrap = h('div.field', null, h('label', { for: id }, label), input, msg);
  const check = () => {
    const error = validate ? validate(input.value) : '';
    setError(error);
    return !error;
  };
  /** @param {string} error */
  const setError = (error) => {
    msg.textContent = error;
    if (error) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  input.addEventListener('blur', () => { if (input.value) check(); });
  input.addEventListener('input', () => { if (msg.textContent) check(); });
  return { wrap, input, check, setError };
}

/**
 * Run every field's check; focus the first invalid one.
 * @param {{input: HTMLInputElement, check: () => boolean}[]} fields
 */
export function validateAll(fields) {
  let ok = true;
  for (const f of fields) {
    if (!f.check() && ok) {
      ok = false;
      f.input.focus();
    }
  }
  return ok;
}

/** @param {HTMLButtonElement} button @param {boolean} busy */
export function busy(button, busy) {
  button.disabled = busy;
  button.classList.toggle('busy', busy);
  button.setAttribute('aria-busy', String(busy));
}
