// Library: series with their missing episodes per season; filter, sort, rescan with live progress.

import { api, listOf } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice, formatRanges, seasonLabel } from '../dom.js';
import { missingBySeason, missingCount, missingSpecials, missingStructure, seriesName, coverElement } from '../anime.js';

const PAGE_SIZE = 60;
// The server filters, sorts and pages (the library may hold thousands of series).
const SORTS = {
  name: { sort: 'name', order: 'asc', label: 'Name' },
  missing: { sort: 'missing', order: 'desc', label: 'Most missing' },
  added: { sort: 'added', order: 'desc', label: 'Recently added' },
};

export async function libraryView(root) {
  const prefs = loadPrefs();
  const filter = h('input', { id: 'library-filter', type: 'search', placeholder: 'Filter by name', value: prefs.q, autocomplete: 'off' });
  const sort = h('select', { id: 'library-sort' },
    Object.entries(SORTS).map(([value, o]) => h('option', { value }, o.label)));
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
  let generation = 0;

  // `aria-busy` on the list while a (re)load is pending or running: screen readers wait for the
  // new list, and so can tests.
  const busy = (on) => grid.setAttribute('aria-busy', on ? 'true' : 'false');

  async function fetchPage() {
    const mine = generation;
    const order = SORTS[sort.value] || SORTS.name;
    busy(true);
    let data;
    try {
      data = await api('GET', '/anime', { query: {
        page, per_page: PAGE_SIZE, q: filter.value.trim(), missing: onlyMissing.checked ? 'true' : undefined,
        sort: order.sort, order: order.order,
      } });
    } catch (e) {
      if (mine === generation && !pendingReload) busy(false);
      throw e;
    }
    // A newer filter was typed while this page loaded: its answer wins.
    if (mine !== generation) return;
    const items = listOf(data, 'items', 'anime', 'series');
    all = all.concat(items);
    total = typeof data?.total === 'number' ? data.total : null;
    const hasMore = total !== null ? all.length < total : items.length === PAGE_SIZE;
    replace(more, hasMore ? h('button', { type: 'button', id: 'library-more', onclick: async (ev) => {
      ev.target.disabled = true;
      page += 1;
      try { await fetchPage(); } catch (e) { replace(more, notice('error', e.message)); }
    } }, `Show more (${all.length}${total !== null ? ` of ${total}` : ''} shown)`) : null);
    draw();
    if (!pendingReload) busy(false);
  }

  function draw() {
    savePrefs({ q: filter.value, sort: sort.value, onlyMissing: onlyMissing.checked });
    const filtered = filter.value.trim() !== '' || onlyMissing.checked;
    summary.textContent = all.length === 0 ? '' : `${total ?? all.length} series${filtered ? ' match' : ''}`;
    if (all.length === 0) {
      replace(grid, filtered
        ? h('li', { class: 'empty' }, 'No series match the filter.')
        : h('li', { class: 'empty' },
          h('p', null, 'The library is empty.'),
          h('p', null, h('a', { href: '#/search' }, 'Search a site and add a series'), ', or put series folders into the library folder and rescan.')));
      return;
    }
    replace(grid, all.map(card));
  }

  async function reload() {
    generation += 1;
    all = [];
    page = 1;
    await fetchPage();
  }

  let debounce = null;
  let pendingReload = false;
  const reloadSoon = () => {
    clearTimeout(debounce);
    pendingReload = true;
    busy(true);
    debounce = setTimeout(() => {
      pendingReload = false;
      reload().catch((e) => replace(grid, h('li', { class: 'empty' }, notice('error', e.message))));
    }, 200);
  };
  filter.addEventListener('input', reloadSoon);
  sort.addEventListener('change', reloadSoon);
  onlyMissing.addEventListener('change', reloadSoon);

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
      const count = (n, one, many) => `${n} ${Number(n) === 1 ? one : many}`;
      if (data.series !== undefined) parts.push(count(data.series, 'series', 'series'));
      if (data.episodes !== undefined) parts.push(count(data.episodes, 'episode', 'episodes'));
      if (data.missing !== undefined && data.missing !== null) parts.push(`${data.missing} missing`);
      if (data.unmatched) parts.push(count(data.unmatched, 'folder without .aniworld.json', 'folders without .aniworld.json'));
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
  return () => { off(); clearTimeout(debounce); };
}

export function progressBar(percent, label) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  return h('div', { class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(p)) },
    h('div', { class: 'progress-fill', style: `width:${p}%` }));
}

function card(s) {
  const structure = missingStructure(s);
  const perSeason = structure ? missingBySeason(structure) : null;
  const count = missingCount(s);
  const specials = missingSpecials(s);
  const href = `#/series/${encodeURIComponent(s.key || s.folder || '')}`;
  let state;
  if (count === null) state = h('span', { class: 'pill info' }, 'Not checked yet');
  else if (count === 0 && !specials) state = h('span', { class: 'pill ok' }, 'Complete');
  else {
    state = h('div', { class: 'missing' },
      count > 0 ? h('span', { class: 'pill warn' }, `${count} missing`) : null,
      specials ? h('span', { class: 'pill info' }, `${specials} ${specials === 1 ? 'special' : 'specials'} missing`) : null,
      perSeason && perSeason.size ? h('ul', { class: 'missing-list' }, [...perSeason.entries()].map(([season, eps]) =>
        h('li', null, h('strong', null, `${seasonLabel(season)}: `), formatRanges(eps)))) : null);
  }
  return h('li', { class: 'series-card', dataset: { key: s.key || '' } },
    h('a', { href, class: 'series-link' },
      coverElement(h, s),
      h('div', { class: 'series-body' },
        h('h2', { class: 'series-name' }, seriesName(s)),
        h('p', { class: 'muted meta' }, [s.site, s.year, s.folder && s.folder !== seriesName(s) ? s.folder : null].filter(Boolean).join(' · ')),
        state)));
}

function loadPrefs() {
  try { return { q: '', sort: 'name', onlyMissing: false, ...JSON.parse(sessionStorage.getItem('aniworld.library') || '{}') }; } catch { return { q: '', sort: 'name', onlyMissing: false }; }
}

function savePrefs(p) {
  try { sessionStorage.setItem('aniworld.library', JSON.stringify(p)); } catch { /* not remembered */ }
}
