// Search the provider sites and add a series to the library.

import { api, listOf } from '../api.js';
import { h, replace, notice } from '../dom.js';
import { seriesName, coverElement } from '../anime.js';
import { siteProblem } from '../network-help.js';
import { followControl } from '../follow.js';

async function knownSites() {
  try {
    const config = await api('GET', '/config');
    const providers = config?.providers && typeof config.providers === 'object' ? config.providers : {};
    const sites = Object.entries(providers).filter(([, p]) => !p || p.enabled !== false).map(([name]) => name);
    if (sites.length) return sites;
  } catch { /* fall back to the built-in sites */ }
  return ['aniworld', 'sto'];
}


export async function searchView(root) {
  const sites = await knownSites();
  const site = h('select', { id: 'search-site' },
    sites.map((s) => h('option', { value: s }, s)),
    sites.length > 1 ? h('option', { value: '' }, 'All sites') : null);
  const query = h('input', { id: 'search-query', type: 'search', required: true, placeholder: 'Title, e.g. Frieren', autocomplete: 'off' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Search');
  const message = h('div', { class: 'messages', 'aria-live': 'polite' });
  const results = h('ul', { class: 'results', id: 'search-results', 'aria-label': 'Search results' });
  const linkInput = h('input', { id: 'add-link', type: 'text', placeholder: '/anime/stream/frieren or a full URL', autocomplete: 'off' });
  const linkMessage = h('div', { class: 'messages', 'aria-live': 'polite' });

  const form = h('form', { class: 'toolbar', role: 'search' },
    h('div', { class: 'field grow' }, h('label', { for: 'search-query' }, 'Search'), query),
    h('div', { class: 'field' }, h('label', { for: 'search-site' }, 'Site'), site),
    h('div', { class: 'field end' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = query.value.trim();
    if (!q) { replace(message, notice('error', 'Type what to search for.')); return; }
    submit.disabled = true;
    replace(message, notice('info', 'Searching…'));
    replace(results);
    const chosen = site.value;
    try {
      const data = await api('POST', '/anime/search', { body: chosen ? { query: q, site: chosen } : { query: q } });
      const hits = listOf(data, 'results', 'items');
      const problems = Array.isArray(data?.errors) ? data.errors : [];
      replace(message,
        problems.map((p) => siteProblem(p.site, { code: p.error, message: p.message || p.error || '' })),
        hits.length ? null : notice('info', `Nothing found for “${q}”.`));
      replace(results, hits.map((hit) => resultRow(hit, chosen)));
    } catch (e) {
      replace(message, e.siteUnavailable ? siteProblem(chosen || e.details?.site, e) : notice('error', e.message));
    } finally {
      submit.disabled = false;
    }
  });

  const linkForm = h('form', { class: 'toolbar' },
    h('div', { class: 'field grow' }, h('label', { for: 'add-link' }, 'Or add by link'), linkInput),
    h('div', { class: 'field end' }, h('button', { type: 'submit' }, 'Add')));
  linkForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const link = linkInput.value.trim();
    if (!link) { replace(linkMessage, notice('error', 'Paste a series link first.')); return; }
    await addSeries({ link, site: site.value || undefined }, linkMessage, ev.submitter);
  });

  replace(root,
    h('h1', null, 'Search & add'),
    form, message, results,
    h('details', { class: 'card' }, h('summary', null, 'Add a series by its link'), linkForm, linkMessage));
  query.focus();
}

function resultRow(hit, chosenSite) {
  const feedback = h('div', { class: 'messages', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'primary add-series' }, 'Add to library');
  button.setAttribute('aria-label', `Add ${seriesName(hit)} to the library`);
  button.addEventListener('click', () => addSeries({ link: hit.link || hit.url, site: hit.site || chosenSite || undefined, key: hit.key }, feedback, button));
  // Following a series from the results adds it to the library first (when it is not there yet).
  const follow = followControl({ key: null, followed: false, monitor: 'new' }, {
    idPrefix: `follow-${hit.key || 'hit'}`,
    prepare: async () => {
      const added = await addSeries({ link: hit.link || hit.url, site: hit.site || chosenSite || undefined, key: hit.key }, feedback, button);
      if (!added) throw new Error('The series could not be added to the library.');
      return added;
    },
  });
  return h('li', { class: 'result card', dataset: { key: hit.key || '' } },
    coverElement(h, hit, 'small'),
    h('div', { class: 'result-body' },
      h('h2', null, seriesName(hit)),
      h('p', { class: 'muted' }, [hit.site, hit.year].filter(Boolean).join(' · ')),
      hit.description ? h('p', { class: 'description clamp' }, hit.description) : null,
      feedback),
    h('div', { class: 'result-actions' }, button, follow.element));
}

async function addSeries({ link, site, key }, feedback, button) {
  if (button) button.disabled = true;
  replace(feedback, notice('info', 'Adding…'));
  try {
    const body = { link };
    if (site) body.site = site;
    const added = await api('POST', '/anime/add', { body });
    const k = added?.key || key;
    replace(feedback, notice('ok', `Added “${seriesName(added || { key: k })}”. `,
      k ? h('a', { href: `#/series/${encodeURIComponent(k)}` }, 'Open it') : null));
    if (button) button.textContent = 'Added';
    return k;
  } catch (e) {
    if (e.status === 409) {
      const k = e.details?.key || key;
      replace(feedback, notice('info', `${e.message} `, k ? h('a', { href: `#/series/${encodeURIComponent(k)}` }, 'Open it') : null));
      if (button) button.textContent = 'In library';
      return k;
    }
    replace(feedback, e.siteUnavailable ? siteProblem(site, e) : notice('error', e.message));
    if (button) button.disabled = false;
    return null;
  }
}
