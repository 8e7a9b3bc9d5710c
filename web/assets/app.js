// The dashboard's shell: the session (who is signed in, with which scope),
// the router (History API paths; the hash is left to log permalinks) and
// the one event stream of the tab.
import { get, post, del, setCsrf, Events, ApiError } from './api.js';
import { h, clear } from './util.js';
import { projectsView } from './views/projects.js';
import { runsView } from './views/runs.js';
import { runView } from './views/run.js';
import { logView } from './views/log.js';
import { queueView } from './views/queue.js';
import { durationsView } from './views/durations.js';
import { signinView } from './views/signin.js';

const SCOPES = { read: 1, operate: 2, admin: 3 };

const app = {
  session: null, // {scope, csrf, name} when signed in
  events: new Events(),
  main: null,
  cleanup: [],
  can(scope) {
    return !!this.session && SCOPES[this.session.scope] >= SCOPES[scope];
  },
  go(path) {
    history.pushState(null, '', path);
    route();
  },
  onCleanup(fn) { this.cleanup.push(fn); },
  showError(e) {
    const box = document.getElementById('alert');
    box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
    box.hidden = false;
  },
  clearError() {
    const box = document.getElementById('alert');
    box.hidden = true;
    box.textContent = '';
  },
  // Asks before something that cannot be undone; resolves true to go on.
  confirm(text, ok) {
    const dlg = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = text;
    document.getElementById('confirm-ok').textContent = ok || 'Confirm';
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
      dlg.showModal();
    });
  },
  // Runs an action, showing the API's message when it is refused.
  async act(fn) {
    this.clearError();
    try {
      return await fn();
    } catch (e) {
      this.showError(e);
      return undefined;
    }
  },
  async loadSession() {
    try {
      this.session = await get('/api/v1/session');
      setCsrf(this.session.csrf);
    } catch (e) {
      this.session = null;
      setCsrf(null);
    }
    renderWho();
  },
  async signIn(token) {
    this.session = await post('/api/v1/session', { token });
    setCsrf(this.session.csrf);
    renderWho();
  },
  async signOut() {
    await del('/api/v1/session');
    this.session = null;
    setCsrf(null);
    renderWho();
  },
};

function renderWho() {
  const who = clear(document.getElementById('who'));
  if (app.session) {
    who.append(
      h('span', { class: 'muted', id: 'whoami' },
        (app.session.name ? app.session.name + ' · ' : '') + app.session.scope),
      h('button', {
        type: 'button', id: 'signout',
        onclick: () => app.act(async () => { await app.signOut(); route(); }),
      }, 'Sign out'));
  } else {
    who.append(h('a', { href: '/signin', id: 'signin' }, 'Sign in'));
  }
}

const ROUTES = [
  [/^\/$/, () => projectsView],
  [/^\/projects\/?$/, () => projectsView],
  [/^\/runs\/?$/, () => runsView],
  [/^\/runs\/(\d+)\/?$/, () => runView],
  [/^\/runs\/(\d+)\/jobs\/([^/]+)\/?$/, () => logView],
  [/^\/queue\/?$/, () => queueView],
  [/^\/projects\/([^/]+)\/durations\/?$/, () => durationsView],
  [/^\/signin\/?$/, () => signinView],
];

async function route() {
  for (const fn of app.cleanup.splice(0)) fn();
  app.clearError();
  const path = location.pathname;
  for (const a of document.querySelectorAll('.top nav a')) {
    const href = a.getAttribute('href');
    if (path === href || path.startsWith(href + '/')
        || (href === '/projects' && path === '/')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = clear(app.main);
  for (const [re, view] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    const args = m.slice(1).map(decodeURIComponent);
    try {
      await view()(app, main, ...args);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        clear(main).append(h('h1', null, 'Sign in needed'),
          h('p', null, 'This daemon answers reads only to signed-in users. ',
            h('a', { href: '/signin' }, 'Sign in'), ' with an API token.'));
      } else {
        main.append(h('p', { class: 'notice' }, 'Could not load this page: ' + e.message));
      }
    }
    const h1 = main.querySelector('h1');
    if (h1) document.title = h1.textContent + ' · pipewright';
    return;
  }
  main.append(h('h1', null, 'Not found'), h('p', null, h('a', { href: '/' }, 'Projects')));
}

// Same-origin links are followed by the router, not by a page load.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey
      || ev.altKey) return;
  const a = ev.target.closest('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/badge/')) return;
  if (url.pathname === location.pathname && url.hash) return; // a permalink
  ev.preventDefault();
  history.pushState(null, '', url.pathname + url.search + url.hash);
  route().then(() => { if (!url.hash) app.main.focus(); });
});

window.addEventListener('popstate', () => route());

app.main = document.getElementById('main');
app.route = route;
window.pipewright = app; // for the browser tests and the console
app.loadSession().then(route);
