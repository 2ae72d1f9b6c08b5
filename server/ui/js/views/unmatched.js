// Library import: folders without .aniworld.json, a page at a time, each with the sites'
// suggestions (searched by the server for the folders shown), a search box, a link field and
// one-click matching; "Accept best suggestions" matches every folder whose first suggestion is
// certain (same name and year, no other of that name).

import { api, listOf } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice, flash, count } from '../dom.js';
import { coverElement, seriesName } from '../anime.js';

const PAGE_SIZE = 20;

/** `{element, reload, setCount, cleanup}`; `onMatched(summary)` after each match. */
export function unmatchedSection({ onMatched }) {
  const title = h('span', { id: 'unmatched-title' }, 'Folders to match');
  const filter = h('input', { id: 'unmatched-filter', type: 'search', placeholder: 'Filter folders', autocomplete: 'off' });
  const acceptAll = h('button', { type: 'button', id: 'unmatched-accept-best', class: 'primary', disabled: true }, 'Accept best suggestions');
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const list = h('ul', { class: 'unmatched-list', id: 'unmatched-list' });
  const pager = h('div', { class: 'actions pager' });
  const body = h('div', { class: 'unmatched-body' },
    h('p', { class: 'muted' }, 'These folders have no ', h('code', null, '.aniworld.json'), ' yet, so nobody knows which series they hold. ',
      'Pick the right series: the server writes the file into the folder (nothing else changes) and the series shows its episodes on disk and what is missing.'),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field grow' }, h('label', { for: 'unmatched-filter' }, 'Filter'), filter),
      h('div', { class: 'field end' }, acceptAll)),
    message, list, pager);
  const element = h('details', { class: 'card unmatched', id: 'unmatched', hidden: true, open: loadOpen() },
    h('summary', null, title), body);
  element.addEventListener('toggle', () => saveOpen(element.open));

  let page = 1;
  let items = [];
  let total = 0;
  let generation = 0;
  /** Folders whose suggestions the user replaced with an own search: kept across reloads. */
  const searched = new Map();
  const matched = new Set();

  function setCount(n) {
    element.hidden = !n && !matched.size;
    title.textContent = n ? `Folders to match (${n})` : 'Folders to match';
  }

  async function reload() {
    const mine = ++generation;
    let data;
    try {
      data = await api('GET', '/library/unmatched', { query: { page, per_page: PAGE_SIZE, q: filter.value.trim() } });
    } catch (e) {
      replace(message, notice('error', e.message));
      return;
    }
    if (mine !== generation) return;
    items = listOf(data, 'items');
    total = typeof data?.total === 'number' ? data.total : items.length;
    if (!filter.value.trim()) setCount(total);
    else element.hidden = false;
    draw();
  }

  function draw() {
    const certain = items.filter((i) => i.confident && i.suggestions?.length && !matched.has(i.folder));
    acceptAll.disabled = certain.length === 0;
    acceptAll.textContent = certain.length ? `Accept best suggestions (${certain.length})` : 'Accept best suggestions';
    if (!items.length) {
      replace(list, h('li', { class: 'empty' }, filter.value.trim() ? 'No folder matches the filter.' : 'Every folder is matched.'));
    } else {
      replace(list, items.map(row));
    }
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    replace(pager, pages > 1 ? [
      h('button', { type: 'button', class: 'small', disabled: page <= 1, onclick: () => { page -= 1; reload(); } }, 'Previous'),
      h('span', { class: 'muted' }, `Page ${page} of ${pages}`),
      h('button', { type: 'button', class: 'small', id: 'unmatched-next', disabled: page >= pages, onclick: () => { page += 1; reload(); } }, 'Next'),
    ] : null);
  }

  function row(item) {
    const folder = item.folder;
    const feedback = h('div', { class: 'messages', 'aria-live': 'polite' });
    const li = h('li', { class: 'unmatched-folder', dataset: { folder, state: item.suggestions_state || '' } });
    if (matched.has(folder)) {
      return replace(li, h('div', { class: 'unmatched-head' }, h('strong', { class: 'folder-name' }, folder)), feedback,
        h('p', { class: 'matched' }, 'Matched.'));
    }
    const own = searched.get(folder);
    const hits = own ? own.hits : (item.suggestions || []);
    let suggestions;
    if (own?.error) suggestions = notice('error', own.error);
    else if (!own && item.suggestions_state === 'pending') suggestions = h('p', { class: 'muted searching' }, `Searching the sites for “${item.query}”…`);
    else if (!own && item.suggestions_state === 'failed') suggestions = notice('error', h('strong', null, 'The sites could not be searched. '), item.reason || '', ' Match by link below.');
    else if (!hits.length) suggestions = h('p', { class: 'muted' }, `Nothing found for “${own ? own.query : item.query}”. Search with other words, or paste the series link.`);
    else suggestions = h('ul', { class: 'suggestions' }, hits.map((hit, i) => suggestion(item, hit, i === 0 && item.confident && !own, feedback)));

    const searchInput = h('input', { type: 'search', value: own ? own.query : item.query, 'aria-label': `Search for ${folder}`, class: 'unmatched-search' });
    const searchForm = h('form', { class: 'inline-form' }, searchInput, h('button', { type: 'submit', class: 'small' }, 'Search'));
    searchForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const query = searchInput.value.trim();
      if (!query) return;
      replace(feedback, notice('info', 'Searching…'));
      try {
        const found = listOf(await api('POST', '/anime/search', { body: { query } }), 'results', 'items');
        searched.set(folder, { query, hits: found });
      } catch (e) {
        searched.set(folder, { query, hits: [], error: e.message });
      }
      li.replaceWith(row(item));
    });
    const linkInput = h('input', { type: 'text', placeholder: '/anime/stream/… or a full URL', 'aria-label': `Series link for ${folder}`, class: 'unmatched-link', autocomplete: 'off' });
    const linkForm = h('form', { class: 'inline-form' }, linkInput, h('button', { type: 'submit', class: 'small' }, 'Match'));
    linkForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const link = linkInput.value.trim();
      if (link) match(item, { link }, feedback, ev.submitter);
    });
    return replace(li,
      h('div', { class: 'unmatched-head' },
        h('strong', { class: 'folder-name' }, folder),
        h('span', { class: 'muted' }, count(item.episodes ?? 0, 'episode file', 'episode files'))),
      suggestions,
      h('details', { class: 'unmatched-more' }, h('summary', null, 'Not listed? Search or paste a link'), searchForm, linkForm),
      feedback);
  }

  function suggestion(item, hit, best, feedback) {
    const button = h('button', { type: 'button', class: `small match-button${best ? ' primary' : ''}`, 'aria-label': `Match ${item.folder} to ${seriesName(hit)}` }, 'Match');
    button.addEventListener('click', () => match(item, { link: hit.link, site: hit.site }, feedback, button));
    return h('li', { class: `suggestion${best ? ' best' : ''}`, dataset: { key: hit.key || '', site: hit.site || '' } },
      coverElement(h, hit, 'tiny'),
      h('div', { class: 'suggestion-body' },
        h('span', { class: 'suggestion-name' }, seriesName(hit)),
        h('span', { class: 'muted' }, [hit.site, hit.year].filter(Boolean).join(' · ')),
        best ? h('span', { class: 'pill ok' }, 'Best match') : null),
      button);
  }

  async function match(item, { link, site }, feedback, button) {
    if (button) button.disabled = true;
    replace(feedback, notice('info', 'Matching…'));
    try {
      const body = { folder: item.folder, link };
      if (site) body.site = site;
      const summary = await api('POST', '/library/match', { body });
      matched.add(item.folder);
      searched.delete(item.folder);
      const li = list.querySelector(`li[data-folder="${CSS.escape(item.folder)}"]`);
      if (li) {
        li.classList.add('is-matched');
        replace(li, h('div', { class: 'unmatched-head' }, h('strong', { class: 'folder-name' }, item.folder)),
          notice('ok', `Matched to “${seriesName(summary)}”. `, h('a', { href: `#/series/${encodeURIComponent(summary.key)}` }, 'Open it')));
      }
      onMatched?.(summary);
      return true;
    } catch (e) {
      replace(feedback, notice('error', e.message));
      if (button) button.disabled = false;
      return false;
    }
  }

  acceptAll.addEventListener('click', async () => {
    const certain = items.filter((i) => i.confident && i.suggestions?.length && !matched.has(i.folder));
    acceptAll.disabled = true;
    let done = 0;
    const failed = [];
    for (const item of certain) {
      replace(message, notice('info', `Matching ${done + 1} of ${certain.length}…`));
      const best = item.suggestions[0];
      // eslint-disable-next-line no-await-in-loop
      const ok = await match(item, { link: best.link, site: best.site }, h('div'), null);
      if (ok) done += 1; else failed.push(item.folder);
    }
    replace(message, flash(failed.length ? 'error' : 'ok', `Matched ${count(done, 'folder', 'folders')}.`,
      failed.length ? ` Not matched: ${failed.join(', ')}.` : ''));
    await reload();
  });

  let filterTimer = null;
  filter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { page = 1; reload(); }, 250);
  });

  // Suggestions searched in the background arrive one folder at a time: the page is asked again
  // at most once a second while they come.
  let readyTimer = null;
  const off = live.on((type, data) => {
    if (type !== 'suggestions_ready' || readyTimer) return;
    if (!items.some((i) => i.folder === data.folder)) return;
    readyTimer = setTimeout(function again() {
      // Someone is typing a search or a link into a row: wait, a redraw would take it away.
      if (list.contains(document.activeElement)) { readyTimer = setTimeout(again, 1000); return; }
      readyTimer = null;
      reload();
    }, 1000);
  });

  return {
    element,
    reload,
    setCount,
    cleanup() { off(); clearTimeout(readyTimer); clearTimeout(filterTimer); },
  };
}

function loadOpen() {
  try { return sessionStorage.getItem('aniworld.unmatched.closed') !== '1'; } catch { return true; }
}

function saveOpen(open) {
  try { sessionStorage.setItem('aniworld.unmatched.closed', open ? '0' : '1'); } catch { /* not remembered */ }
}
