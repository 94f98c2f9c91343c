// PartyPic service worker: the app shell is cached per version, so the app opens offline and
// on bad Wi-Fi; API calls and photos always go to the network. VERSION and SHELL are kept in
// sync with the files by `node scripts/sw-version.mjs` (CI checks it with --check).
/// <reference lib="webworker" />

// <shell>
const VERSION = '3cb9cb152226';
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

self.addEventListener('install', (event) => {
  // `reload` skips the HTTP cache: /assets/ is served as immutable, so only a fresh fetch sees a new release.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('partypic-shell-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === 'navigate') {
    if (!ROUTES.test(url.pathname)) return;
    // Every client route is the same app shell.
    event.respondWith(caches.match('/index.html').then((hit) => hit || fetch(req)));
    return;
  }
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(req)));
});
