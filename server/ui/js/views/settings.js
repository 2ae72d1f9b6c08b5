// Settings: the config as a form, checked by the API (validation messages name the key); connections;
// backups and restore.

import { api, listOf } from '../api.js';
import { h, replace, notice, formatBytes } from '../dom.js';
import { connectionsSection } from './connections.js';

const LABELS = {
  library: 'Library', providers: 'Provider sites', download: 'Downloads', plugins: 'Plugins', scripts: 'Scripts',
  auth: 'Authentication', server: 'Server', database: 'Database', cache: 'Cache', network: 'Network',
};

function humanize(key) {
  return LABELS[key] || String(key).replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function fieldId(path) {
  return `cfg-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

// The API sorts keys alphabetically; people look for the everyday settings first.
const ORDER = [
  'library', 'library.path', 'library.naming_template',
  'download', 'download.languages', 'download.hosters', 'download.max_parallel', 'download.segment_parallelism', 'download.rate_limit',
  'providers', 'providers.aniworld', 'providers.sto', 'base_url', 'enabled', 'mirrors', 'proxy', 'headers',
  'network', 'plugins', 'scripts', 'auth', 'server', 'database', 'cache',
];

function rank(path) {
  const i = ORDER.indexOf(path);
  if (i >= 0) return i;
  const j = ORDER.indexOf(path.split('.').pop());
  return j >= 0 ? j : ORDER.length;
}

/** `providers.<id>.headers`: one `Name: value` per line (a map the generic form cannot grow). */
function headersField(value, path, readers) {
  const id = fieldId(path);
  const lines = Object.entries(value || {}).map(([k, v]) => `${k}: ${v}`);
  const input = h('textarea', { id, rows: String(Math.max(2, lines.length + 1)), value: lines.join('\n'), spellcheck: 'false', autocomplete: 'off' });
  const read = () => {
    const out = {};
    for (const line of input.value.split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    return out;
  };
  readers.push({ path, read });
  return h('div', { class: 'field cfg-field', dataset: { path } },
    h('label', { for: id }, 'Headers', h('code', { class: 'muted cfg-key' }, path)),
    h('small', { class: 'muted' }, 'One “Name: value” per line, e.g. Cookie: cf_clearance=… and User-Agent from a browser that passed the site’s bot check. *** keeps a stored secret.'),
    input,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

/**
 * Builds inputs for every leaf of `value`; `readers` collects how to read each back. Keys in
 * `readOnly` (set in config.json or the environment only) are shown but cannot be edited.
 */
function buildFields(value, path, readers, readOnly = new Set()) {
  if (/^providers\.[^.]+\.headers$/.test(path)) return headersField(value, path, readers);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value).map(([k, v]) => [path ? `${path}.${k}` : k, v]);
    entries.sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
    const children = entries.map(([p, v]) => buildFields(v, p, readers, readOnly));
    if (!path) return children;
    const depth = path.split('.').length;
    return h('fieldset', { class: `cfg-group depth-${depth}`, dataset: { path } },
      h('legend', null, humanize(path.split('.').pop())), children);
  }
  const id = fieldId(path);
  const name = path.split('.').pop();
  let input;
  let read;
  if (typeof value === 'boolean') {
    input = h('input', { id, type: 'checkbox', checked: value });
    read = () => input.checked;
  } else if (typeof value === 'number') {
    input = h('input', { id, type: 'text', inputmode: 'decimal', value: String(value) });
    // Anything that is not a number goes to the API as typed, so its message explains the problem.
    read = () => { const t = input.value.trim(); return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t; };
  } else if (Array.isArray(value)) {
    const numeric = value.length > 0 && value.every((v) => typeof v === 'number');
    input = h('textarea', { id, rows: String(Math.min(10, Math.max(2, value.length + 1))), value: value.map(String).join('\n') });
    read = () => input.value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => (numeric && Number.isFinite(Number(l)) ? Number(l) : l));
  } else {
    input = h('input', { id, type: 'text', value: value === null ? '' : String(value), autocomplete: 'off', spellcheck: 'false' });
    read = () => (value === null && input.value === '' ? null : input.value);
  }
  const locked = readOnly.has(path);
  if (locked) {
    input.disabled = true;
    input.setAttribute('aria-describedby', `${id}-locked`);
  } else {
    readers.push({ path, read });
  }
  return h('div', { class: 'field cfg-field', dataset: { path } },
    h('label', { for: id }, humanize(name), h('code', { class: 'muted cfg-key' }, path)),
    Array.isArray(value) && !locked ? h('small', { class: 'muted' }, 'One per line, in order of preference.') : null,
    locked ? h('small', { class: 'muted', id: `${id}-locked` }, 'Set in config.json or the environment only (it loads code or exposes the server).') : null,
    input,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

function setPath(obj, path, v) {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p];
  o[parts[parts.length - 1]] = v;
}

/** `[{key, message}]` from whatever the API put in `details`. */
function fieldErrors(details) {
  if (!details) return [];
  const list = Array.isArray(details) ? details : Array.isArray(details.errors) ? details.errors : [details];
  return list.flatMap((d) => {
    if (typeof d === 'string') return [{ key: null, message: d }];
    if (!d || typeof d !== 'object') return [];
    const key = d.key ?? d.field ?? d.path ?? d.name ?? null;
    if (key || d.message) return [{ key, message: d.message ?? d.error ?? '' }];
    return Object.entries(d).map(([k, m]) => ({ key: k, message: String(m) }));
  });
}

export async function settingsView(root) {
  const message = h('div', { id: 'settings-message', class: 'messages', 'aria-live': 'assertive' });
  const form = h('form', { id: 'settings-form', novalidate: true });
  const backups = h('div', { id: 'backups' });
  // Saving a connection writes the config too: the new backup shows up below.
  const connections = connectionsSection({ onSaved: () => loadBackups() });
  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, 'Settings')),
    h('p', { class: 'muted' }, 'Changes are checked by the server before they are saved; the previous file is kept as a backup.'),
    form,
    connections,
    h('section', { class: 'card', 'aria-labelledby': 'backups-title' }, h('h2', { id: 'backups-title' }, 'Backups'), backups));

  let readers = [];
  let original = null;

  // The Connections card owns `connections`; this form never sends (and so never reverts) them.
  function current() {
    const copy = structuredClone(original);
    delete copy.connections;
    for (const r of readers) setPath(copy, r.path, r.read());
    return copy;
  }

  function clearErrors() {
    for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  function showError(e) {
    const extra = [];
    for (const { key, message: m } of fieldErrors(e.details)) {
      const field = key && form.querySelector(`[data-path="${CSS.escape(String(key))}"]`);
      const input = field && field.querySelector('input, textarea, select');
      const slot = field && field.querySelector('.field-error');
      if (slot && input) {
        slot.textContent = m || e.message;
        slot.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', slot.id);
      } else if (m && m !== e.message) extra.push(key ? `${key}: ${m}` : m);
    }
    const firstKey = fieldErrors(e.details).find((f) => f.key)?.key;
    const prefix = firstKey && !String(e.message).includes(firstKey) ? h('code', null, `${firstKey}: `) : null;
    replace(message, notice('error', prefix, h('span', { class: 'api-message' }, e.message), extra.length ? h('ul', null, extra.map((t) => h('li', null, t))) : null));
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) {
      invalid.focus({ preventScroll: true });
      invalid.scrollIntoView({ block: 'center' });
    }
  }

  async function submit(kind) {
    clearErrors();
    let body;
    try { body = current(); } catch (e) { replace(message, notice('error', e.message)); return; }
    replace(message, notice('info', kind === 'validate' ? 'Checking…' : 'Saving…'));
    try {
      const r = kind === 'validate' ? await api('POST', '/config/validate', { body }) : await api('PUT', '/config', { body });
      const errors = r && typeof r === 'object' ? (r.errors ?? (r.field ? { field: r.field, message: r.message } : r.details)) : null;
      if ((r && r.valid === false) || (Array.isArray(r?.errors) && r.errors.length)) {
        showError({ message: r.message || 'The configuration is not valid.', details: errors });
        return;
      }
      replace(message, notice('ok', kind === 'validate' ? 'The configuration is valid.' : 'Saved.'));
      if (kind === 'save') { await loadConfig(); await loadBackups(); }
    } catch (e) {
      showError(e);
    }
  }

  async function loadConfig() {
    original = await api('GET', '/config');
    const readOnly = new Set(Array.isArray(original?.read_only) ? original.read_only : []);
    delete original.read_only;
    readers = [];
    const shown = { ...original };
    delete shown.connections;
    const fields = buildFields(shown, '', readers, readOnly);
    replace(form, fields,
      h('div', { class: 'actions sticky-actions' },
        h('button', { type: 'button', id: 'settings-validate', onclick: () => submit('validate') }, 'Check'),
        h('button', { type: 'submit', id: 'settings-save', class: 'primary' }, 'Save'),
        message));
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submit('save'); });

  async function loadBackups() {
    let list;
    try { list = listOf(await api('GET', '/config/backups'), 'backups'); } catch (e) { replace(backups, notice('error', e.message)); return; }
    if (!list.length) { replace(backups, h('p', { class: 'muted' }, 'No backups yet. One is made each time the settings change.')); return; }
    replace(backups, h('ul', { class: 'backup-list' }, list.map((b) => {
      const name = typeof b === 'string' ? b : b.name ?? b.file ?? b.id;
      const when = typeof b === 'object' ? b.created_at ?? b.created ?? b.modified ?? b.timestamp : null;
      const size = typeof b === 'object' ? b.size : undefined;
      const restore = h('button', { type: 'button', class: 'small', 'aria-label': `Restore backup ${name}` }, 'Restore');
      let armed = false;
      restore.addEventListener('click', async () => {
        // Two steps instead of a blocking confirm(): first click arms, second restores.
        if (!armed) { armed = true; restore.textContent = 'Click again to restore'; return; }
        restore.disabled = true;
        try {
          await api('POST', `/config/backups/${encodeURIComponent(name)}/restore`);
          replace(message, notice('ok', `Restored ${name}.`));
          await loadConfig();
          await loadBackups();
          await connections.reload();
        } catch (e) {
          replace(message, notice('error', e.message));
          restore.disabled = false;
        }
      });
      return h('li', { class: 'backup' },
        h('span', { class: 'backup-name' }, name),
        h('span', { class: 'muted' }, [when ? new Date(typeof when === 'number' && when < 1e12 ? when * 1000 : when).toLocaleString() : null, size !== undefined ? formatBytes(size) : null].filter(Boolean).join(' · ')),
        restore);
    })));
  }

  try {
    await loadConfig();
  } catch (e) {
    replace(form, notice('error', e.message));
  }
  await loadBackups();
  return connections.cleanup;
}
