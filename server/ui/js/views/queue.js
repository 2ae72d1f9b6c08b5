// The download queue: live progress, speed and ETA from WebSocket events; queue controls.

import { api } from '../api.js';
import { h, replace, notice, flash, formatBytes, formatDuration, episodeCode } from '../dom.js';
import { queue } from '../queue-store.js';
import { progressBar } from './library.js';
import { queueStateNote } from './queue-note.js';

const GROUPS = [
  ['downloading', 'Downloading'],
  ['pending', 'Waiting'],
  ['paused', 'Paused'],
  ['failed', 'Failed'],
  ['completed', 'Completed'],
  ['cancelled', 'Cancelled'],
];

export async function queueView(root) {
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const state = h('p', { class: 'queue-state', id: 'queue-state', 'aria-live': 'polite' });
  const controls = h('div', { class: 'actions', role: 'group', 'aria-label': 'Queue controls' });
  const list = h('div', { id: 'queue-list' });
  const rows = new Map();

  async function action(label, method, path, body) {
    try {
      const data = await api(method, path, body === undefined ? {} : { body });
      if (data && typeof data === 'object' && (Array.isArray(data.items) || 'running' in data)) queue.replaceState(data);
      else await queue.load(true);
      replace(message, flash('ok', label));
    } catch (e) {
      replace(message, notice('error', e.message));
    }
  }

  function button(label, id, onclick, opts = {}) {
    return h('button', { type: 'button', id, onclick, ...opts }, label);
  }

  function drawControls() {
    const c = queue.counts();
    replace(controls,
      queue.running
        ? button('Stop', 'queue-stop', () => action('Queue stopped.', 'POST', '/queue/stop'))
        : button('Start', 'queue-start', () => action('Queue started.', 'POST', '/queue/start'), { class: 'primary' }),
      queue.paused
        ? button('Resume', 'queue-resume', () => action('Queue resumed.', 'POST', '/queue/resume'))
        : button('Pause', 'queue-pause', () => action('Queue paused.', 'POST', '/queue/pause'), { disabled: !queue.running }),
      button(`Retry failed (${c.failed || 0})`, 'queue-retry', () => action('Failed items queued again.', 'POST', '/queue/retry', {}), { disabled: !c.failed }),
      button(`Clear completed (${c.completed || 0})`, 'queue-clear', () => action('Completed items cleared.', 'DELETE', '/queue/completed'), { disabled: !c.completed }));
    state.textContent = `${queue.running ? (queue.paused ? 'Paused' : 'Running') : 'Stopped'} · ${c.downloading || 0} downloading, ${c.pending || 0} waiting, ${c.failed || 0} failed, ${c.completed || 0} completed`;
  }

  function drawAll() {
    const focusedId = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
    drawControls();
    rows.clear();
    const items = queue.list().sort((a, b) => Number(a.id) - Number(b.id));
    if (!items.length) {
      replace(list, h('p', { class: 'empty' }, 'The queue is empty. Queue missing episodes from a ', h('a', { href: '#/library' }, 'series page'), '.'));
    } else {
      const known = new Set(GROUPS.map(([k]) => k));
      const counts = queue.counts();
      replace(list, GROUPS.map(([status, title]) => {
        const group = items.filter((i) => i.status === status || (status === 'pending' && !known.has(i.status)));
        if (!group.length) return null;
        // The server counts every item; only the loaded pages are listed.
        const all = Math.max(counts[status] ?? 0, group.length);
        return h('section', { class: 'queue-group' },
          h('h2', null, all > group.length ? `${title} (${group.length} of ${all} shown)` : `${title} (${group.length})`),
          h('ul', { class: 'queue-items' }, group.map(row)));
      }), queue.hasMore() ? h('div', { class: 'more' }, button(`Show more (${items.length} of ${queue.total} shown)`, 'queue-more', async (ev) => {
        ev.target.disabled = true;
        try { await queue.loadMore(); } catch (e) { replace(message, notice('error', e.message)); ev.target.disabled = false; }
      })) : null);
    }
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  function row(item) {
    const bar = progressBar(item.percent, `Progress of ${item.name} ${episodeCode(item.season ?? 0, item.episode ?? 0)}`);
    const stats = h('span', { class: 'stats muted' });
    const li = h('li', { class: `queue-item status-${item.status}`, dataset: { itemId: String(item.id), key: item.key || '', status: item.status, season: String(item.season ?? ''), episode: String(item.episode ?? '') } },
      h('div', { class: 'queue-title' },
        h('strong', null, item.name || item.key || ''),
        ' ', h('span', { class: 'ep-code' }, item.season !== undefined ? episodeCode(item.season, item.episode ?? 0) : ''),
        item.language ? h('span', { class: 'muted' }, ` · ${item.language}`) : null),
      bar, stats,
      item.status === 'failed' && item.error ? h('p', { class: 'error-text' }, item.error) : null,
      h('div', { class: 'item-actions' },
        button('Remove', `remove-${item.id}`, () => action('Removed.', 'DELETE', `/queue/${encodeURIComponent(item.id)}`), { class: 'small ghost', 'aria-label': `Remove ${item.name || ''} ${episodeCode(item.season ?? 0, item.episode ?? 0)}` })));
    const update = (it) => {
      const pct = Math.max(0, Math.min(100, Number(it.percent) || 0));
      bar.setAttribute('aria-valuenow', String(Math.round(pct)));
      bar.firstChild.style.width = `${pct}%`;
      const parts = [`${pct.toFixed(pct >= 100 ? 0 : 1)}%`];
      if (it.bytes !== undefined) parts.push(it.total ? `${formatBytes(it.bytes)} of ${formatBytes(it.total)}` : formatBytes(it.bytes));
      if (it.status === 'downloading' && it.speed) parts.push(`${formatBytes(it.speed)}/s`);
      if (it.status === 'downloading' && it.eta !== undefined && it.eta !== null) parts.push(`ETA ${formatDuration(it.eta)}`);
      stats.textContent = parts.join(' · ');
    };
    update(item);
    rows.set(String(item.id), { status: item.status, update });
    return li;
  }

  const note = queueStateNote();
  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, 'Queue'), controls),
    state, note.element, message, list);

  const off = queue.subscribe((_, item) => {
    const r = item && rows.get(String(item.id));
    // Progress updates touch only their own row; anything else redraws.
    if (r && r.status === item.status) { r.update(item); drawControls(); } else drawAll();
  });
  try {
    await queue.load(true);
  } catch (e) {
    replace(message, notice('error', e.message));
  }
  drawAll();
  return () => { off(); note.cleanup(); };
}
