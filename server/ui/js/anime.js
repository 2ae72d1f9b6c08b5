// Normalising the anime shapes the API returns into what the views draw.

/** Missing episodes as `Map(season → [episode])`, from any of the shapes the API may use. */
export function missingBySeason(raw) {
  const out = new Map();
  const add = (season, episode) => {
    const s = Number(season);
    const e = Number(episode);
    if (!Number.isFinite(s) || !Number.isFinite(e)) return;
    if (!out.has(s)) out.set(s, []);
    out.get(s).push(e);
  };
  if (!raw || typeof raw !== 'object') return out;
  if (Array.isArray(raw)) {
    for (const m of raw) {
      if (!m || typeof m !== 'object') continue;
      // `{season, episodes: [numbers]}` per season, or one `{season, episode}` per episode.
      if (Array.isArray(m.episodes)) for (const e of m.episodes) add(m.season, e);
      else add(m.season, m.episode ?? m.number);
    }
  } else {
    if (raw.seasons && typeof raw.seasons === 'object') {
      for (const [s, eps] of Object.entries(raw.seasons)) for (const e of eps || []) add(s, e);
    }
    if (Array.isArray(raw.specials)) for (const e of raw.specials) add(0, e);
    if (!raw.seasons && !raw.specials) {
      for (const [s, eps] of Object.entries(raw)) if (Array.isArray(eps)) for (const e of eps) add(s, typeof e === 'object' ? e.episode ?? e.number : e);
    }
  }
  for (const eps of out.values()) eps.sort((a, b) => a - b);
  return new Map([...out.entries()].sort((a, b) => (a[0] === 0) - (b[0] === 0) || a[0] - b[0]));
}

/** The per-season structure of what is missing, wherever the API put it (counts are not structure). */
export function missingStructure(s) {
  for (const v of [s.missing, s.missing_by_season, s.missing_episodes]) {
    if (v && typeof v === 'object') return v;
  }
  return null;
}

/** Regular episodes missing; `null` when the site was not asked yet. */
export function missingCount(summary) {
  if (typeof summary.missing_episodes === 'number') return summary.missing_episodes;
  if (typeof summary.missing_count === 'number') return summary.missing_count;
  const structure = missingStructure(summary);
  if (!structure) return null;
  let n = 0;
  for (const [season, eps] of missingBySeason(structure)) if (season !== 0) n += eps.length;
  return n;
}

/** Movies/specials missing; `null` when unknown. */
export function missingSpecials(summary) {
  if (typeof summary.missing_specials === 'number') return summary.missing_specials;
  const structure = missingStructure(summary);
  if (!structure) return null;
  return missingBySeason(structure).get(0)?.length ?? 0;
}

export function seriesName(s) {
  return s.name || s.title || s.folder || s.key || '(unnamed)';
}

/** The server's signed cover URL first (kept in the data dir), else whatever the answer carries. */
export function coverUrl(s) {
  return s.cover_url || s.cover || s.image || s.poster || null;
}

const REASONS = {
  not_asked: 'not checked yet',
  no_provider: 'no provider for this site',
  blocked: 'site blocked',
  site_down: 'site unreachable',
  not_found: 'not found on the site',
  failed: 'site check failed',
};

/** Why missing episodes are unknown (or old), in words; null when the site's answer stands. */
export function reasonText(s) {
  return s.missing_reason ? (REASONS[s.missing_reason] || String(s.missing_reason).replace(/_/g, ' ')) : null;
}

/**
 * What is known of a series' missing episodes: `{state, count, specials, reason}` where state is
 * 'missing' | 'complete' | 'unknown'. Unknown is never reported as complete or as zero: only a
 * series whose site answered (`missing_state: known`) can be complete.
 */
export function missingStatus(s) {
  const known = s.missing_state ? s.missing_state === 'known' : missingCount(s) !== null;
  const reason = reasonText(s);
  if (!known) return { state: 'unknown', count: null, specials: null, reason: reason || 'not checked yet' };
  const count = missingCount(s) ?? 0;
  const specials = missingSpecials(s) ?? 0;
  return { state: count + specials > 0 ? 'missing' : 'complete', count, specials, reason };
}

/** A cover image, or a coloured tile with the initials when there is none (or it fails to load). */
export function coverElement(h, s, size = 'card') {
  const name = seriesName(s);
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join('').toUpperCase();
  let hash = 0;
  for (const ch of String(s.key || name)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const tile = h('div', { class: `cover cover-${size}`, style: `--hue:${hash % 360}`, 'aria-hidden': 'true' },
    h('span', { class: 'initials' }, initials || '?'));
  const url = coverUrl(s);
  if (url) {
    const img = h('img', { src: url, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' });
    img.addEventListener('error', () => img.remove());
    tile.appendChild(img);
  }
  return tile;
}

/**
 * Every episode of a series detail as `[{season, episodes: [{number, title, state, path}]}]`,
 * where state is 'on_disk' | 'missing' (queued is added by the view from the queue).
 */
export function seasonsOf(detail) {
  const seasons = new Map();
  const put = (season, number, fields) => {
    const s = Number(season);
    const n = Number(number);
    if (!Number.isFinite(s) || !Number.isFinite(n)) return;
    if (!seasons.has(s)) seasons.set(s, new Map());
    const eps = seasons.get(s);
    eps.set(n, { number: n, ...(eps.get(n) || {}), ...fields });
  };
  const stateOf = (e) => {
    const st = String(e.status ?? e.state ?? '').toLowerCase();
    if (e.on_disk === true || e.downloaded === true || e.local === true || e.path || ['on_disk', 'downloaded', 'local', 'present', 'available'].includes(st)) return 'on_disk';
    if (['queued', 'pending', 'downloading'].includes(st)) return 'queued';
    return 'missing';
  };
  if (Array.isArray(detail.seasons)) {
    for (const season of detail.seasons) {
      const sn = season.number ?? season.season;
      for (const e of season.episodes || []) {
        if (typeof e === 'number') put(sn, e, {});
        else put(sn, e.number ?? e.episode, { title: e.title || e.title_de || e.title_en, state: stateOf(e), path: e.path });
      }
    }
  }
  const eps = detail.episodes;
  if (Array.isArray(eps)) {
    // Files on disk: `{season, episode, path}`.
    for (const e of eps) put(e.season, e.episode ?? e.number, { state: stateOf(e), path: e.path, ...(e.title || e.title_de || e.title_en ? { title: e.title || e.title_de || e.title_en } : {}) });
  } else if (eps && typeof eps === 'object') {
    // `{season: [episode numbers on disk]}`
    for (const [s, list] of Object.entries(eps)) {
      for (const e of list || []) {
        if (typeof e === 'object') put(s, e.episode ?? e.number, { title: e.title, state: stateOf({ on_disk: true, ...e }), path: e.path });
        else put(s, e, { state: 'on_disk' });
      }
    }
  }
  for (const [s, list] of missingBySeason(missingStructure(detail))) {
    for (const e of list) put(s, e, { state: 'missing' });
  }
  return [...seasons.entries()]
    .sort((a, b) => (a[0] === 0) - (b[0] === 0) || a[0] - b[0])
    .map(([season, map]) => ({
      season,
      episodes: [...map.values()].map((e) => ({ state: 'missing', ...e })).sort((a, b) => a.number - b.number),
    }));
}
