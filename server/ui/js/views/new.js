// Upcoming / new: what the follow checks found (newest first), the followed series, the last
// check's result, and "Check now". Updates live on `new_episodes` and `follow_check_complete`.

import { api } from '../api.js';
import { live } from '../ws.js';
import { h, replace, notice, episodeCode, count } from '../dom.js';

function when(unix) {
  return unix ? new Date(unix * 1000).toLocaleString() : 'never';
}

export async function newView(root) {
  const checkButton = h('button', { type: 'button', class: 'primary', id: 'follow-check' }, 'Check now');
  const checkState = h('div', { id: 'follow-last-check', 'aria-live': 'polite' });
  const found = h('ul', { class: 'found-list', id: 'follow-found', 'aria-label': 'Episodes the checks found' });
  const followed = h('ul', { class: 'followed-list', id: 'followed-series' });
  replace(root,
    h('div', { class: 'view-head' }, h('h1', null, 'Upcoming / new'), h('div', { class: 'actions' }, checkButton)),
    checkState,
    h('h2', null, 'Found by the checks'), found,
    h('h2', null, 'Followed series'), followed);

  async function load() {
    found.setAttribute('aria-busy', 'true');
    const [overview, episodes] = await Promise.all([api('GET', '/follow'), api('GET', '/follow/found')]);
    const last = overview.last_check;
    const running = Boolean(overview.running);
    checkButton.disabled = running;
    checkButton.textContent = running ? 'Checking…' : 'Check now';
    replace(checkState,
      last
        ? notice(last.ok ? 'ok' : 'error',
          `Last check ${when(last.finished_at)} (${last.trigger}): ${count(last.found, 'new episode', 'new episodes')}, ${last.queued} queued.`,
          last.ok ? '' : ` ${last.message || ''}`)
        : notice('info', `No check has run yet. The server checks every ${overview.interval} seconds, or now with “Check now”.`));
    replace(found, episodes.length
      ? episodes.map((e) => h('li', { class: 'found card', dataset: { key: e.key, season: String(e.season), episode: String(e.episode) } },
        h('a', { href: `#/series/${encodeURIComponent(e.key)}` }, e.name), ' ',
        h('span', { class: 'ep-code' }, episodeCode(e.season, e.episode)), ' ',
        h('span', { class: `pill ${e.queued ? 'info' : 'warn'}` }, e.queued ? 'Queued' : 'Not queued'),
        h('span', { class: 'muted small' }, ` found ${when(e.found_at)}`)))
      : h('li', { class: 'empty muted' }, 'Nothing new found yet.'));
    found.setAttribute('aria-busy', 'false');
    replace(followed, overview.series.length
      ? overview.series.map((s) => h('li', { dataset: { key: s.key } },
        h('a', { href: `#/series/${encodeURIComponent(s.key)}` }, s.name),
        h('span', { class: 'muted small' }, ` · ${s.site} · monitor ${s.monitor} · checked ${when(s.checked_at)}`),
        s.error ? h('span', { class: 'pill warn', title: s.error }, `Last check failed: ${s.error_code}`) : null))
      : h('li', { class: 'empty muted' }, 'No series is followed. Follow one on its page or in the search results.'));
  }

  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true;
    checkButton.textContent = 'Checking…';
    try {
      await api('POST', '/follow/check');
    } catch (e) {
      replace(checkState, notice('error', e.message));
      checkButton.disabled = false;
      checkButton.textContent = 'Check now';
    }
  });

  const off = live.on((type) => {
    if (type === 'follow_check_complete' || type === 'new_episodes' || type === 'reconnected') load().catch(() => {});
  });
  await load().catch((e) => replace(checkState, notice('error', e.message)));
  return () => off();
}
