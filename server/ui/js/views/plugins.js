// Plugins and scripts: what is loaded (built in, native, script), version, status or error; reload.

import { api, listOf } from '../api.js';
import { h, replace, notice } from '../dom.js';

export async function pluginsView(root) {
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const table = h('div', { id: 'plugin-list' });
  const reload = h('button', { type: 'button', id: 'plugins-reload' }, 'Reload plugins and scripts');

  function draw(data) {
    const list = listOf(data, 'plugins', 'items');
    if (!list.length) { replace(table, h('p', { class: 'muted' }, 'Nothing loaded.')); return; }
    replace(table, h('table', { class: 'table' },
      h('caption', { class: 'sr-only' }, 'Loaded plugins and scripts'),
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Source', 'Version', 'Status'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, list.map((p) => {
        const status = String(p.status ?? (p.error ? 'error' : p.enabled === false ? 'disabled' : 'ok'));
        const bad = /error|fail|disabled/i.test(status) || p.error;
        return h('tr', { class: bad ? 'row-bad' : '' },
          h('th', { scope: 'row' }, p.name ?? p.id ?? ''),
          h('td', null, Array.isArray(p.kind) ? p.kind.join(', ') : p.kind ?? p.kinds ?? ''),
          h('td', null, p.source ?? p.origin ?? p.type ?? ''),
          h('td', null, p.version ?? ''),
          h('td', null, h('span', { class: `pill ${bad ? 'warn' : 'ok'}` }, status),
            p.error ? h('p', { class: 'error-text' }, p.error) : null,
            p.path ? h('p', { class: 'muted small' }, p.path) : null));
      }))));
  }

  reload.addEventListener('click', async () => {
    reload.disabled = true;
    try {
      const r = await api('POST', '/plugins/reload');
      const fresh = listOf(r, 'plugins', 'items').length ? r : await api('GET', '/plugins');
      draw(fresh);
      replace(message, notice('ok', 'Reloaded.'));
    } catch (e) {
      replace(message, notice('error', e.message));
    } finally {
      reload.disabled = false;
    }
  });

  replace(root, h('div', { class: 'view-head' }, h('h1', null, 'Plugins & scripts'), reload), message, table);
  try { draw(await api('GET', '/plugins')); } catch (e) { replace(table, notice('error', e.message)); }
}
