// PartyPic service worker: the app shell is cached per version, so the app opens offline and
// on bad Wi-Fi; API calls and photos always go to the network. VERSION and SHELL are kept in
// sync with the files by `node scripts/sw-version.mjs` (CI checks it with --check).
/// <reference lib="webworker" />
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

// <shell>
const VERSION = 'a74f13f723ed';
const SHELL = [
  '/assets/app.css',
  '/assets/comments.css',
  '/assets/guestbook.css',
  '/assets/icon-192.png',
  '/assets/icon-512.png',
  '/assets/icon-maskable-512.png',
  '/assets/icon.svg',
  '/assets/js/api.js',
  '/assets/js/app.js',
  '/assets/js/camera.js',
  '/assets/js/cohosts.js',
  '/assets/js/comments.js',
  '/assets/js/dom.js',
  '/assets/js/forms.js',
  '/assets/js/gallery.js',
  '/assets/js/guest.js',
  '/assets/js/guestbook.js',
  '/assets/js/host.js',
  '/assets/js/i18n.js',
  '/assets/js/identity.js',
  '/assets/js/landing.js',
  '/assets/js/live.js',
  '/assets/js/print.js',
  '/assets/js/reset.js',
  '/assets/js/router.js',
  '/assets/js/slideshow.js',
  '/assets/js/upload.js',
  '/assets/processing.svg',
  '/assets/slideshow.css',
  '/assets/unavailable.svg',
  '/assets/venue.css',
  '/index.html',
  '/manifest.webmanifest'
];
// </shell>

const CACHE = `partypic-shell-${VERSION}`;
// What a guest's phone needs to open an event with no connection. The PNG icons are only for
// install prompts and home screens: cached when the browser asks for them, not up front.
const PRECACHE = SHELL.filter((url) => !url.endsWith('.png'));
// The client's own routes (see assets/js/app.js); everything else is the server's business.
const ROUTES = /^\/(host(\/[^/]+)?|s\/[^/]+|slideshow\/[^/]+|print\/[^/]+|j\/[^/]+|reset|cohost)?\/?$/;

/**
 * A shell file for the precache. The page loaded the assets under `/v/{VERSION}/assets/…` (the
 * server's and the nginx image's versioned URLs, same hash as VERSION), so those are asked for
 * first; a plain static server without them answers 404 and the plain path is used.
 * @param {string} url
 */
async function precacheFetch(url) {
  if (url.startsWith('/assets/')) {
    const res = await fetch(`/v/${VERSION}${url}`, { cache: 'no-cache' }).catch(() => null);
    if (res && res.ok) return res;
  }
  const res = await fetch(url, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`precache ${url}: ${res.status}`);
  return res;
}

sw.addEventListener('install', (event) => {
  // `no-cache` revalidates what the page has just loaded (a 304 per file, not a second
  // download of the app), so a release never caches a stale copy either.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => Promise.all(PRECACHE.map((url) => precacheFetch(url).then((res) => cache.put(url, res)))))
    .then(() => sw.skipWaiting()));
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('partypic-shell-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => sw.clients.claim()));
});

/** A shell file from the cache; fetched (and kept) when it is not there yet. @param {Request} req @param {string} path */
async function shell(req, path) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(path);
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok && res.type === 'basic') cache.put(path, res.clone()).catch(() => {});
  return res;
}

sw.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  if (req.mode === 'navigate') {
    if (!ROUTES.test(url.pathname)) return;
    // Every client route is the same app shell.
    event.respondWith(shell(new Request('/index.html'), '/index.html'));
    return;
  }
  // `/v/{version}/assets/…` is the same shell file as `/assets/…`.
  const path = url.pathname.replace(/^\/v\/[0-9a-f]+(?=\/assets\/)/, '');
  if (!SHELL.includes(path)) return;
  event.respondWith(shell(req, path));
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
 * The queue's records as assets/js/upload.js writes them (`prepared`: the blob is the downscaled
 * photo; `keys`: upload keys it was sent under).
 * @typedef {{id: string, sessionId: string, userId: string, uName: string, missionId: string | null,
 *   filename: string, blob: Blob, state: string, prepared?: boolean, keys?: string[], code?: string,
 *   error?: string, final?: boolean, api?: string}} Job
 */

/** Codes after which sending the same photo again cannot succeed (as in upload.js). */
const FINAL = new Set(['upload.not_an_image', 'upload.unsupported_type', 'upload.empty', 'upload.too_large',
  'upload.limit_reached', 'event.ended', 'event.not_found', 'guest.not_found', 'guest.other_event', 'upload.key_other_event', 'request.body_too_large']);
/** Codes a fresh attempt fixes (expired link, bytes that did not arrive). */
const AGAIN = new Set(['upload.not_found', 'storage.signature_invalid', 'upload.interrupted']);

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
    const t = db.transaction('uploads', mode);
    const req = fn(t.objectStore('uploads'));
    t.oncomplete = () => resolve(req.result);
    t.onabort = () => reject(t.error || req.error);
  });
}

/** @param {string} path @param {unknown} body */
async function postJson(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    throw Object.assign(new Error((data && data.message) || `${res.status} ${res.statusText}`),
      { status: res.status, code: data && typeof data.code === 'string' ? data.code : undefined });
  }
  return data;
}

/**
 * Runs `fn` unless a page (or another run) is sending this photo right now.
 * @param {string} id @param {() => Promise<void>} fn
 */
function exclusive(id, fn) {
  const locks = /** @type {LockManager | undefined} */ (/** @type {any} */ (navigator).locks);
  if (!locks) return fn();
  return locks.request(`partypic-upload-${id}`, { ifAvailable: true }, (lock) => (lock ? fn() : undefined));
}

async function sendQueued() {
  const db = await openQueue();
  /** @type {Job[]} */
  const jobs = await inStore(db, 'readonly', (s) => s.getAll());
  for (const listed of jobs) {
    // Photos not downscaled yet wait for their page.
    if (listed.state !== 'queued' || listed.prepared === false) continue;
    // Large files go in resumable parts, which only the page sends.
    if (listed.blob && listed.blob.size > 8 * 1024 * 1024) continue;
    await exclusive(listed.id, async () => {
      /** @type {Job | undefined} */
      const job = await inStore(db, 'readonly', (s) => s.get(listed.id));
      if (!job || job.state !== 'queued') return; // a page sent it meanwhile
      const type = job.blob.type || 'image/jpeg';
      try {
        const init = await postJson(`${job.api || ''}/pictures/init-upload`, { session_id: job.sessionId, mimetype: type, user_id: job.userId });
        job.keys = [...(job.keys || []), init.key].slice(-20);
        await inStore(db, 'readwrite', (s) => s.put(job));
        const put = await fetch(init.uploadUrl, { method: 'PUT', headers: { 'Content-Type': type }, body: job.blob });
        if (!put.ok) throw Object.assign(new Error(`upload: ${put.status}`), { status: 503 });
        await postJson(`${job.api || ''}/pictures/finalize-upload`, {
          u_name: job.uName, session_id: job.sessionId, s3_key: init.key, original_filename: job.filename,
          filesize_bytes: job.blob.size, mimetype: type, mission_id: job.missionId, user_id: job.userId,
        });
        await inStore(db, 'readwrite', (s) => s.delete(job.id));
      } catch (err) {
        const e = /** @type {Error & {status?: number, code?: string}} */ (err);
        // Refused for good (event over, limit reached): leave it for the page to show. Otherwise
        // fail the sync so the browser retries it later.
        const refused = e.status && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429 && !AGAIN.has(e.code || '');
        if (!refused) throw e;
        // The page words it from the code, in the guest's language.
        await inStore(db, 'readwrite', (s) => s.put({ ...job, state: 'failed', code: e.code, error: undefined, final: FINAL.has(e.code || '') }));
      }
    });
  }
}
