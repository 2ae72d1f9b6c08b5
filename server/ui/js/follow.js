// The follow control: a toggle and the monitor choice (`PUT /api/anime/{id}/follow`). Used on the
// series page and in search results.

import { api } from './api.js';
import { h, replace, notice } from './dom.js';

const MONITORS = {
  new: 'New episodes',
  all: 'All missing episodes',
  none: 'Nothing (only report)',
};

/**
 * `series` = `{key, followed, monitor}`; `prepare()` (optional) runs before the first change and
 * returns the key to use (search results add the series to the library first).
 * Returns `{element}`.
 */
export function followControl(series, { idPrefix = 'follow', prepare = null } = {}) {
  let key = series.key;
  const toggle = h('input', { type: 'checkbox', id: `${idPrefix}-toggle`, checked: Boolean(series.followed) });
  const monitor = h('select', { id: `${idPrefix}-monitor`, 'aria-label': 'Queue by itself' },
    Object.entries(MONITORS).map(([value, label]) => h('option', { value }, label)));
  monitor.value = series.followed && MONITORS[series.monitor] ? series.monitor : 'new';
  const status = h('span', { class: 'follow-status muted', id: `${idPrefix}-status`, 'aria-live': 'polite' });
  const element = h('div', { class: 'follow-control', dataset: { followed: String(Boolean(series.followed)) } },
    h('label', { class: 'check' }, toggle, ' Follow'),
    h('label', { class: 'field inline' }, h('span', { class: 'muted' }, 'Queue by itself: '), monitor),
    status);

  function show(s) {
    element.dataset.followed = String(Boolean(s.followed));
    toggle.checked = Boolean(s.followed);
    if (s.followed && MONITORS[s.monitor]) monitor.value = s.monitor;
    replace(status, s.followed ? `Followed: ${MONITORS[s.monitor] || s.monitor} are queued by the checks.` : 'Not followed.');
  }

  async function save() {
    toggle.disabled = true;
    monitor.disabled = true;
    replace(status, 'Saving…');
    try {
      if (prepare && !key) key = await prepare();
      const saved = await api('PUT', `/anime/${encodeURIComponent(key)}/follow`, {
        body: { followed: toggle.checked, monitor: toggle.checked ? monitor.value : 'none' },
      });
      show(saved);
    } catch (e) {
      toggle.checked = !toggle.checked;
      replace(status, notice('error', e.message));
    } finally {
      toggle.disabled = false;
      monitor.disabled = false;
    }
  }

  toggle.addEventListener('change', save);
  monitor.addEventListener('change', () => { if (toggle.checked) save(); });
  show(series);
  return { element };
}
