// Event identity: the host's accent colour, cover photo and welcome text, as the guest pages,
// the slideshow and the table cards show them. The colour is a CSS custom property; text on it
// turns black or white, whichever reads better (WCAG contrast).
import { h } from './dom.js';

/** @typedef {import('./api.js').Session} Session */

/** The event's accent as `#rrggbb`, or '' when unset or not a colour. @param {Session} s */
export function accentOf(s) {
  const c = s.settings?.accent_color;
  return typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c) ? c.toLowerCase() : '';
}

/** The cover image's URL, or '' without a cover. @param {Session} s */
export function coverOf(s) {
  const url = /** @type {{cover_url?: unknown}} */ (s).cover_url;
  return typeof url === 'string' ? url : '';
}

/**
 * The cover as an image; hidden if it does not load (an expired link in the copy of the event a
 * phone kept for offline use).
 * @param {string} tag e.g. `img.join-cover` @param {string} url @param {string} alt
 */
export function coverImage(tag, url, alt) {
  return h(/** @type {'img'} */ (tag), { src: url, alt, onerror: (/** @type {Event} */ e) => { /** @type {HTMLElement} */ (e.target).hidden = true; } });
}

/** The host's welcome text, or ''. @param {Session} s */
export function welcomeOf(s) {
  const w = s.settings?.welcome_text;
  return typeof w === 'string' ? w.trim() : '';
}

/** WCAG relative luminance of `#rrggbb`. @param {string} hex */
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two `#rrggbb` colours (1 to 21). @param {string} a @param {string} b */
export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Black or white: whichever is more readable on `hex`. @param {string} hex */
export function inkOn(hex) {
  return contrast(hex, '#000000') >= contrast(hex, '#ffffff') ? '#000000' : '#ffffff';
}

/** `hex` darkened just enough to be readable as text on a light page (4.5:1 on white). @param {string} hex */
export function textShade(hex) {
  let [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const toHex = () => `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
  for (let i = 0; i < 40 && contrast(toHex(), '#ffffff') < 4.5; i++) [r, g, b] = [r * 0.92, g * 0.92, b * 0.92];
  return toHex();
}

const PROPS = ['--brand', '--brand-ink', '--brand-text'];

/**
 * Paints the page in the event's accent (buttons, links, highlights); without one, in PartyPic's
 * own colour. On `document.body`, so the header, dialogs and toasts follow.
 * @param {Session | null} s
 */
export function applyAccent(s) {
  const style = document.body.style;
  const c = s ? accentOf(s) : '';
  if (!c) {
    for (const p of PROPS) style.removeProperty(p);
    return;
  }
  style.setProperty('--brand', c);
  style.setProperty('--brand-ink', inkOn(c));
  style.setProperty('--brand-text', textShade(c));
}

/** Suggested accents: PartyPic's own, then calm wedding colours. */
export const ACCENT_PRESETS = ['#a3195b', '#1d3557', '#2f6f5e', '#c9a227', '#f4c2c2', '#b5543c', '#6d4c9f'];
