// First-run setup (choose the master password) and login.

import { api, ApiError } from '../api.js';
import { h, replace, notice } from '../dom.js';
import { signedIn } from '../app.js';

function tokenFrom(data) {
  if (!data || typeof data !== 'object') return null;
  return data.token || data.access_token || data.jwt || null;
}

function errorText(e) {
  if (e instanceof ApiError && e.status === 429) {
    return e.retryAfter && !/try again/i.test(e.message) ? `${e.message} (try again in ${e.retryAfter} s)` : e.message;
  }
  return e.message || String(e);
}

function passwordField(id, label, autocomplete) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name: id, type: 'password', required: true, autocomplete }));
}

export function setupView(root) {
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set password and sign in');
  const form = h('form', { class: 'card narrow', id: 'setup-form', novalidate: true },
    h('h1', null, 'Welcome'),
    h('p', null, 'Choose the master password for this server. You will use it to sign in here and to get API tokens.'),
    passwordField('setup-password', 'Master password', 'new-password'),
    passwordField('setup-confirm', 'Repeat the password', 'new-password'),
    message,
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const password = form.querySelector('#setup-password').value;
    const confirm = form.querySelector('#setup-confirm').value;
    if (!password) return replace(message, notice('error', 'Enter a password.'));
    if (password !== confirm) return replace(message, notice('error', 'The two passwords differ.'));
    submit.disabled = true;
    replace(message, notice('info', 'Saving…'));
    try {
      const setup = await api('POST', '/auth/setup', { body: { password }, auth: false });
      const fromSetup = tokenFrom(setup);
      const t = fromSetup || tokenFrom(await api('POST', '/auth/login', { body: { password }, auth: false }));
      if (!t) throw new Error('The server did not return a token.');
      signedIn(t);
    } catch (e) {
      replace(message, notice('error', errorText(e)));
      submit.disabled = false;
    }
  });
  replace(root, form);
  form.querySelector('input').focus();
}

export function loginView(root) {
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card narrow', id: 'login-form' },
    h('h1', null, 'Sign in'),
    passwordField('login-password', 'Master password', 'current-password'),
    message,
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = form.querySelector('#login-password');
    submit.disabled = true;
    replace(message);
    try {
      const data = await api('POST', '/auth/login', { body: { password: input.value }, auth: false });
      const t = tokenFrom(data);
      if (!t) throw new Error('The server did not return a token.');
      signedIn(t);
    } catch (e) {
      replace(message, notice('error', errorText(e)));
      input.select();
      submit.disabled = false;
    }
  });
  replace(root, form);
}
