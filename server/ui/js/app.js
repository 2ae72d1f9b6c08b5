// The shell: theme, navigation, authentication gate and the hash router.

import { api, token, setToken, setUnauthorizedHandler } from './api.js';
import { live } from './ws.js';
import { queue } from './queue-store.js';
import { h, replace } from './dom.js';
import { setupView, loginView } from './views/auth.js';
import { libraryView } from './views/library.js';
import { seriesView } from './views/series.js';
import { searchView } from './views/search.js';
import { queueView } from './views/queue.js';
import { settingsView } from './views/settings.js';
import { pluginsView } from './views/plugins.js';
import { newView } from './views/new.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const logoutButton = document.getElementById('logout');
const liveState = document.getElementById('live-state');

const routes = {
  setup: { view: setupView, public: true },
  login: { view: loginView, public: true },
  library: { view: libraryView },
  series: { view: seriesView },
  search: { view: searchView },
  queue: { view: queueView },
  new: { view: newView },
  settings: { view: settingsView },
  plugins: { view: pluginsView },
};

let cleanup = null;
let authStatus = null;

/** What the server says about setup and our token; cached until login/logout changes it. */
async function loadAuthStatus(force = false) {
  if (authStatus && !force) return authStatus;
  const s = await api('GET', '/auth/status');
  const setupDone = pick(s, ['setup_done', 'setup_complete', 'configured', 'is_setup', 'initialized', 'password_set']);
  authStatus = { setupDone: setupDone ?? true, authenticated: Boolean(pick(s, ['authenticated', 'logged_in', 'valid'])) };
  return authStatus;
}

function pick(obj, keys) {
  if (!obj || typeof obj !== 'object') return undefined;
  for (const k of keys) if (k in obj) return obj[k];
  return undefined;
}

export function navigate(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

/** Called by the auth views once a token is in hand. */
export function signedIn(newToken) {
  setToken(newToken);
  authStatus = { setupDone: true, authenticated: true };
  live.start();
  navigate('/library');
}

async function logout() {
  try { await api('POST', '/auth/logout'); } catch { /* the token is dropped either way */ }
  setToken(null);
  live.stop();
  queue.reset();
  authStatus = null;
  navigate('/login');
}

setUnauthorizedHandler(() => {
  setToken(null);
  live.stop();
  queue.reset();
  authStatus = null;
  if (!location.hash.startsWith('#/login')) navigate('/login');
});

async function render() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  let route = routes[name] ? name : 'library';
  const param = rest.map((p) => { try { return decodeURIComponent(p); } catch { return p; } }).join('/');

  let status;
  try {
    status = await loadAuthStatus();
  } catch (e) {
    showFatal(e);
    return;
  }
  if (!status.setupDone && route !== 'setup') return navigate('/setup');
  // A token the server no longer accepts (expired, revoked, server reset) is dropped.
  if (token() && !status.authenticated) setToken(null);
  if (status.setupDone && route === 'setup') return navigate(token() ? '/library' : '/login');
  if (!routes[route].public && !token()) return navigate('/login');
  if (route === 'login' && token() && status.authenticated) return navigate('/library');

  const signed = Boolean(token()) && !routes[route].public;
  nav.hidden = !signed;
  logoutButton.hidden = !signed;
  liveState.hidden = !signed;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.route === route || (route === 'series' && a.dataset.route === 'library')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (signed) {
    live.start();
    queue.load().catch(() => { /* the badge stays empty; the queue page shows the error */ });
  }

  if (cleanup) { try { cleanup(); } catch { /* a view failing to clean up must not block the next */ } }
  cleanup = null;
  const container = h('div', { class: `view view-${route}` });
  replace(main, container);
  try {
    cleanup = (await routes[route].view(container, param)) || null;
  } catch (e) {
    replace(container, h('p', { class: 'notice error', role: 'alert' }, e.message || String(e)));
  }
  const heading = container.querySelector('h1');
  document.title = heading ? `${heading.textContent} · Aniworld Server` : 'Aniworld Server';
  // Move focus to the new page so keyboard and screen reader users land on it.
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

function showFatal(e) {
  replace(main, h('div', { class: 'view' },
    h('h1', null, 'Cannot reach the server'),
    h('p', { class: 'notice error', role: 'alert' }, e.message || String(e)),
    h('button', { type: 'button', onclick: () => render() }, 'Try again')));
}

// Theme: automatic (system) → light → dark.
const themeButton = document.getElementById('theme-toggle');
function applyThemeLabel() {
  const t = document.documentElement.dataset.theme || 'auto';
  themeButton.setAttribute('aria-label', `Theme: ${t === 'auto' ? 'automatic' : t}. Change theme`);
  themeButton.title = `Theme: ${t === 'auto' ? 'automatic' : t}`;
  themeButton.textContent = t === 'light' ? '☀' : t === 'dark' ? '☾' : '◐';
}
themeButton.addEventListener('click', () => {
  const order = ['auto', 'light', 'dark'];
  const current = document.documentElement.dataset.theme || 'auto';
  const next = order[(order.indexOf(current) + 1) % order.length];
  if (next === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = next;
  try { localStorage.setItem('aniworld.theme', next); } catch { /* not remembered */ }
  applyThemeLabel();
});
applyThemeLabel();

logoutButton.addEventListener('click', logout);

live.onState((state) => {
  liveState.dataset.state = state;
  liveState.textContent = state === 'open' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Offline';
  liveState.title = state === 'open' ? 'Live updates connected' : 'Live updates disconnected; reconnecting by itself';
});

// The Queue link shows how many downloads are waiting or running, live.
const badge = document.getElementById('queue-badge');
queue.subscribe(() => {
  const c = queue.counts();
  const active = (c.pending || 0) + (c.downloading || 0);
  badge.hidden = active === 0;
  badge.textContent = String(active);
  badge.setAttribute('aria-label', `${active} active`);
});

window.addEventListener('hashchange', render);
render();
