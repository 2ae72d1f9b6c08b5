// Library: series with their missing episodes per season; filter, sort, rescan with live progress.
// The library is indexed when the server starts: while that runs the page says so (never "empty"),
// and folders without .aniworld.json are offered for matching (views/unmatched.js).

import { api, listOf } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice, flash, formatRanges, seasonLabel, count } from '../dom.js';
import { missingBySeason, missingStructure, missingStatus, seriesName, coverElement } from '../anime.js';
import { unmatchedSection } from './unmatched.js';

const PAGE_SIZE = 60;
// The server filters, sorts and pages (the library may hold thousands of series).
const SORTS = {
  name: { sort: 'name', order: 'asc', label: 'Name' },
  missing: { sort: 'missing', order: 'desc', label: 'Most missing' },
  added: { sort: 'added', order: 'desc', label: 'Recently added' },
};
const STATES = {
  '': 'All series',
  missing: 'Missing episodes',
  complete: 'Complete',
  unknown: 'Not known yet',
};

export async function libraryView(root) {
  const prefs = loadPrefs();
  const filter = h('input', { id: 'library-filter', type: 'search', placeholder: 'Filter by name', value: prefs.q, autocomplete: 'off' });
  const sort = h('select', { id: 'library-sort' },
    Object.entries(SORTS).map(([value, o]) => h('option', { value }, o.label)));
  sort.value = SORTS[prefs.sort] ? prefs.sort : 'name';
  const stateFilter = h('select', { id: 'library-state' },
    Object.entries(STATES).map(([value, label]) => h('option', { value }, label)));
  stateFilter.value = STATES[prefs.state] !== undefined ? prefs.state : '';
  const followedOnly = h('input', { id: 'library-followed', type: 'checkbox', checked: Boolean(prefs.followed) });
  const rescanButton = h('button', { type: 'button', id: 'rescan' }, 'Rescan library');
  const scanStatus = h('div', { class: 'scan-status', id: 'library-status', 'aria-live': 'polite' });
  const summary = h('p', { class: 'muted', id: 'library-summary', 'aria-live': 'polite' });
  const grid = h('ul', { class: 'series-grid', id: 'library-list' });
  const more = h('div', { class: 'more' });
  const unmatched = unmatchedSection({ onMatched: () => { reloadSoon(); refreshStatus(); } });

  replace(root,
    h('div', { class: 'view-head' },
      h('h1', null, 'Library'),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/search' }, 'Add series'), rescanButton)),
    scanStatus,
    unmatched.element,
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field grow' }, h('label', { for: 'library-filter' }, 'Filter'), filter),
      h('div', { class: 'field' }, h('label', { for: 'library-state' }, 'Show'), stateFilter),
      h('div', { class: 'field check' }, followedOnly, h('label', { for: 'library-followed' }, 'Followed')),
      h('div', { class: 'field' }, h('label', { for: 'library-sort' }, 'Sort by'), sort)),
    summary, grid, more);

  let all = [];
  let total = null;
  let page = 1;
  let generation = 0;
  /** `GET /api/library/status`: the running scan, counts, whether the folder can be read. */
  let status = null;
  let scanId = null;
  /** Whether the list has been asked once (before that, an empty list means nothing). */
  let listed = false;

  // `aria-busy` on the list while a (re)load is pending or running: screen readers wait for the
  // new list, and so can tests.
  const busy = (on) => grid.setAttribute('aria-busy', on ? 'true' : 'false');
  let pendingReload = false;

  async function fetchPage() {
    const mine = generation;
    const order = SORTS[sort.value] || SORTS.name;
    busy(true);
    let data;
    try {
      data = await api('GET', '/anime', { query: {
        page, per_page: PAGE_SIZE, q: filter.value.trim(), state: stateFilter.value || undefined,
        followed: followedOnly.checked ? true : undefined,
        sort: order.sort, order: order.order,
      } });
    } catch (e) {
      if (mine === generation && !pendingReload) busy(false);
      throw e;
    }
    // A newer filter was typed while this page loaded: its answer wins.
    if (mine !== generation) return;
    const items = listOf(data, 'items', 'anime', 'series');
    listed = true;
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
    savePrefs({ q: filter.value, sort: sort.value, state: stateFilter.value, followed: followedOnly.checked });
    const filtered = filter.value.trim() !== '' || stateFilter.value !== '' || followedOnly.checked;
    summary.textContent = all.length === 0 ? '' : `${total ?? all.length} series${filtered ? ' match' : ''}`;
    if (all.length === 0) {
      replace(grid, h('li', { class: 'empty' }, emptyText(filtered)));
      return;
    }
    replace(grid, all.map(card));
  }

  /** What an empty list means: indexing, folders still to match, a filter, or really empty. */
  function emptyText(filtered) {
    if (!listed) return 'Loading…';
    if (filtered) return 'No series match the filter.';
    if (status?.scan || (status === null && scanId)) return h('p', null, 'Indexing the library folder… the series appear when it is done.');
    if (status && !status.readable) {
      return [h('p', null, 'The library folder cannot be read.'),
        h('p', null, status.error || '', ' Set the library folder in ', h('a', { href: '#/settings' }, 'Settings'), '.')];
    }
    if (status?.unmatched) return h('p', null, `No series yet: ${count(status.unmatched, 'folder waits', 'folders wait')} to be matched above.`);
    return [h('p', null, 'The library is empty.'),
      h('p', null, h('a', { href: '#/search' }, 'Search a site and add a series'), ', or put series folders into ',
        status?.path ? h('code', null, status.path) : 'the library folder', ' and rescan.')];
  }

  async function reload() {
    generation += 1;
    all = [];
    page = 1;
    await fetchPage();
  }

  let debounce = null;
  function reloadSoon(ms = 200) {
    clearTimeout(debounce);
    pendingReload = true;
    busy(true);
    debounce = setTimeout(() => {
      pendingReload = false;
      reload().catch((e) => replace(grid, h('li', { class: 'empty' }, notice('error', e.message))));
    }, ms);
  }
  // While sites answer one series after another (the first index of a large library), the list
  // is redrawn at most every two seconds, not once per answer and not only after the last one.
  let throttle = null;
  function reloadThrottled() {
    if (throttle || page !== 1) return;
    throttle = setTimeout(() => {
      throttle = null;
      reload().catch(() => { /* the next event or reload tries again */ });
    }, 2000);
  }
  filter.addEventListener('input', () => reloadSoon());
  sort.addEventListener('change', () => reloadSoon());
  stateFilter.addEventListener('change', () => reloadSoon());
  followedOnly.addEventListener('change', () => reloadSoon());

  async function refreshStatus() {
    try {
      status = await api('GET', '/library/status');
    } catch {
      return;
    }
    if (status.scan && !scanId) {
      scanId = status.scan.scan_id;
      rescanButton.disabled = true;
      showScan(status.scan.done, status.scan.total, null);
    } else if (!status.scan && !scanStatus.querySelector('.notice.ok, .notice.error')) {
      showProblems();
    }
    unmatched.setCount(status.unmatched);
    if (!all.length) draw();
  }

  function showProblems() {
    if (status && !status.readable) {
      replace(scanStatus, notice('error', h('strong', null, 'The library folder cannot be read. '), status.error || '',
        ' ', h('a', { href: '#/settings' }, 'Change it in Settings')));
    } else replace(scanStatus);
  }

  // Scans (the one at start, a rescan) with live progress from `scan_progress` / `scan_complete`.
  const off = live.on((type, data) => {
    if (type === 'series_updated' || type === 'series_added') {
      // A site answered: counts changed. Only the first page is redrawn by itself.
      reloadThrottled();
      return;
    }
    if (type === 'reconnected') { refreshStatus(); reloadSoon(); return; }
    if (!type.startsWith('scan_')) return;
    if (scanId && data.scan_id && data.scan_id !== scanId) return;
    if (type === 'scan_started') { scanId = data.scan_id || scanId; rescanButton.disabled = true; showScan(0, 0, null); }
    else if (type === 'scan_progress') { scanId = data.scan_id || scanId; showScan(Number(data.done) || 0, Number(data.total) || 0, data.folder); }
    else if (type === 'scan_complete' || type === 'scan_completed') {
      rescanButton.disabled = false;
      scanId = null;
      const parts = [];
      if (data.series !== undefined) parts.push(count(data.series, 'series', 'series'));
      if (data.episodes !== undefined) parts.push(count(data.episodes, 'episode', 'episodes'));
      if (data.missing !== undefined && data.missing !== null) parts.push(`${data.missing} missing`);
      if (data.unmatched) parts.push(count(data.unmatched, 'folder to match', 'folders to match'));
      replace(scanStatus, flash('ok', `Scan complete${parts.length ? `: ${parts.join(', ')}` : ''}.`));
      status = null;
      refreshStatus();
      unmatched.reload();
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
      h('div', null, totalFolders > 0 ? `Indexing the library: ${done} of ${totalFolders} folders` : 'Indexing the library…',
        folder ? h('span', { class: 'muted' }, ` · ${folder}`) : null),
      progressBar(pct, 'Scan progress')));
    if (!all.length) draw();
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

  await refreshStatus();
  try {
    await fetchPage();
  } catch (e) {
    replace(grid, h('li', { class: 'empty' }, notice('error', e.message)));
  }
  unmatched.reload();
  return () => { off(); unmatched.cleanup(); clearTimeout(debounce); clearTimeout(throttle); };
}

export function progressBar(percent, label) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  return h('div', { class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(p)) },
    h('div', { class: 'progress-fill', style: `width:${p}%` }));
}

/** The pill saying what is known of a series' missing episodes (never "Complete" when unknown). */
export function statePill(s) {
  const m = missingStatus(s);
  if (m.state === 'unknown') {
    const text = m.reason === 'not checked yet' ? 'Not checked yet' : `Unknown · ${m.reason}`;
    return h('span', { class: 'pill info state-unknown', title: s.missing_error || `Missing episodes unknown: ${m.reason}` }, text);
  }
  if (m.state === 'complete') return h('span', { class: 'pill ok state-complete' }, 'Complete');
  return [
    m.count > 0 ? h('span', { class: 'pill warn state-missing' }, `${m.count} missing`) : null,
    m.specials ? h('span', { class: 'pill info' }, `${count(m.specials, 'special', 'specials')} missing`) : null,
  ];
}

/** Whether a folder name only repeats the series name (with its year). */
function repeatsName(folder, name, year) {
  const norm = (t) => String(t || '').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
  return norm(folder) === norm(name) || norm(folder) === norm(`${name}${year ?? ''}`);
}

function card(s) {
  const structure = missingStructure(s);
  const perSeason = structure ? missingBySeason(structure) : null;
  const m = missingStatus(s);
  const href = `#/series/${encodeURIComponent(s.key || s.folder || '')}`;
  const name = seriesName(s);
  const meta = [s.site, s.year, s.folder && !repeatsName(s.folder, name, s.year) ? s.folder : null].filter(Boolean).join(' · ');
  const onDisk = typeof s.episodes_on_disk === 'number' ? count(s.episodes_on_disk, 'episode', 'episodes') + ' on disk' : null;
  return h('li', { class: `series-card state-${m.state}`, dataset: { key: s.key || '', state: m.state } },
    h('a', { href, class: 'series-link' },
      coverElement(h, s),
      h('div', { class: 'series-body' },
        h('h2', { class: 'series-name' }, name, s.followed ? h('span', { class: 'pill info followed-pill', title: `Followed (monitor: ${s.monitor})` }, 'Followed') : null),
        meta ? h('p', { class: 'muted meta' }, meta) : null,
        h('div', { class: 'missing' },
          statePill(s),
          onDisk ? h('span', { class: 'muted small on-disk' }, onDisk) : null,
          m.state === 'missing' && perSeason && perSeason.size ? h('ul', { class: 'missing-list' }, [...perSeason.entries()].map(([season, eps]) =>
            h('li', null, h('strong', null, `${seasonLabel(season)}: `), formatRanges(eps)))) : null))));
}

function loadPrefs() {
  const base = { q: '', sort: 'name', state: '', followed: false };
  try { return { ...base, ...JSON.parse(sessionStorage.getItem('aniworld.library') || '{}') }; } catch { return base; }
}

function savePrefs(p) {
  try { sessionStorage.setItem('aniworld.library', JSON.stringify(p)); } catch { /* not remembered */ }
}
