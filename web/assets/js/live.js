// Live updates of one event over Server-Sent Events. EventSource reconnects by itself; after a
// reconnect (events may have been missed) and when the stream is unavailable, `resync` is
// called so the caller can fetch the newest state instead.
import { apiUrl } from './api.js';

/**
 * @typedef {{created?: (p: any) => void, updated?: (p: any) => void, deleted?: (d: {id: string}) => void,
 *   guests?: (d: {online: number}) => void, session?: (s: any) => void, resync?: () => void,
 *   reactions?: (d: any) => void, comment?: (k: any, d: any) => void, guestbook?: (k: string, d: any) => void}} Handlers
 */

/**
 * @param {string} sessionId
 * @param {{userId?: string, token?: string}} who
 * @param {Handlers} on
 * @returns {() => void} close
 */
export function live(sessionId, who, on) {
  const q = new URLSearchParams();
  if (who.userId) q.set('userId', who.userId);
  if (who.token) q.set('access_token', who.token);
  /** @type {EventSource | null} */
  let es = null;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let poll;
  let opened = 0;
  let closed = false;

  const json = (/** @type {(d: any) => void} */ fn) => (/** @type {Event} */ e) => {
    try { fn(JSON.parse(/** @type {MessageEvent} */ (e).data)); } catch { /* malformed event: skip */ }
  };

  function connect() {
    if (closed || !('EventSource' in window)) return startPolling();
    es = new EventSource(apiUrl(`/sessions/${sessionId}/events?${q}`));
    es.addEventListener('open', () => {
      if (opened++ > 0) on.resync?.();
      stopPolling();
    });
    if (on.created) es.addEventListener('picture.created', json(on.created));
    if (on.updated) es.addEventListener('picture.updated', json(on.updated));
    if (on.deleted) es.addEventListener('picture.deleted', json(on.deleted));
    if (on.guests) es.addEventListener('guests', json(on.guests));
    if (on.reactions) es.addEventListener('picture.reactions', json(on.reactions));
    for (const k of ['added', 'deleted']) if (on.comment) es.addEventListener(`comment.${k}`, json((d) => on.comment?.(k, d)));
    for (const k of ['added', 'deleted']) if (on.guestbook) es.addEventListener(`guestbook.${k}`, json((d) => on.guestbook?.(k, d)));
    if (on.session) es.addEventListener('session.updated', json(on.session));
    // The server dropped events for this client (it fell behind): fetch the state instead.
    es.addEventListener('resync', () => on.resync?.());
    es.addEventListener('error', () => {
      // CLOSED means the browser gave up (e.g. 404 from a server without the stream): poll,
      // and try the stream again later.
      if (es && es.readyState === EventSource.CLOSED) {
        es = null;
        startPolling();
        setTimeout(connect, 60_000);
      }
    });
  }

  function startPolling() {
    if (poll || closed || !on.resync) return;
    poll = setInterval(() => document.visibilityState === 'visible' && on.resync?.(), 15_000);
  }
  function stopPolling() {
    clearInterval(poll);
    poll = undefined;
  }

  connect();
  return () => {
    closed = true;
    es?.close();
    stopPolling();
  };
}
