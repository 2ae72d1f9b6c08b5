// One series: seasons and episodes (on disk / missing / queued), and queueing what is missing.

import { api } from '../api.js';
import { h, replace, notice, seasonLabel, episodeCode } from '../dom.js';
import { seasonsOf, seriesName, coverElement } from '../anime.js';
import { queue, enqueue } from '../queue-store.js';

export async function seriesView(root, id) {
  replace(root, h('h1', null, 'Series'), h('p', { class: 'muted' }, 'Loading…'));
  let detail;
  try {
    detail = await api('GET', `/anime/${encodeURIComponent(id)}`);
  } catch (e) {
    replace(root, h('h1', null, 'Series'), notice('error', e.message), h('p', null, h('a', { href: '#/library' }, 'Back to the library')));
    return null;
  }
  const series = { key: detail.key || id, site: detail.site };
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const body = h('div', { id: 'seasons' });
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
      replace(message, notice(added.length ? 'ok' : 'info',
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
    drawSeasons();
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  function drawSeasons() {
    const seasons = seasonsOf(detail);
    const missingOf = (eps) => eps.filter((e) => e.state === 'missing' && !queuedState(e.season, e.number));
    for (const s of seasons) for (const e of s.episodes) e.season = s.season;
    const allMissing = seasons.flatMap((s) => missingOf(s.episodes));
    const allButton = h('button', { type: 'button', class: 'primary', id: 'queue-all', disabled: allMissing.length === 0 },
      allMissing.length ? `Queue all missing (${allMissing.length})` : detail.provider_error ? 'Missing episodes unknown' : 'Nothing missing');
    allButton.addEventListener('click', () => add(allMissing.map((e) => ({ season: e.season, episode: e.number })), allButton));
    replace(actions, allButton);
    if (!seasons.length) {
      replace(body, h('p', { class: 'muted' }, 'No episodes known for this series yet. Rescan the library to ask its site.'));
      return;
    }
    replace(body, seasons.map((s) => {
      const missing = missingOf(s.episodes);
      const seasonButton = h('button', { type: 'button', class: 'queue-season', id: `queue-season-${s.season}`, disabled: missing.length === 0, dataset: { season: String(s.season) } },
        missing.length ? `Queue ${missing.length} missing` : 'Complete');
      seasonButton.addEventListener('click', () => add(missing.map((e) => ({ season: s.season, episode: e.number })), seasonButton));
      const onDisk = s.episodes.filter((e) => e.state === 'on_disk').length;
      return h('section', { class: 'season card', 'aria-labelledby': `season-${s.season}` },
        h('div', { class: 'season-head' },
          h('h2', { id: `season-${s.season}` }, seasonLabel(s.season)),
          h('span', { class: 'muted' }, `${onDisk} of ${s.episodes.length} on disk`),
          seasonButton),
        h('ul', { class: 'episodes' }, s.episodes.map((e) => episodeRow(s.season, e))));
    }));
  }

  function episodeRow(season, e) {
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
    if (state === 'missing') {
      const b = h('button', { type: 'button', class: 'small queue-episode', id: `queue-s${season}-e${e.number}`, 'aria-label': `Queue ${episodeCode(season, e.number)}` }, 'Queue');
      b.addEventListener('click', () => add([{ season, episode: e.number }], b));
      row.appendChild(b);
    }
    return row;
  }

  const actions = h('div', { class: 'actions' });
  const meta = [detail.site, detail.year, detail.folder ? `Folder: ${detail.folder}` : null].filter(Boolean).join(' · ');
  replace(root,
    h('p', null, h('a', { href: '#/library' }, '← Library')),
    h('div', { class: 'series-head' },
      coverElement(h, detail, 'large'),
      h('div', null,
        h('h1', null, seriesName(detail)),
        h('p', { class: 'muted' }, meta),
        detail.description ? h('p', { class: 'description' }, detail.description) : null,
        detail.link || detail.url ? h('p', null, h('a', { href: detail.link || detail.url, rel: 'noreferrer noopener', target: '_blank' }, 'Open on the site')) : null,
        actions)),
    detail.provider_error ? notice('error', h('strong', null, `Could not ask ${detail.site || 'the site'} which episodes exist. `), detail.provider_error) : null,
    message, body);
  draw();
  // Progress and state changes arrive through the queue store (WebSocket events).
  return queue.subscribe((_, item) => {
    if (!item || item.key === series.key) draw();
  });
}
