// JSON API client. Errors carry a message for people, in their language: the translation of the
// body's `code`, else a message by HTTP status.
import { t, errorMessage } from './i18n.js';

export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {string} [code] the API's error code */
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
    /** @type {string | undefined} what the server said, for developers */
    this.detail = undefined;
  }

  /**
   * The error an API response stands for; `body` is its parsed JSON, if any. The message is
   * always in the guest's language: a code this client does not know (a newer server) gets a
   * message by its status, never the server's English text (kept in `detail` for the console).
   * @param {number} status @param {string} statusText @param {any} body
   */
  static from(status, statusText, body) {
    const code = typeof body?.code === 'string' ? body.code : undefined;
    const detail = typeof body?.message === 'string' ? body.message
      : Array.isArray(body?.message) ? body.message.join(', ') : `${status} ${statusText}`;
    const err = new ApiError(status, errorMessage(code) ?? byStatus(status), code);
    err.detail = detail;
    return err;
  }
}

/** A message for an error without a known code, by its HTTP status. @param {number} status */
function byStatus(status) {
  const code = status === 401 ? 'auth.invalid_token'
    : status === 404 ? 'route.not_found'
    : status === 413 ? 'request.body_too_large'
    : status === 429 ? 'service.busy'
    : status >= 500 ? 'internal'
    : '';
  return errorMessage(code) ?? t('error.generic');
}

/**
 * The API's shapes come from its OpenAPI document: api-types.d.ts is generated
 * (scripts/check-generated --write) and never shipped to browsers.
 * @typedef {import('./api-types').components['schemas']} Schemas
 * @typedef {Schemas['Mission']} Mission
 * @typedef {Schemas['GuestView']} Guest
 * @typedef {Schemas['PictureView']} Picture
 * @typedef {Schemas['LoginResponse']} Login
 * The API's error codes: the published `ErrorCode` enum; any string until the document has one.
 * @typedef {Schemas extends {ErrorCode: infer C} ? C : string} ErrorCode
 * The server keeps event settings free-form; these are the keys this client reads and writes.
 * @typedef {{name?: string, description?: string, ends_at?: string, require_approval?: boolean,
 *   reveal?: 'always' | 'after_reveal', revealed?: boolean, reveal_at?: string | null, guest_delete?: boolean,
 *   upload_limit_per_guest?: number | null, [key: string]: unknown}} Settings
 * An event as any endpoint returns it: create adds `sessionId`, the host's list adds the counts.
 * @typedef {Omit<Schemas['SessionView'], 'settings'> & {settings: Settings}
 *   & Partial<Pick<Schemas['CreateSessionResponse'], 'sessionId'>>
 *   & Partial<Pick<Schemas['SessionListItem'], 'picture_count' | 'pending_count' | 'guest_count' | 'role'>>} Session
 */

/**
 * Where the API is: this page's origin, unless the page names another in
 * `<meta name="partypic-api" content="https://api.example.com">` (a client served apart from the
 * API; the server's CORS_ORIGINS must admit this page's origin).
 */
export const API_BASE = (document.querySelector('meta[name="partypic-api"]')?.getAttribute('content') || '').trim().replace(/\/+$/, '');

/** The absolute URL of an API path (`/sessions/…`). @param {string} path */
export const apiUrl = (path) => API_BASE + path;

/**
 * @param {string} path
 * @param {{method?: string, body?: unknown, token?: string | null, headers?: Record<string, string>, signal?: AbortSignal}} [opts]
 * @returns {Promise<any>}
 */
export async function api(path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let res;
  try {
    res = await fetch(apiUrl(path), {
      method: opts.method || (opts.body === undefined ? 'GET' : 'POST'),
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, t('error.network'));
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the status */ }
  if (res.status === 401 && opts.token) {
    // The host's token expired or was revoked: back to the log-in form, then back here.
    rememberReturn();
    logout();
    dispatchEvent(new Event('auth-expired'));
  }
  if (!res.ok) throw ApiError.from(res.status, res.statusText, data);
  return data;
}

const TOKEN = 'pp.auth';

/** @returns {{token: string, expires: number, email: string, sub: string} | null} */
export function auth() {
  try {
    const a = JSON.parse(localStorage.getItem(TOKEN) || 'null');
    if (a && a.expires > Date.now() + 60_000) return a;
  } catch { /* corrupt: treat as logged out */ }
  return null;
}

/** @param {Login} login */
export function saveAuth(login) {
  localStorage.setItem(TOKEN, JSON.stringify({
    token: login.access_token,
    expires: Date.now() + login.expires_in * 1000,
    email: login.user.email,
    sub: login.user.sub,
  }));
}

export function logout() {
  localStorage.removeItem(TOKEN);
}

const RETURN = 'pp.return';

/** Remember this page: the log-in form returns to it. */
export function rememberReturn() {
  try { sessionStorage.setItem(RETURN, location.pathname + location.search); } catch { /* storage off: go to /host */ }
}

/** Where to go after logging in: the page that asked for it, else `fallback`. @param {string} fallback */
export function takeReturn(fallback) {
  let to = null;
  try { to = sessionStorage.getItem(RETURN); sessionStorage.removeItem(RETURN); } catch { /* storage off */ }
  // Only this app's own pages (never an open redirect).
  return to && /^\/(host|slideshow|print|cohost)(\/|$)/.test(to) ? to : fallback;
}

// A logged-out visit to a host page is sent to the log-in form: remember where it wanted to go.
addEventListener('routechange', () => {
  if (/^\/host(\/|$)/.test(location.pathname) && !auth()) rememberReturn();
});

/**
 * The event; offline, the copy from the last visit, so guests can still take photos (they
 * queue) on a party's bad Wi-Fi.
 * @param {string} sessionId @returns {Promise<Session>}
 */
export async function getSession(sessionId) {
  const key = `pp.session.${sessionId}`;
  try {
    const s = await api(`/sessions/get?sessionId=${encodeURIComponent(sessionId)}`);
    try { localStorage.setItem(key, JSON.stringify(s)); } catch { /* storage full: fine */ }
    return s;
  } catch (e) {
    const cached = e instanceof ApiError && e.status === 0 && localStorage.getItem(key);
    if (cached) return JSON.parse(cached);
    throw e;
  }
}

/** The event's display name. @param {Session} s */
export function eventName(s) {
  return (s.settings && typeof s.settings.name === 'string' && s.settings.name) || t('event.untitled');
}

/** Whether uploads are still open. @param {Session} s */
export function isOpen(s) {
  const end = s.ends_at || s.settings?.ends_at;
  return !end || new Date(end).getTime() > Date.now();
}

/**
 * Whether guests still wait for the reveal (the host's button, or `reveal_at`; once that time
 * has come the server reports `revealed: true`).
 * @param {Session} s
 */
export function revealPending(s) {
  const st = s.settings || {};
  return (st.reveal === 'after_reveal' || !!st.reveal_at) && !st.revealed;
}

/** @param {string} sessionId */
export function joinUrl(sessionId) {
  return `${location.origin}/s/${sessionId}`;
}

/** @param {string} value */
export function isUuid(value) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
