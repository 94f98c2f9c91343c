// Entry point: header, routes, language switch, service worker.
import { auth } from './api.js';
import { h, replace, toast } from './dom.js';
import { guest } from './guest.js';
import { t, lang, setLang } from './i18n.js';
import { landing, joinByCode } from './landing.js';
import { route, notFound, render, navigate, lazy } from './router.js';

const UUID = '([0-9a-fA-F-]{36})';
const CODE = '([0-9A-Za-z-]{1,20})';
route(/^\/$/, landing);
route(/^\/host$/, lazy(() => import('./host.js'), 'hostHome'));
route(new RegExp(`^/host/${UUID}$`), lazy(() => import('./host.js'), 'hostEvent'));
route(new RegExp(`^/s/${UUID}$`), guest);
route(new RegExp(`^/slideshow/${UUID}$`), lazy(() => import('./slideshow.js'), 'slideshow'));
route(new RegExp(`^/print/${UUID}$`), lazy(() => import('./print.js'), 'print'));
route(new RegExp(`^/j/${CODE}$`), joinByCode);
route(/^\/reset$/, lazy(() => import('./reset.js'), 'reset'));
route(/^\/cohost$/, lazy(() => import('./cohosts.js'), 'acceptCohost'));
notFound((main) => {
  main.append(h('h1', null, t('notfound.title')), h('p', null, t('notfound.text')), h('a.btn', { href: '/' }, t('guest.home')));
});

function header() {
  const bar = /** @type {HTMLElement} */ (document.getElementById('topbar'));
  replace(bar,
    h('a.brand', { href: '/', 'aria-label': t('nav.home') },
      h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span.brand-name', null, 'PartyPic')),
    h('nav', null,
      auth() ? h('a', { href: '/host' }, t('nav.host')) : null,
      h('button.lang', {
        type: 'button', lang: lang === 'en' ? 'de' : 'en', 'aria-label': t('nav.languageLabel'),
        onclick: () => { setLang(lang === 'en' ? 'de' : 'en'); render(); },
      }, t('nav.language'))));
}

addEventListener('auth-expired', () => {
  navigate('/', { replace: true });
  toast(t('auth.expired'), 'error');
});

// Re-draw the header on every navigation (the login state may have changed).
addEventListener('routechange', header);
render();

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  addEventListener('load', () => navigator.serviceWorker.register('/sw.js').catch(() => {}));
}
