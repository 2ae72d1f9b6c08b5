// What to do when a provider site is blocked, down or the proxy fails: a short explanation, and for
// a bot check the fields to hand over a browser's cookie and User-Agent (saved as providers.<id>.headers).

import { api } from './api.js';
import { h, replace, notice } from './dom.js';

/** A notice for an API error about `site`: explains the way out for `blocked`, `site_down` and `proxy_error`. */
export function siteProblem(site, e) {
  const where = site ? `The site “${site}”` : 'A provider site';
  const code = String(e.code || '');
  if (code === 'blocked' && site) {
    return notice('error', h('strong', null, `${where} shows a bot check instead of its pages. `), e.message,
      blockedForm(site));
  }
  if (code === 'site_down') {
    const when = e.details?.retry_in_secs ? ` It is asked again in ${e.details.retry_in_secs} s.` : '';
    return notice('error', h('strong', null, `${where} is down. `), e.message, when,
      h('p', { class: 'muted' }, 'If your internet provider blocks it, add a mirror (',
        h('code', null, `providers.${site || '<id>'}.mirrors`), ') or a proxy (', h('code', null, 'network.proxy'),
        ') in ', h('a', { href: '#/settings' }, 'Settings'), '.'));
  }
  if (code === 'proxy_error') {
    return notice('error', h('strong', null, 'The proxy failed. '), e.message,
      h('p', { class: 'muted' }, 'Check ', h('code', null, e.details?.field || 'network.proxy'), ' in ',
        h('a', { href: '#/settings' }, 'Settings'), '.'));
  }
  return notice('error', h('strong', null, `${where} is blocked or down. `), e.message,
    h('span', { class: 'muted' }, ' Check the site in a browser, or its base URL in Settings.'));
}

/** Cookie + User-Agent from a browser that passed the check, saved into providers.<site>.headers. */
function blockedForm(site) {
  const id = (name) => `blocked-${site}-${name}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const cookie = h('input', { id: id('cookie'), type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'cf_clearance=…' });
  const agent = h('input', { id: id('agent'), type: 'text', autocomplete: 'off', spellcheck: 'false', value: navigator.userAgent });
  const feedback = h('div', { class: 'messages', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save and try again');
  const form = h('form', { class: 'blocked-help', dataset: { site } },
    h('p', null, 'Open the site in your browser and pass the check. Then copy its ', h('code', null, 'cf_clearance'),
      ' cookie (developer tools → Storage → Cookies) and your browser’s User-Agent here. They are sent with every request to this site.'),
    h('div', { class: 'field' }, h('label', { for: id('cookie') }, 'Cookie'), cookie),
    h('div', { class: 'field' }, h('label', { for: id('agent') }, 'User-Agent'), agent),
    save, feedback);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const c = cookie.value.trim();
    if (!c) { replace(feedback, notice('error', 'Paste the cookie first (name=value).')); return; }
    save.disabled = true;
    try {
      const config = await api('GET', '/config');
      // Secret values come back as *** and are kept as stored when sent back.
      const headers = { ...(config?.providers?.[site]?.headers || {}) };
      for (const name of Object.keys(headers)) {
        if (/^(cookie|user-agent)$/i.test(name)) delete headers[name];
      }
      headers.Cookie = c;
      if (agent.value.trim()) headers['User-Agent'] = agent.value.trim();
      await api('PUT', '/config', { body: { providers: { [site]: { headers } } } });
      replace(feedback, notice('ok', 'Saved. Search again.'));
    } catch (err) {
      replace(feedback, notice('error', err.message));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}
