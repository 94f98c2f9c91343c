// PartyPic service worker: the app shell is cached per version, so the app opens offline and
// on bad Wi-Fi; API calls and photos always go to the network. VERSION and SHELL are kept in
// sync with the files by `node scripts/sw-version.mjs` (CI checks it with --check).
/// <reference lib="webworker" />
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

// <shell>
const VERSION = '4dffb6516449';
const SHELL = [
  '/assets/app.css',
  '/assets/icon-192.png',
  '/assets/icon-512.png',
  '/assets/icon-maskable-512.png',
  '/assets/icon.svg',
  '/assets/js/api.js',
  '/assets/js/app.js',
  '/assets/js/camera.js',
  '/assets/js/dom.js',
  '/assets/js/forms.js',
  '/assets/js/gallery.js',
  '/assets/js/guest.js',
  '/assets/js/host.js',
  '/assets/js/i18n.js',
  '/assets/js/landing.js',
  '/assets/js/live.js',
  '/assets/js/print.js',
  '/assets/js/router.js',
  '/assets/js/slideshow.js',
  '/assets/js/upload.js',
  '/index.html',
  '/manifest.webmanifest'
];
// </shell>

const CACHE = `partypic-shell-${VERSION}`;
// The client's own routes (see assets/js/app.js); everything else is the server's business.
const ROUTES = /^\/(host(\/[^/]+)?|s\/[^/]+|slideshow\/[^/]+|print\/[^/]+)?\/?$/;

sw.addEventListener('install', (event) => {
  // `reload` skips the HTTP cache, so a release never caches a stale copy of a shell file.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' }))))
    .then(() => sw.skipWaiting()));
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('partypic-shell-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => sw.clients.claim()));
});

sw.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  if (req.mode === 'navigate') {
    if (!ROUTES.test(url.pathname)) return;
    // Every client route is the same app shell.
    event.respondWith(caches.match('/index.html').then((hit) => hit || fetch(req)));
    return;
  }
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(req)));
});

// Background Sync: photos queued offline (IndexedDB `partypic`/`uploads`, written by
// assets/js/upload.js) are sent when the connection returns, even after the page was closed.
// An open page sends its own queue; the server stores a photo sent twice only once.
/** @typedef {ExtendableEvent & {tag: string}} SyncEvent */
sw.addEventListener(/** @type {any} */ ('sync'), (/** @type {SyncEvent} */ event) => {
  if (event.tag !== 'partypic-uploads') return;
  event.waitUntil(sw.clients.matchAll({ type: 'window' }).then((pages) => {
    if (pages.some((c) => c.visibilityState === 'visible')) return undefined;
    return sendQueued();
  }));
});

/**
 * @typedef {{id: string, sessionId: string, userId: string, uName: string, missionId: string | null,
 *   filename: string, blob: Blob, state: string, error?: string, api?: string}} Job
 */

/** @returns {Promise<IDBDatabase>} */
function openQueue() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('partypic', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('uploads', { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * @template T
 * @param {IDBDatabase} db @param {IDBTransactionMode} mode @param {(s: IDBObjectStore) => IDBRequest<T>} fn
 * @returns {Promise<T>}
 */
function inStore(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const req = fn(db.transaction('uploads', mode).objectStore('uploads'));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** @param {string} path @param {unknown} body */
async function postJson(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error((data && data.message) || `${res.status} ${res.statusText}`), { status: res.status });
  return data;
}

async function sendQueued() {
  const db = await openQueue();
  /** @type {Job[]} */
  const jobs = await inStore(db, 'readonly', (s) => s.getAll());
  for (const job of jobs) {
    if (job.state !== 'queued') continue;
    const type = job.blob.type || 'image/jpeg';
    try {
      const init = await postJson(`${job.api || ''}/pictures/init-upload`, { session_id: job.sessionId, mimetype: type, user_id: job.userId });
      const put = await fetch(init.uploadUrl, { method: 'PUT', headers: { 'Content-Type': type }, body: job.blob });
      if (!put.ok) throw Object.assign(new Error(`upload: ${put.status}`), { status: put.status });
      await postJson(`${job.api || ''}/pictures/finalize-upload`, {
        u_name: job.uName, session_id: job.sessionId, s3_key: init.key, original_filename: job.filename,
        filesize_bytes: job.blob.size, mimetype: type, mission_id: job.missionId, user_id: job.userId,
      });
      await inStore(db, 'readwrite', (s) => s.delete(job.id));
    } catch (err) {
      const e = /** @type {Error & {status?: number}} */ (err);
      // Refused for good (event over, limit reached): leave it for the page to show. Otherwise
      // fail the sync so the browser retries it later.
      if (e.status && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
        await inStore(db, 'readwrite', (s) => s.put({ ...job, state: 'failed', error: e.message }));
        continue;
      }
      throw e;
    }
  }
}
