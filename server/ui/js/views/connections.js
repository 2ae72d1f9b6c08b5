// Settings → Connections: add, edit and remove notification and media-server connections (saved as
// the config's `connections` list), send a test, and see each connection's last result.

import { api } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice } from '../dom.js';

const KINDS = [
  ['webhook', 'Webhook (JSON POST)'],
  ['ntfy', 'ntfy'],
  ['discord', 'Discord webhook'],
  ['jellyfin', 'Jellyfin'],
  ['emby', 'Emby'],
  ['plex', 'Plex'],
  ['script', 'Script (script:<id>)'],
];

const EVENTS = [
  ['download_completed', 'Download completed'],
  ['download_failed', 'Download failed'],
  ['series_added', 'Series added'],
  ['new_episodes', 'New episodes found'],
  ['scan_completed', 'Library scan completed'],
];

const URL_HINT = {
  webhook: 'Where the JSON is POSTed.',
  ntfy: 'The topic URL, e.g. https://ntfy.sh/my-topic.',
  discord: 'The channel webhook URL from Discord.',
  jellyfin: 'The server, e.g. http://jellyfin:8096.',
  emby: 'The server, e.g. http://emby:8096/emby.',
  plex: 'The server, e.g. http://plex:32400.',
  script: 'Handed to the script; it may reach this host.',
};

const TOKEN_HINT = {
  webhook: 'Optional; sent as a Bearer token.',
  ntfy: 'Optional access token.',
  discord: 'Not needed: the token is part of the URL.',
  jellyfin: 'Required: an API key (Dashboard → API keys).',
  emby: 'Required: an API key.',
  plex: 'Required: your X-Plex-Token.',
  script: 'Optional; handed to the script.',
};

/** What the API shows instead of a stored secret. */
const MASK = '***';

function kindChoice(kind) {
  return String(kind).startsWith('script:') ? 'script' : kind;
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : '';
}

/** The Connections card; loads itself and calls `onSaved` after each save. `section.reload()`
 * re-reads it (after a restore), `section.cleanup()` stops its live updates. */
export function connectionsSection({ onSaved = () => {} } = {}) {
  const list = h('ul', { id: 'connections-list', class: 'connection-list' });
  const message = h('div', { id: 'connections-message', 'aria-live': 'polite' });
  const formSlot = h('div', { id: 'connection-form-slot' });
  const addButton = h('button', { type: 'button', id: 'connection-add', onclick: () => openForm(null) }, 'Add connection');
  const section = h('section', { class: 'card', id: 'connections', 'aria-labelledby': 'connections-title' },
    h('h2', { id: 'connections-title' }, 'Connections'),
    h('p', { class: 'muted' }, 'Notifications and media-server refreshes when downloads finish (or other events). A slow or broken receiver never holds up downloads.'),
    list,
    h('div', { class: 'actions' }, addButton),
    formSlot,
    message);

  let connections = []; // as GET /config shows them: secrets are ***
  let states = new Map(); // name → {last_ok, last_error, last_at}
  const tests = new Map(); // name → the last Test answer on this page

  async function loadStates() {
    const rows = await api('GET', '/connections');
    states = new Map((Array.isArray(rows) ? rows : []).map((r) => [r.name, r]));
  }

  async function load() {
    const config = await api('GET', '/config');
    connections = Array.isArray(config.connections) ? config.connections : [];
    await loadStates();
    render();
  }

  function lastResult(name) {
    const s = states.get(name);
    if (!s || s.last_ok === null || s.last_ok === undefined) {
      return h('p', { class: 'muted small connection-last', dataset: { state: 'none' } }, 'Not used yet.');
    }
    if (s.last_ok) {
      return h('p', { class: 'small connection-last', dataset: { state: 'ok' } },
        h('span', { class: 'pill ok' }, 'OK'), ' ', h('span', { class: 'muted' }, `Last delivery ${when(s.last_at)}`));
    }
    return h('p', { class: 'small connection-last', dataset: { state: 'failed' } },
      h('span', { class: 'pill warn' }, 'Failed'), ' ', h('span', { class: 'muted' }, when(s.last_at)),
      h('span', { class: 'error-text connection-error' }, s.last_error || ''));
  }

  function testResult(name) {
    const t = tests.get(name);
    if (!t) return null;
    const status = t.status && !String(t.message).includes(String(t.status)) ? ` (HTTP ${t.status})` : '';
    const text = `Test: ${t.message}${status}`;
    return h('div', { class: 'connection-test' }, notice(t.ok ? 'ok' : 'error', text));
  }

  function render() {
    if (!connections.length) {
      replace(list, h('li', { class: 'empty' }, 'No connections yet.'));
      return;
    }
    replace(list, connections.map((c, i) => {
      const events = Array.isArray(c.events) && c.events.length ? c.events : ['download_completed'];
      const test = h('button', { type: 'button', class: 'small', 'aria-label': `Test ${c.name}` }, 'Test');
      test.addEventListener('click', () => runTest(c.name, test));
      const edit = h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${c.name}`, onclick: () => openForm(i) }, 'Edit');
      const remove = h('button', { type: 'button', class: 'small', 'aria-label': `Remove ${c.name}` }, 'Remove');
      let armed = false;
      remove.addEventListener('click', async () => {
        // Two steps instead of a blocking confirm(): first click arms, second removes.
        if (!armed) { armed = true; remove.textContent = 'Click again to remove'; return; }
        remove.disabled = true;
        const next = connections.filter((_, j) => j !== i);
        if (await save(next, null)) replace(message, notice('ok', `Removed ${c.name}.`));
        else remove.disabled = false;
      });
      return h('li', { class: 'connection', dataset: { name: c.name } },
        h('div', { class: 'connection-body' },
          h('h3', { class: 'connection-name' }, c.name, ' ', h('span', { class: 'pill info' }, c.kind)),
          h('p', { class: 'muted small connection-url' }, c.url),
          h('p', { class: 'muted small' }, `Events: ${events.join(', ')}`),
          lastResult(c.name),
          testResult(c.name)),
        h('div', { class: 'item-actions' }, test, edit, remove));
    }));
  }

  async function runTest(name, button) {
    button.disabled = true;
    button.textContent = 'Testing…';
    try {
      tests.set(name, await api('POST', '/connections/test', { body: { name } }));
    } catch (e) {
      tests.set(name, { ok: false, status: null, message: e.message });
    }
    try { await loadStates(); } catch { /* the test answer is shown either way */ }
    render();
  }

  /** PUTs the whole list; true when saved. Validation errors land next to the field when the form is open. */
  async function save(next, index) {
    try {
      await api('PUT', '/config', { body: { connections: next } });
    } catch (e) {
      showError(e, index);
      return false;
    }
    await load();
    onSaved();
    return true;
  }

  function showError(e, index) {
    const key = e.details && e.details.field ? String(e.details.field) : '';
    const m = /^connections\[(\d+)\]\.([a-z_]+)/.exec(key);
    const form = formSlot.querySelector('form');
    if (form && m && Number(m[1]) === index) {
      const slot = form.querySelector(`#connection-${m[2]}-error`);
      const input = form.querySelector(`[data-field="${m[2]}"]`);
      if (slot) { slot.textContent = e.message; slot.hidden = false; }
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        if (slot) input.setAttribute('aria-describedby', slot.id);
        input.focus();
      }
    }
    replace(message, notice('error', h('span', { class: 'api-message' }, e.message)));
  }

  function field(id, label, input, hint) {
    return h('div', { class: 'field' },
      h('label', { for: id }, label),
      hint,
      input,
      h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
  }

  function openForm(index) {
    replace(message);
    const current = index === null ? null : connections[index];
    const kind = current ? kindChoice(current.kind) : 'webhook';
    const name = h('input', { id: 'connection-name', type: 'text', value: current ? current.name : '', autocomplete: 'off', dataset: { field: 'name' } });
    const kindSelect = h('select', { id: 'connection-kind', dataset: { field: 'kind' } },
      KINDS.map(([k, label]) => h('option', { value: k, selected: k === kind }, label)));
    const scriptId = h('input', {
      id: 'connection-script', type: 'text', autocomplete: 'off', spellcheck: 'false',
      value: current && kind === 'script' ? current.kind.slice('script:'.length) : '',
    });
    const scriptField = field('connection-script', 'Script id', scriptId,
      h('small', { class: 'muted' }, 'meta().id of a connection script in the scripts folder.'));
    const url = h('input', { id: 'connection-url', type: 'text', inputmode: 'url', value: current ? current.url : '', autocomplete: 'off', spellcheck: 'false', dataset: { field: 'url' } });
    const urlHint = h('small', { class: 'muted' });
    const hasToken = Boolean(current && current.token === MASK);
    const token = h('input', {
      id: 'connection-token', type: 'password', autocomplete: 'new-password', dataset: { field: 'token' },
      placeholder: hasToken ? 'Stored: leave empty to keep it' : '',
    });
    const tokenHint = h('small', { class: 'muted' });
    const clearToken = hasToken ? h('label', { class: 'check' },
      h('input', { type: 'checkbox', id: 'connection-token-clear' }), 'Remove the stored token') : null;
    const chosen = current && Array.isArray(current.events) ? current.events : ['download_completed'];
    const eventBoxes = EVENTS.map(([e, label]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', id: `connection-event-${e}`, value: e, checked: chosen.includes(e) }), label));
    const eventsGroup = h('fieldset', { class: 'connection-events', dataset: { field: 'events' } },
      h('legend', null, 'Send on'), eventBoxes,
      h('p', { class: 'field-error', id: 'connection-events-error', hidden: true }));

    function kindChanged() {
      const k = kindSelect.value;
      scriptField.hidden = k !== 'script';
      urlHint.textContent = URL_HINT[k] || '';
      tokenHint.textContent = TOKEN_HINT[k] || '';
    }
    kindSelect.addEventListener('change', kindChanged);
    kindChanged();

    const form = h('form', { id: 'connection-form', class: 'connection-form', novalidate: true },
      h('h3', null, current ? `Edit ${current.name}` : 'New connection'),
      field('connection-name', 'Name', name),
      field('connection-kind', 'Kind', kindSelect),
      scriptField,
      field('connection-url', 'URL', url, urlHint),
      field('connection-token', 'Token', token, tokenHint),
      clearToken,
      eventsGroup,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', id: 'connection-save', class: 'primary' }, 'Save connection'),
        h('button', { type: 'button', id: 'connection-cancel', onclick: closeForm }, 'Cancel')));

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      const k = kindSelect.value;
      const entry = { name: name.value.trim(), kind: k === 'script' ? `script:${scriptId.value.trim()}` : k, url: url.value.trim() };
      const removeToken = clearToken && clearToken.querySelector('input').checked;
      if (token.value) entry.token = token.value;
      else if (hasToken && !removeToken) entry.token = MASK;
      entry.events = eventBoxes.map((l) => l.querySelector('input')).filter((b) => b.checked).map((b) => b.value);
      const next = connections.slice();
      const at = index === null ? next.length : index;
      next[at] = entry;
      const saveButton = form.querySelector('#connection-save');
      saveButton.disabled = true;
      if (await save(next, at)) {
        closeForm();
        replace(message, notice('ok', `Saved ${entry.name}.`));
      } else {
        saveButton.disabled = false;
      }
    });
    replace(formSlot, form);
    addButton.hidden = true;
    name.focus();
  }

  function closeForm() {
    replace(formSlot);
    addButton.hidden = false;
  }

  // A failure reported live (after retries) shows up without reloading the page.
  const off = live.on((type) => {
    if (type !== 'connection_failed') return;
    loadStates().then(render).catch(() => { /* the next load shows it */ });
  });
  section.cleanup = off;
  section.reload = () => load().catch((e) => replace(message, notice('error', e.message)));

  load().catch((e) => replace(message, notice('error', e.message)));
  return section;
}
