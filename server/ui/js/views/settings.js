// Settings: the config as a form for people (groups, plain labels, units, hints, restart marks,
// advanced keys folded away). Only what the user changed is sent; keys set by the environment or
// the command line (and keys the API keeps read-only) are shown locked with a note and never sent.
// The API checks every change (its messages name the key and appear next to the field);
// connections; backups and restore.

import { api, listOf } from '../api.js';
import { h, replace, notice, flash, formatBytes } from '../dom.js';
import { connectionsSection } from './connections.js';
import { GROUPS, fieldOf } from '../settings-schema.js';

function fieldId(path) {
  return `cfg-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** Every setting of the document: `[path, value]`, maps that are one field (headers, script values) kept whole. */
function leaves(value, path = '', out = []) {
  const whole = path && ['headers', 'map'].includes(fieldOf(path).kind);
  if (value && typeof value === 'object' && !Array.isArray(value) && !whole) {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  } else if (path) out.push([path, value]);
  return out;
}

function setPath(obj, path, v) {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) { o[p] = o[p] && typeof o[p] === 'object' ? o[p] : {}; o = o[p]; }
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

const covers = (key, path) => path === key || path.startsWith(`${key}.`) || key.startsWith(`${path}.`);

/** Why a key cannot be edited here, or null. */
function lockOf(path, overridden, readOnly) {
  const o = overridden.find((k) => covers(k.key, path));
  if (o) {
    return o.source === 'cli'
      ? `Set by ${o.by} on the command line for this run, so it is not changed or saved here.`
      : `Set by the environment variable ${o.by} for this run, so it is not changed or saved here.`;
  }
  const locked = readOnly.some((k) => (k.endsWith('.*') ? path.startsWith(k.slice(0, -1)) : covers(k, path)));
  return locked ? 'Set in config.json or the environment only (it loads code or exposes the server).' : null;
}

/** One input for one key; pushes how to tell and read a change into `readers`. */
function field(path, value, lock, readers) {
  const meta = fieldOf(path);
  const id = fieldId(path);
  let input;
  let text;
  let read;
  let problem = () => null;
  if (meta.kind === 'headers' || meta.kind === 'map') {
    const sep = meta.kind === 'headers' ? ':' : '=';
    text = Object.entries(value || {}).map(([k, v]) => `${k}${sep === ':' ? ': ' : ' = '}${v}`).join('\n');
    input = h('textarea', { id, rows: String(Math.max(2, text.split('\n').length + 1)), spellcheck: 'false', autocomplete: 'off' });
    input.value = text;
    read = () => {
      const out = {};
      for (const line of input.value.split('\n')) {
        const i = line.indexOf(sep);
        if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      return out;
    };
  } else if (typeof value === 'boolean') {
    input = h('input', { id, type: 'checkbox', checked: value });
    text = String(value);
    read = () => input.checked;
  } else if (typeof value === 'number') {
    const scale = meta.scale || 1;
    text = String(scale === 1 ? value : Number((value / scale).toFixed(3)));
    input = h('input', { id, type: 'text', inputmode: 'decimal', value: text, autocomplete: 'off' });
    problem = () => {
      const t = input.value.trim();
      return t !== '' && Number.isFinite(Number(t)) ? null : `must be a number${meta.unit ? ` (${meta.unit})` : ''}, not “${t}”`;
    };
    read = () => {
      const t = input.value.trim();
      if (t === '' || !Number.isFinite(Number(t))) return t;
      const n = Number(t) * scale;
      return Number.isInteger(value) ? Math.round(n) : n;
    };
  } else if (Array.isArray(value)) {
    const numeric = value.length > 0 && value.every((v) => typeof v === 'number');
    text = value.map(String).join('\n');
    input = h('textarea', { id, rows: String(Math.min(10, Math.max(2, value.length + 1))) });
    input.value = text;
    read = () => input.value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => (numeric && Number.isFinite(Number(l)) ? Number(l) : l));
  } else {
    text = value === null ? '' : String(value);
    input = h('input', { id, type: 'text', value: text, autocomplete: 'off', spellcheck: 'false' });
    read = () => (value === null && input.value === '' ? null : input.value);
  }
  const current = () => (input.type === 'checkbox' ? String(input.checked) : input.value);
  if (lock) {
    input.disabled = true;
    input.setAttribute('aria-describedby', `${id}-locked`);
  } else {
    readers.push({ path, read, problem, changed: () => current() !== text });
  }
  const check = input.type === 'checkbox';
  const label = h('label', { for: id }, meta.label,
    meta.restart ? h('span', { class: 'pill info restart', title: 'Takes effect after the server restarts' }, 'needs a restart') : null);
  const control = meta.unit ? h('div', { class: 'with-unit' }, input, h('span', { class: 'unit muted' }, meta.unit)) : input;
  return h('div', { class: `field cfg-field${check ? ' cfg-check' : ''}${lock ? ' locked' : ''}`, dataset: { path } },
    check ? h('div', { class: 'check-row' }, input, label) : label,
    check ? null : control,
    meta.hint ? h('small', { class: 'muted hint' }, meta.hint) : null,
    lock ? h('small', { class: 'lock-note', id: `${id}-locked` }, lock) : null,
    h('code', { class: 'muted cfg-key' }, path),
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

/** A group: its everyday fields, then its advanced ones folded away. */
function groupBox(id, title, hint, items, legendTag = 'legend') {
  const main = items.filter((i) => !i.advanced).map((i) => i.el);
  const advanced = items.filter((i) => i.advanced).map((i) => i.el);
  if (!main.length && !advanced.length) return null;
  return h('fieldset', { class: 'cfg-group', id: `cfg-group-${id}`, dataset: { group: id } },
    h(legendTag, null, title),
    hint ? h('p', { class: 'muted group-hint' }, hint) : null,
    h('div', { class: 'cfg-fields' }, main),
    advanced.length ? h('details', { class: 'advanced' }, h('summary', null, `Advanced (${advanced.length})`), h('div', { class: 'cfg-fields' }, advanced)) : null);
}

export async function settingsView(root) {
  const message = h('div', { id: 'settings-message', class: 'messages', 'aria-live': 'assertive' });
  const overrideNote = h('div', { id: 'settings-overrides' });
  const form = h('form', { id: 'settings-form', novalidate: true });
  const backups = h('div', { id: 'backups' });
  // Saving a connection writes the config too: the new backup shows up below.
  const connections = connectionsSection({ onSaved: () => loadBackups() });
  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, 'Settings')),
    h('p', { class: 'muted' }, 'Only what you change is saved. The server checks it first and keeps the previous file as a backup.'),
    overrideNote,
    form,
    connections,
    h('section', { class: 'card', 'aria-labelledby': 'backups-title' }, h('h2', { id: 'backups-title' }, 'Backups'), backups));

  let readers = [];

  /** Only the keys the user changed, as a partial config document. */
  function changes() {
    const patch = {};
    for (const r of readers) if (r.changed()) setPath(patch, r.path, r.read());
    return patch;
  }

  function clearErrors() {
    for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  /** The field of `key`, or of the nearest key above it (a map entry's map, a section's first field). */
  function fieldFor(key) {
    let k = String(key);
    while (k) {
      const el = form.querySelector(`[data-path="${CSS.escape(k)}"]`) || form.querySelector(`[data-path^="${CSS.escape(`${k}.`)}"]`);
      if (el) return el;
      k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '';
    }
    return null;
  }

  function showError(e) {
    const extra = [];
    for (const { key, message: m } of fieldErrors(e.details)) {
      const el = key && fieldFor(key);
      const input = el && el.querySelector('input, textarea, select');
      const slot = el && el.querySelector('.field-error');
      if (slot && input) {
        slot.textContent = m || e.message;
        slot.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', slot.id);
        const fold = el.closest('details');
        if (fold) fold.open = true;
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
    // A value of the wrong type is named next to its field before anything is sent.
    const wrong = readers.filter((r) => r.changed()).map((r) => ({ field: r.path, message: r.problem() })).filter((p) => p.message);
    if (wrong.length) {
      showError({ message: `${wrong[0].field} ${wrong[0].message}`, details: wrong.length === 1 ? wrong[0] : { errors: wrong } });
      return;
    }
    let body;
    try { body = changes(); } catch (e) { replace(message, notice('error', e.message)); return; }
    if (kind === 'save' && !Object.keys(body).length) { replace(message, flash('info', 'Nothing changed.')); return; }
    replace(message, notice('info', kind === 'validate' ? 'Checking…' : 'Saving…'));
    try {
      const r = kind === 'validate' ? await api('POST', '/config/validate', { body }) : await api('PUT', '/config', { body });
      const errors = r && typeof r === 'object' ? (r.errors ?? (r.field ? { field: r.field, message: r.message } : r.details)) : null;
      if ((r && r.valid === false) || (Array.isArray(r?.errors) && r.errors.length)) {
        showError({ message: r.message || 'The configuration is not valid.', details: errors });
        return;
      }
      if (kind === 'save') { await loadConfig(); await loadBackups(); }
      replace(message, flash('ok', kind === 'validate' ? 'The changes are valid.' : 'Saved.'));
    } catch (e) {
      showError(e);
    }
  }

  async function loadConfig() {
    const config = await api('GET', '/config');
    const overridden = Array.isArray(config?.overridden) ? config.overridden : [];
    const readOnly = Array.isArray(config?.read_only) ? config.read_only : [];
    const doc = { ...config };
    for (const k of ['overridden', 'read_only', 'connections']) delete doc[k];
    readers = [];
    const byGroup = new Map(GROUPS.map((g) => [g.id, []]));
    const sites = new Map();
    const all = leaves(doc).sort((a, b) => fieldOf(a[0]).rank - fieldOf(b[0]).rank);
    for (const [path, value] of all) {
      const meta = fieldOf(path);
      const item = { advanced: Boolean(meta.advanced), el: field(path, value, lockOf(path, overridden, readOnly), readers) };
      if (path.startsWith('providers.')) {
        const site = path.split('.')[1];
        if (!sites.has(site)) sites.set(site, []);
        sites.get(site).push(item);
      } else (byGroup.get(meta.group) || byGroup.get('other')).push(item);
    }
    const boxes = GROUPS.map((g) => {
      if (g.id !== 'sites') return groupBox(g.id, g.title, g.hint, byGroup.get(g.id));
      if (!sites.size) return null;
      return h('fieldset', { class: 'cfg-group', id: 'cfg-group-sites', dataset: { group: 'sites' } },
        h('legend', null, g.title), h('p', { class: 'muted group-hint' }, g.hint),
        [...sites.entries()].map(([site, items]) => groupBox(`site-${site}`, site, null, items, 'h3')));
    });
    replace(overrideNote, overridden.length ? notice('info', h('strong', null, 'Some settings come from the environment or the command line. '),
      'They are shown locked and are never written to config.json: ',
      overridden.map((o, i) => [i ? ', ' : '', h('code', null, o.key), ` (${o.by})`]), '.') : null);
    replace(form, boxes,
      h('div', { class: 'actions sticky-actions' },
        h('button', { type: 'button', id: 'settings-validate', onclick: () => submit('validate') }, 'Check'),
        h('button', { type: 'submit', id: 'settings-save', class: 'primary' }, 'Save changes'),
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
          await loadConfig();
          replace(message, flash('ok', `Restored ${name}.`));
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
