// History-API routing: every client path is served index.html by the server.

/** @typedef {(main: HTMLElement, ...params: string[]) => (void | (() => void))} View */

/** @type {[RegExp, View][]} */
const routes = [];
/** @type {(() => void) | void} */
let cleanup;
/** @type {View | null} */
let fallback = null;

/** @param {RegExp} pattern @param {View} view */
export function route(pattern, view) {
  routes.push([pattern, view]);
}

/** @param {View} view */
export function notFound(view) {
  fallback = view;
}

/** @param {string} path @param {{replace?: boolean}} [opts] */
export function navigate(path, opts = {}) {
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  // Keyboard and screen reader users start at the new content, not on a link that is gone.
  document.getElementById('main')?.focus({ preventScroll: true });
  render();
  scrollTo(0, 0);
}

export function render() {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const main = /** @type {HTMLElement} */ (document.getElementById('main'));
  main.replaceChildren();
  document.body.className = '';
  document.getElementById('toasts')?.replaceChildren();
  dispatchEvent(new Event('routechange'));
  const path = location.pathname.replace(/\/+$/, '') || '/';
  for (const [pattern, view] of routes) {
    const m = path.match(pattern);
    if (m) {
      cleanup = view(main, ...m.slice(1).map(decodeURIComponent));
      return;
    }
  }
  if (fallback) cleanup = fallback(main);
}

/** @type {Set<() => boolean>} */
const backHandlers = new Set();

/**
 * Lets an overlay (the photo viewer) take a Back press for itself: when `handler` returns true,
 * the page is not rendered anew. (A capture listener on window does not run first: listeners
 * on the event's own target run in the order they were added.)
 * @param {() => boolean} handler @returns {() => void} removes it
 */
export function onBack(handler) {
  backHandlers.add(handler);
  return () => backHandlers.delete(handler);
}

addEventListener('popstate', () => {
  for (const handler of backHandlers) if (handler()) return;
  render();
});
// Same-origin links navigate inside the app.
document.addEventListener('click', (e) => {
  const a = /** @type {HTMLElement} */ (e.target).closest?.('a');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || a.hasAttribute('download') || a.target || a.dataset.external !== undefined) return;
  // Only the app's own routes: API links (downloads, QR codes) are the browser's.
  const url = new URL(href, location.origin);
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (url.origin !== location.origin || !routes.some(([pattern]) => pattern.test(path))) return;
  e.preventDefault();
  navigate(href);
});

/**
 * A view loaded on first use: screens only hosts open (their pages, the slideshow, the cards)
 * stay off a guest's first visit.
 * @param {() => Promise<Record<string, any>>} load @param {string} name the module's view export
 * @returns {View}
 */
export function lazy(load, name) {
  return (main, ...params) => {
    let gone = false;
    /** @type {(() => void) | void} */
    let cleanup;
    load().then((module) => {
      if (!gone) cleanup = /** @type {View} */ (module[name])(main, ...params);
    }).catch(() => {
      // A release replaced the files under this page: the next navigation loads them anew.
      if (!gone) location.reload();
    });
    return () => {
      gone = true;
      if (typeof cleanup === 'function') cleanup();
    };
  };
}
