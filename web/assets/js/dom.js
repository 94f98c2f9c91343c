// A tiny hyperscript helper: enough DOM building for this app without a framework.
import { t } from './i18n.js';

/** @typedef {string | number | Node | null | undefined | false} Child */

/**
 * @template {string} T
 * @typedef {T extends `${infer N}.${string}` ? Tag<N> : T extends keyof HTMLElementTagNameMap ? HTMLElementTagNameMap[T] : HTMLElement} Tag
 */

/**
 * @template {string} T
 * @param {T} tag  element name, optionally with `.class` suffixes (`div.card.big`)
 * @param {Record<string, any> | null} [props]  attributes; `on*` functions become listeners
 * @param {...(Child | Child[])} children
 * @returns {Tag<T>}
 */
export function h(tag, props, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = [el.className, value].filter(Boolean).join(' ');
    } else if (key === 'style' && typeof value === 'object') {
      Object.assign(el.style, value);
    } else if (key in el && typeof value !== 'string') {
      /** @type {any} */ (el)[key] = value;
    } else if (key === 'value' || key === 'checked') {
      /** @type {any} */ (el)[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return /** @type {Tag<T>} */ (el);
}

/**
 * @param {Node} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** @param {Element} el @param {...(Child | Child[])} children */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Short-lived message at the bottom of the screen, announced to screen readers. A toast with a
 * `key` replaces the one still showing under that key (one running "3 photos uploaded", not three).
 * @param {string} text @param {string} [kind] @param {string} [key]
 */
export function toast(text, kind = 'info', key = '') {
  // Inside a modal dialog (the top layer) a toast on the page would be hidden behind it.
  const layer = /** @type {HTMLElement} */ (document.querySelector('dialog[open]') || document.body);
  let box = /** @type {HTMLElement | null} */ (layer.querySelector(':scope > .toasts'));
  if (!box) {
    box = h('div.toasts', { id: layer === document.body ? 'toasts' : undefined, role: 'status', 'aria-live': 'polite' });
    layer.append(box);
  }
  const old = key ? /** @type {HTMLElement | null} */ ([...box.children].find((c) => /** @type {HTMLElement} */ (c).dataset.key === key) || null) : null;
  const item = old || h('div.toast', { 'data-key': key || undefined });
  item.className = `toast ${kind}`;
  item.textContent = text;
  if (!old) box.append(item);
  while (box.children.length > 3) box.firstElementChild?.remove();
  clearTimeout(Number(item.dataset.timer));
  item.dataset.timer = String(setTimeout(() => item.remove(), 4500));
}

/**
 * An in-app confirmation (instead of the browser's `confirm()`, which phones show as a bare
 * system box and some in-app browsers suppress). Resolves true when confirmed.
 * @param {string} text @param {{ok?: string, cancel?: string, danger?: boolean}} [opts]
 * @returns {Promise<boolean>}
 */
export function ask(text, opts = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const dialog = /** @type {HTMLDialogElement} */ (h('dialog.confirm', { 'aria-label': text },
      h('form', { method: 'dialog' },
        h('p', null, text),
        h('div.row.end', null,
          h('button.btn', { type: 'submit', value: 'cancel' }, opts.cancel || t('action.cancel')),
          h(opts.danger === false ? 'button.btn.primary' : 'button.btn.danger', {
            type: 'submit', value: 'ok', onclick: () => { answer = true; },
          }, opts.ok || t('action.confirm'))))));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(answer); });
    (document.querySelector('dialog[open]') || document.body).append(dialog);
    dialog.showModal();
  });
}

/** @param {string | Date} when */
export function timeOf(when) {
  const d = new Date(when);
  const sameDay = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(document.documentElement.lang || undefined, sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/** @param {number} bytes */
export function sizeOf(bytes) {
  return bytes > 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} KB`;
}

const ICONS = {
  camera: 'M9 4 7.2 6H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-3.2L15 4H9zm3 4.5a4.5 4.5 0 1 1 0 9 4.5 4.5 0 0 1 0-9zm0 2a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z',
  images: 'M4 5h12a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2zm0 11h12l-4-5-3 3.5-2-2L4 16zM20 8h2v11a3 3 0 0 1-3 3H6v-2h13a1 1 0 0 0 1-1V8zM7 8.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z',
  dice: 'M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm2.5 3a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm9 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm-4.5 4.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zM7.5 15a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm9 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z',
  target: 'M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm0 3a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
  flip: 'M12 5V2L8 6l4 4V7a5 5 0 0 1 5 5 5 5 0 0 1-.6 2.4l1.5 1.5A7 7 0 0 0 12 5zm-5 7a5 5 0 0 1 .6-2.4L6.1 8.1A7 7 0 0 0 12 19v3l4-4-4-4v3a5 5 0 0 1-5-5z',
};

/** An inline SVG icon (no icon font, no emoji font needed). @param {keyof typeof ICONS} name */
export function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

/**
 * A random UUID. crypto.randomUUID exists only in secure contexts, and a phone that joins a
 * self-hosted server over plain http on the LAN is not one.
 */
export function uid() {
  if (typeof crypto.randomUUID === 'function' && isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
