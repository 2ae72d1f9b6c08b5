// One series: seasons and episodes (on disk / missing / queued), and queueing what is missing.
// What is on disk comes from the files; what exists from the site. When the site never answered,
// the page shows the files and says the rest is unknown: nothing is called complete.

import { api } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice, flash, seasonLabel, episodeCode, count } from '../dom.js';
import { seasonsOf, seriesName, coverElement, missingStatus } from '../anime.js';
import { queue, enqueue } from '../queue-store.js';
import { statePill } from './library.js';
import { queueStateNote } from './queue-note.js';
import { followControl } from '../follow.js';

export async function seriesView(root, id) {
  replace(root, h('h1', null, 'Series'), h('p', { class: 'muted' }, 'Loading…'));
  let detail;
  try {
    detail = await api('GET', `/anime/${encodeURIComponent(id)}`);
  } catch (e) {
    replace(root, h('h1', null, e.code === 'unmatched_folder' ? id : 'Series'),
      e.code === 'unmatched_folder'
        ? notice('info', 'This folder is not matched to a series yet. ', h('a', { href: '#/library' }, 'Match it in the library'), ' (Folders to match).')
        : notice('error', e.message),
      h('p', null, h('a', { href: '#/library' }, 'Back to the library')));
    return null;
  }
  const series = { key: detail.key || id, site: detail.site };
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const providerNote = h('div', { id: 'provider-note' });
  const headState = h('div', { class: 'series-state', id: 'series-state' });
  const body = h('div', { id: 'seasons' });
  const actions = h('div', { class: 'actions' });
  const queueNote = queueStateNote();
  await queue.load().catch(() => {});
  // The store holds the first page of a long queue: this series' items are fetched on their own.
  if (series.key) await queue.loadSeries(series.key).catch(() => {});

  function queuedState(season, episode) {
    for (const item of queue.items.values()) {
      if (item.key === series.key && item.season === season && item.episode === episode && item.status !== 'completed') return item;
    }
    return null;
  }

  async function add(episodes, button) {
    if (!episodes.length) return;
    button.disabled = true;
    try {
      const { added, skipped } = await enqueue(series, episodes);
      const why = { already_queued: 'already queued', on_disk: 'already on disk', invalid: 'not valid' };
      const skippedText = skipped.map((sk) => `${episodeCode(sk.season, sk.episode)} ${why[sk.reason] || sk.reason}${sk.message ? `: ${sk.message}` : ''}`);
      replace(message, flash(added.length ? 'ok' : 'info',
        added.length === 1 ? `Queued ${episodeCode(added[0].season, added[0].episode)}.`
          : added.length ? `Queued ${added.length} episodes.` : 'Nothing was queued.',
        skippedText.length ? ` Skipped: ${skippedText.join(', ')}.` : '',
        ' ', h('a', { href: '#/queue' }, 'Open the queue')));
    } catch (e) {
      replace(message, notice('error', e.message));
      button.disabled = false;
    }
    draw();
  }

  function draw() {
    // Redraws replace the buttons: keep keyboard focus on the same one.
    const focusedId = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
    drawHead();
    drawSeasons();
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  function drawHead() {
    const files = Array.isArray(detail.episodes) ? detail.episodes.length : 0;
    replace(headState, statePill(detail), h('span', { class: 'muted' }, `${count(files, 'episode file', 'episode files')} on disk`));
    const m = missingStatus(detail);
    const site = detail.site || 'the site';
    if (detail.provider_state === 'pending') {
      replace(providerNote, notice('info', `Asking ${site} which episodes exist… this page updates when it answers.`));
    } else if (m.state === 'unknown' || detail.provider_error) {
      const old = m.state !== 'unknown' && detail.checked_at ? ` Shown: what it listed on ${new Date(detail.checked_at * 1000).toLocaleString()}.` : '';
      replace(providerNote, notice('error', h('strong', null, m.state === 'unknown' ? `Which episodes exist is unknown: ${m.reason}. ` : `Could not ask ${site} again. `),
        detail.provider_error || '', old,
        h('span', { class: 'muted' }, ' Check the site in ', h('a', { href: '#/plugins' }, 'Plugins'), ' or its address in ', h('a', { href: '#/settings' }, 'Settings'), '.')));
    } else replace(providerNote);
  }

  function drawSeasons() {
    const known = missingStatus(detail).state !== 'unknown';
    const seasons = seasonsOf(detail);
    const listed = new Map();
    for (const s of Array.isArray(detail.seasons) ? detail.seasons : []) {
      listed.set(Number(s.number ?? s.season), new Set((s.episodes || []).map((e) => Number(typeof e === 'number' ? e : e.number ?? e.episode))));
    }
    const missingOf = (eps) => (known ? eps.filter((e) => e.state === 'missing' && !queuedState(e.season, e.number)) : []);
    for (const s of seasons) for (const e of s.episodes) e.season = s.season;
    const allMissing = seasons.flatMap((s) => missingOf(s.episodes));
    const allButton = h('button', { type: 'button', class: 'primary', id: 'queue-all', disabled: allMissing.length === 0 },
      allMissing.length ? `Queue all missing (${allMissing.length})` : known ? 'Nothing missing' : 'Missing episodes unknown');
    allButton.addEventListener('click', () => add(allMissing.map((e) => ({ season: e.season, episode: e.number })), allButton));
    replace(actions, allButton);
    if (!seasons.length) {
      replace(body, h('p', { class: 'muted' }, known ? 'The site lists no episodes for this series.' : 'No episode files in the folder, and the site has not told which episodes exist.'));
      return;
    }
    replace(body, seasons.map((s) => {
      const missing = missingOf(s.episodes);
      const list = listed.get(s.season);
      const onDisk = s.episodes.filter((e) => e.state === 'on_disk');
      let summary;
      let button = null;
      if (known && list) {
        const listedOnDisk = onDisk.filter((e) => list.has(e.number)).length;
        const extra = onDisk.length - listedOnDisk;
        summary = `${listedOnDisk} of ${list.size} on disk${extra > 0 ? ` · ${count(extra, 'more file', 'more files')}` : ''}`;
        const complete = s.episodes.every((e) => e.state !== 'missing');
        button = h('button', { type: 'button', class: 'queue-season', id: `queue-season-${s.season}`, disabled: missing.length === 0, dataset: { season: String(s.season) } },
          missing.length ? `Queue ${missing.length} missing` : complete ? 'Complete' : 'All queued');
        button.addEventListener('click', () => add(missing.map((e) => ({ season: s.season, episode: e.number })), button));
      } else {
        summary = `${onDisk.length} on disk · episode list unknown`;
      }
      return h('section', { class: 'season card', 'aria-labelledby': `season-${s.season}` },
        h('div', { class: 'season-head' },
          h('h2', { id: `season-${s.season}` }, seasonLabel(s.season)),
          h('span', { class: 'muted season-count' }, summary),
          button),
        h('ul', { class: 'episodes' }, s.episodes.map((e) => episodeRow(s.season, e, known))));
    }));
  }

  function episodeRow(season, e, known) {
    const q = queuedState(season, e.number);
    let state = e.state;
    let label = { on_disk: 'On disk', missing: 'Missing', queued: 'Queued' }[state] || state;
    if (q) {
      state = q.status === 'failed' ? 'failed' : 'queued';
      label = q.status === 'downloading' ? `Downloading ${Math.round(q.percent || 0)}%` : q.status === 'failed' ? 'Failed' : 'Queued';
    }
    const row = h('li', { class: `episode state-${state}`, dataset: { season: String(season), episode: String(e.number) } },
      h('span', { class: 'ep-code' }, episodeCode(season, e.number)),
      h('span', { class: 'ep-title' }, e.title || ''),
      h('span', { class: `pill ${state === 'on_disk' ? 'ok' : state === 'missing' || state === 'failed' ? 'warn' : 'info'}` }, label));
    if (state === 'missing' && known) {
      const b = h('button', { type: 'button', class: 'small queue-episode', id: `queue-s${season}-e${e.number}`, 'aria-label': `Queue ${episodeCode(season, e.number)}` }, 'Queue');
      b.addEventListener('click', () => add([{ season, episode: e.number }], b));
      row.appendChild(b);
    }
    return row;
  }

  const meta = [detail.site, detail.year, detail.folder ? `Folder: ${detail.folder}` : null].filter(Boolean).join(' · ');
  replace(root,
    h('p', null, h('a', { href: '#/library' }, '← Library')),
    h('div', { class: 'series-head' },
      coverElement(h, detail, 'large'),
      h('div', { class: 'series-info' },
        h('h1', null, seriesName(detail)),
        h('p', { class: 'muted' }, meta),
        headState,
        followControl({ key: detail.key || id, followed: detail.followed, monitor: detail.monitor }).element,
        detail.description ? h('p', { class: 'description' }, detail.description) : null,
        detail.link || detail.url ? h('p', null, h('a', { href: detail.link || detail.url, rel: 'noreferrer noopener', target: '_blank' }, 'Open on the site')) : null,
        actions)),
    providerNote, queueNote.element, message, body);
  draw();

  let reloading = null;
  function reloadDetail() {
    if (reloading) return;
    reloading = api('GET', `/anime/${encodeURIComponent(series.key)}`)
      .then((fresh) => { detail = fresh; draw(); })
      .catch(() => {})
      .finally(() => { reloading = null; });
  }
  // The site's answer arrives as `series_updated` when the page was shown without it. Only a page
  // still waiting for it asks again (asking again is what sends the event).
  const offLive = live.on((type, data) => {
    if (type === 'series_updated' && data.key === series.key && ['pending', 'stale'].includes(detail.provider_state)) reloadDetail();
  });
  // Progress and state changes arrive through the queue store (WebSocket events); a finished
  // download is a new file on disk.
  const offQueue = queue.subscribe((_, item) => {
    if (item && item.key === series.key && item.status === 'completed') reloadDetail();
    if (!item || item.key === series.key) draw();
  });
  return () => { offLive(); offQueue(); queueNote.cleanup(); };
}
