// Plugins and scripts: what is loaded (built in, native, script), version, status or error; reload.

import { api, listOf } from '../api.js';
import { h, replace, notice } from '../dom.js';

const SOURCES = { builtin: 'Built in', native: 'Native plugin', script: 'Script' };

function statusPill(status) {
  const s = String(status || 'active').toLowerCase();
  const kind = /error|fail|disabled/.test(s) ? 'warn' : s === 'active' || s === 'ok' ? 'ok' : 'info';
  return h('span', { class: `pill ${kind}` }, s);
}

export async function pluginsView(root) {
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const where = h('p', { class: 'muted', id: 'plugin-dirs' });
  const table = h('div', { id: 'plugin-list' });
  const reload = h('button', { type: 'button', id: 'plugins-reload' }, 'Reload plugins and scripts');

  function draw(data) {
    const list = listOf(data, 'items', 'plugins');
    const dirs = [];
    if (data?.plugins_dir) dirs.push(`Native plugins: ${data.plugins_dir}${data.abi_version !== undefined ? ` (ABI ${data.abi_version})` : ''}`);
    if (data?.scripts_dir) dirs.push(`Scripts: ${data.scripts_dir}`);
    where.textContent = dirs.join(' · ');
    if (!list.length) { replace(table, h('p', { class: 'muted' }, 'Nothing loaded.')); return; }
    const problems = list.filter((p) => p.error || /error|disabled/i.test(String(p.status)));
    replace(table,
      problems.length ? notice('error', `${problems.length} ${problems.length === 1 ? 'entry has a problem' : 'entries have problems'}; see below.`) : null,
      h('table', { class: 'table' },
        h('caption', { class: 'sr-only' }, 'Loaded providers, hosters and scripts'),
        h('thead', null, h('tr', null, ['Name', 'Kind', 'Source', 'Version', 'Status'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, list.map((p) => {
          const bad = Boolean(p.error) || /error|disabled/i.test(String(p.status));
          return h('tr', { class: bad ? 'row-bad' : '', dataset: { id: String(p.id ?? p.name ?? '') } },
            h('th', { scope: 'row' }, p.name ?? p.id ?? '',
              p.id && p.name && p.id !== p.name ? h('span', { class: 'muted small' }, ` (${p.id})`) : null),
            h('td', null, Array.isArray(p.kind) ? p.kind.join(', ') : p.kind ?? ''),
            h('td', null, SOURCES[p.source] ?? p.source ?? ''),
            h('td', null, p.version ?? ''),
            h('td', null, statusPill(p.status ?? (p.error ? 'error' : 'active')),
              p.error ? h('p', { class: 'error-text' }, p.line ? `line ${p.line}: ${p.error}` : p.error) : null,
              p.down ? h('p', { class: 'error-text site-down' }, `Down: ${p.down.error} (asked again in ${p.down.retry_in_secs} s)`) : null,
              p.base_url ? h('p', { class: 'muted small site-base' }, `Uses ${p.base_url}`,
                Array.isArray(p.base_urls) && p.base_urls.length > 1 && p.base_url !== p.base_urls[0] ? ' (a mirror)' : '',
                p.proxy ? ` via ${p.proxy}` : '') : null,
              Array.isArray(p.hooks) && p.hooks.length ? h('p', { class: 'muted small' }, `Hooks: ${p.hooks.join(', ')}`) : null,
              p.path ? h('p', { class: 'muted small' }, p.path) : null));
        }))));
  }

  reload.addEventListener('click', async () => {
    reload.disabled = true;
    replace(message, notice('info', 'Reloading…'));
    try {
      const r = await api('POST', '/plugins/reload');
      draw(listOf(r, 'items', 'plugins').length ? r : await api('GET', '/plugins'));
      replace(message, notice('ok', 'Reloaded.'));
    } catch (e) {
      replace(message, notice('error', e.message));
    } finally {
      reload.disabled = false;
    }
  });

  replace(root, h('div', { class: 'view-head' }, h('h1', null, 'Plugins & scripts'), reload), where, message, table);
  try { draw(await api('GET', '/plugins')); } catch (e) { replace(table, notice('error', e.message)); }
}
