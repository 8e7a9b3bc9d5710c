// Signing in takes an API token once; the daemon answers with a session
// cookie (HttpOnly: the page never sees it) and the CSRF token.
import { h } from '../util.js';

export async function signinView(app, main) {
  main.append(h('h1', null, 'Sign in'));
  if (app.session) {
    main.append(h('p', null, `Signed in with scope ${app.session.scope}.`));
    return;
  }
  const token = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    size: 50,
  });
  const form = h('form', {
    id: 'signin-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      app.act(async () => {
        await app.signIn(token.value.trim());
        token.value = '';
        app.go('/');
      });
    },
  },
  h('p', null, 'Paste an API token (', h('code', null, 'pipewright token create'),
    '). It is sent once; the browser keeps a session cookie, not the token.'),
  h('p', null, h('label', { for: 'token' }, 'API token'), ' ', token),
  h('p', null, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  main.append(form);
  token.focus();
}
