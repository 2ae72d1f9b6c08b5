// Library: series with their missing episodes per season; filter, sort, rescan with live progress.

import { api, listOf } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice, formatRanges, seasonLabel } from '../dom.js';
import { missingBySeason, missingCount, seriesName, coverElement } from '../anime.js';

const PAGE_SIZE = 100;
const SORTS = {
  name: (a, b) => seriesName(a).localeCompare(seriesName(b), undefined, { sensitivity: 'base' }),
  missing: (a, b) => missingCount(b) - missingCount(a) || SORTS.name(a, b),
  site: (a, b) => String(a.site || '').localeCompare(String(b.site || '')) || SORTS.name(a, b),
};

export async function libraryView(root) {
  const prefs = loadPrefs();
  const filter = h('input', { id: 'library-filter', type: 'search', placeholder: 'Filter by name', value: prefs.q, autocomplete: 'off' });
  const sort = h('select', { id: 'library-sort' },
    h('option', { value: 'name' }, 'Name'),
    h('option', { value: 'missing' }, 'Most missing'),
    h('option', { value: 'site' }, 'Site'));
  sort.value = SORTS[prefs.sort] ? prefs.sort : 'name';
  const onlyMissing = h('input', { id: 'library-only-missing', type: 'checkbox', checked: prefs.onlyMissing });
  const rescanButton = h('button', { type: 'button', id: 'rescan' }, 'Rescan library');
  const scanStatus = h('div', { class: 'scan-status', 'aria-live': 'polite' });
  const summary = h('p', { class: 'muted', id: 'library-summary', 'aria-live': 'polite' });
  const grid = h('ul', { class: 'series-grid', id: 'library-list' });
  const more = h('div', { class: 'more' });

  replace(root,
    h('div', { class: 'view-head' },
      h('h1', null, 'Library'),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/search' }, 'Add series'), rescanButton)),
    scanStatus,
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field grow' }, h('label', { for: 'library-filter' }, 'Filter'), filter),
      h('div', { class: 'field' }, h('label', { for: 'library-sort' }, 'Sort by'), sort),
      h('label', { class: 'check' }, onlyMissing, ' Only series with missing episodes')),
    summary, grid, more);

  let all = [];
  let total = null;
  let page = 1;

  async function fetchPage() {
    const data = await api('GET', '/anime', { query: { page, per_page: PAGE_SIZE } });
    const items = listOf(data, 'items', 'anime', 'series');
    all = all.concat(items);
    total = typeof data?.total === 'number' ? data.total : null;
    const hasMore = total !== null ? all.length < total : items.length === PAGE_SIZE;
    replace(more, hasMore ? h('button', { type: 'button', onclick: async (ev) => {
      ev.target.disabled = true;
      page += 1;
      try { await fetchPage(); } catch (e) { replace(more, notice('error', e.message)); }
    } }, `Load more (${all.length}${total !== null ? ` of ${total}` : ''} loaded)`) : null);
    draw();
  }

  function draw() {
    const q = filter.value.trim().toLowerCase();
    savePrefs({ q: filter.value, sort: sort.value, onlyMissing: onlyMissing.checked });
    const shown = all
      .filter((s) => !q || [seriesName(s), s.key, s.folder].some((v) => v && String(v).toLowerCase().includes(q)))
      .filter((s) => !onlyMissing.checked || missingCount(s) > 0)
      .sort(SORTS[sort.value] || SORTS.name);
    const missingTotal = all.reduce((n, s) => n + missingCount(s), 0);
    summary.textContent = all.length === 0 ? '' :
      `${shown.length} of ${total ?? all.length} series shown · ${missingTotal} missing episodes in the loaded series`;
    if (all.length === 0) {
      replace(grid, h('li', { class: 'empty' },
        h('p', null, 'The library is empty.'),
        h('p', null, h('a', { href: '#/search' }, 'Search a site and add a series'), ', or put series folders into the library folder and rescan.')));
      return;
    }
    replace(grid, shown.map(card));
    if (shown.length === 0) grid.appendChild(h('li', { class: 'empty' }, 'No series match the filter.'));
  }

  filter.addEventListener('input', draw);
  sort.addEventListener('change', draw);
  onlyMissing.addEventListener('change', draw);

  async function reload() {
    all = [];
    page = 1;
    await fetchPage();
  }

  // Rescan with live progress from `scan_progress` / `scan_complete` / `scan_failed` events.
  let scanId = null;
  const off = live.on((type, data) => {
    if (!type.startsWith('scan_')) return;
    if (scanId && data.scan_id && data.scan_id !== scanId) return;
    if (type === 'scan_started') showScan(0, 0, null);
    else if (type === 'scan_progress') showScan(Number(data.done) || 0, Number(data.total) || 0, data.folder);
    else if (type === 'scan_complete' || type === 'scan_completed') {
      rescanButton.disabled = false;
      scanId = null;
      const parts = [];
      if (data.series !== undefined) parts.push(`${data.series} series`);
      if (data.episodes !== undefined) parts.push(`${data.episodes} episodes`);
      if (data.missing !== undefined && data.missing !== null) parts.push(`${data.missing} missing`);
      if (data.unmatched) parts.push(`${data.unmatched} unmatched folders`);
      replace(scanStatus, notice('ok', `Scan complete${parts.length ? `: ${parts.join(', ')}` : ''}.`));
      reload().catch((e) => replace(scanStatus, notice('error', e.message)));
    } else if (type === 'scan_failed') {
      rescanButton.disabled = false;
      scanId = null;
      replace(scanStatus, notice('error', `Scan failed: ${data.error || data.message || 'unknown error'}`));
    }
  });

  function showScan(done, totalFolders, folder) {
    const pct = totalFolders > 0 ? Math.round((done / totalFolders) * 100) : 0;
    replace(scanStatus, h('div', { class: 'notice info', id: 'scan-progress' },
      h('div', null, totalFolders > 0 ? `Scanning ${done} of ${totalFolders} folders` : 'Scanning…',
        folder ? h('span', { class: 'muted' }, ` · ${folder}`) : null),
      progressBar(pct, 'Scan progress')));
  }

  rescanButton.addEventListener('click', async () => {
    rescanButton.disabled = true;
    showScan(0, 0, null);
    try {
      const r = await api('POST', '/anime/rescan');
      scanId = r?.scan_id ?? r?.id ?? null;
    } catch (e) {
      // 409: a scan is already running; its events will still arrive.
      if (e.status !== 409) {
        rescanButton.disabled = false;
        replace(scanStatus, notice('error', e.message));
      }
    }
  });

  try {
    await fetchPage();
  } catch (e) {
    replace(grid, h('li', { class: 'empty' }, notice('error', e.message)));
  }
  return off;
}

export function progressBar(percent, label) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  return h('div', { class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(p)) },
    h('div', { class: 'progress-fill', style: `width:${p}%` }));
}

function card(s) {
  const missing = missingBySeason(s.missing_episodes ?? s.missing);
  const count = missingCount(s);
  const href = `#/series/${encodeURIComponent(s.key || s.folder || '')}`;
  return h('li', { class: 'series-card', dataset: { key: s.key || '' } },
    h('a', { href, class: 'series-link' },
      coverElement(h, s),
      h('div', { class: 'series-body' },
        h('h2', { class: 'series-name' }, seriesName(s)),
        h('p', { class: 'muted meta' }, [s.site, s.folder && s.folder !== seriesName(s) ? s.folder : null].filter(Boolean).join(' · ')),
        count > 0
          ? h('div', { class: 'missing' },
            h('span', { class: 'pill warn' }, `${count} missing`),
            h('ul', { class: 'missing-list' }, [...missing.entries()].map(([season, eps]) =>
              h('li', null, h('strong', null, `${seasonLabel(season)}: `), formatRanges(eps)))))
          : h('span', { class: 'pill ok' }, typeof (s.missing_episodes ?? s.missing) === 'undefined' || (s.missing_episodes ?? s.missing) === null ? 'Not checked yet' : 'Complete'))));
}

function loadPrefs() {
  try { return { q: '', sort: 'name', onlyMissing: false, ...JSON.parse(sessionStorage.getItem('aniworld.library') || '{}') }; } catch { return { q: '', sort: 'name', onlyMissing: false }; }
}

function savePrefs(p) {
  try { sessionStorage.setItem('aniworld.library', JSON.stringify(p)); } catch { /* not remembered */ }
}
