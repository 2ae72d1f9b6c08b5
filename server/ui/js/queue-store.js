// The download queue as the page knows it: the first page of `/api/queue/status` (more on request)
// and the server's complete counts, then kept current by WebSocket events only (no polling).
// Reloaded after a reconnect, since events may have been missed.

import { api, listOf } from './api.js';
import { live } from './ws.js';

/** Items per page asked from the server. */
export const QUEUE_PAGE_SIZE = 100;
const COUNTED = ['pending', 'downloading', 'paused', 'completed', 'failed', 'cancelled'];
const STATUS_ARRAYS = ['pending', 'queued', 'downloading', 'active', 'running', 'paused', 'completed', 'done', 'failed'];

/** One queue item in the page's own shape, whatever nesting the server used. */
export function normalizeItem(raw, fallbackStatus) {
  const ctx = raw.context || raw.episode_ref || raw;
  const prog = raw.progress && typeof raw.progress === 'object' ? raw.progress : raw;
  const total = num(prog.total ?? prog.total_bytes ?? raw.total_bytes ?? raw.size);
  const bytes = num(prog.bytes ?? prog.downloaded ?? prog.downloaded_bytes ?? raw.bytes_done);
  let percent = num(prog.percent ?? (typeof raw.progress === 'number' ? raw.progress : undefined));
  if (percent === undefined && total && bytes !== undefined) percent = (bytes / total) * 100;
  const status = normStatus(raw.status ?? raw.state ?? fallbackStatus);
  if (status === 'completed') percent = 100;
  return {
    id: raw.id ?? raw.item_id ?? prog.item_id,
    key: ctx.key ?? raw.key,
    site: ctx.site ?? raw.site,
    name: raw.name ?? raw.title ?? raw.series_name ?? ctx.folder ?? raw.folder ?? ctx.key ?? raw.key,
    folder: ctx.folder ?? raw.folder,
    season: num(ctx.season ?? raw.season),
    episode: num(ctx.episode ?? raw.episode),
    language: ctx.language ?? raw.language,
    status,
    bytes,
    total,
    percent,
    speed: num(prog.speed ?? raw.speed),
    eta: num(prog.eta ?? raw.eta),
    error: raw.error ?? raw.last_error ?? raw.message,
    path: ctx.path ?? raw.path,
  };
}

function num(v) {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function normStatus(s) {
  const v = String(s || 'pending').toLowerCase();
  if (['queued', 'waiting', 'pending'].includes(v)) return 'pending';
  if (['active', 'running', 'downloading', 'in_progress', 'started'].includes(v)) return 'downloading';
  if (['done', 'complete', 'completed', 'finished', 'success'].includes(v)) return 'completed';
  if (['failed', 'error', 'errored'].includes(v)) return 'failed';
  if (['paused', 'stopped'].includes(v)) return 'paused';
  return v;
}

class QueueStore {
  constructor() {
    this.items = new Map();
    this.running = false;
    this.paused = false;
    this.loaded = false;
    this.loading = null;
    this.listeners = new Set();
    /** The server's counts per status (complete, unlike `items`), once known. */
    this.serverCounts = null;
    /** Items the server has in total, and how many pages of them are loaded. */
    this.total = null;
    this.pages = 0;
    live.on((type, data) => this.apply(type, data));
  }

  /** `fn(store, changedItem|null)` on every change; returns an unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(item = null) {
    for (const fn of [...this.listeners]) fn(this, item);
  }

  /** Loads the full state once (or again when `force`). */
  load(force = false) {
    if (this.loaded && !force) return Promise.resolve(this);
    if (this.loading) return this.loading;
    this.loading = api('GET', '/queue/status', { query: { per_page: QUEUE_PAGE_SIZE } })
      .then((data) => { this.replaceState(data); return this; })
      .finally(() => { this.loading = null; });
    return this.loading;
  }

  /** Whether the server has items beyond the loaded pages. */
  hasMore() {
    return typeof this.total === 'number' && this.pages * QUEUE_PAGE_SIZE < this.total;
  }

  /** Loads the next page and adds its items. */
  async loadMore() {
    const data = await api('GET', '/queue/status', { query: { page: this.pages + 1, per_page: QUEUE_PAGE_SIZE } });
    this.mergeItems(listOf(data, 'items', 'queue'));
    this.applyCounts(data);
    if (typeof data?.total === 'number') this.total = data.total;
    this.pages += 1;
    this.emit();
  }

  /** Loads every item of one series (the series page shows which of its episodes are queued). */
  async loadSeries(key) {
    const data = await api('GET', '/queue/status', { query: { key, per_page: 1000 } });
    this.mergeItems(listOf(data, 'items', 'queue'));
    this.applyCounts(data);
    this.emit();
  }

  mergeItems(list) {
    for (const raw of list) {
      const item = normalizeItem(raw);
      if (item.id !== undefined) this.items.set(String(item.id), item);
    }
  }

  applyCounts(d) {
    if (!d || typeof d !== 'object') return;
    const counts = { ...(this.serverCounts || {}) };
    let any = false;
    for (const name of COUNTED) {
      const v = name === 'paused' ? (d.paused_items ?? (typeof d.paused === 'number' ? d.paused : undefined)) : d[name];
      if (typeof v === 'number') { counts[name] = v; any = true; }
    }
    if (any) this.serverCounts = counts;
  }

  replaceState(data) {
    const items = new Map();
    const add = (raw, status) => {
      const item = normalizeItem(raw, status);
      if (item.id !== undefined) items.set(String(item.id), item);
    };
    const list = listOf(data, 'items', 'queue');
    for (const raw of list) add(raw);
    if (!list.length && data && typeof data === 'object') {
      for (const name of STATUS_ARRAYS) if (Array.isArray(data[name])) for (const raw of data[name]) add(raw, name);
    }
    this.items = items;
    this.applyFlags(data && typeof data === 'object' ? data : {});
    this.applyCounts(data);
    this.total = typeof data?.total === 'number' ? data.total : null;
    this.pages = 1;
    this.loaded = true;
    this.emit();
  }

  applyFlags(d) {
    const status = typeof d.status === 'string' ? d.status.toLowerCase() : null;
    if (typeof d.running === 'boolean') this.running = d.running;
    else if (typeof d.is_running === 'boolean') this.running = d.is_running;
    else if (status) this.running = status === 'running' || status === 'paused';
    if (typeof d.paused === 'boolean') this.paused = d.paused;
    else if (typeof d.is_paused === 'boolean') this.paused = d.is_paused;
    else if (status) this.paused = status === 'paused';
  }

  apply(type, data) {
    if (type === 'reconnected') {
      if (this.loaded) this.load(true).catch(() => {});
      return;
    }
    if (type === 'queue_status') {
      this.applyFlags(data);
      this.applyCounts(data);
      if (Array.isArray(data.items)) this.replaceState(data);
      else this.emit();
      return;
    }
    if (!type.startsWith('download_')) return;
    const incoming = normalizeItem(data, undefined);
    if (incoming.id === undefined) return;
    const id = String(incoming.id);
    const item = this.items.get(id) || { ...incoming, status: 'pending' };
    const merge = (fields) => { for (const [k, v] of Object.entries(fields)) if (v !== undefined) item[k] = v; };
    merge({ key: incoming.key, site: incoming.site, folder: incoming.folder, season: incoming.season, episode: incoming.episode, language: incoming.language });
    if (!item.name || item.name === item.key) item.name = incoming.folder || item.name || incoming.key;
    switch (type) {
      case 'download_queued': item.status = 'pending'; break;
      case 'download_started': item.status = 'downloading'; item.error = undefined; break;
      case 'download_progress':
        item.status = 'downloading';
        merge({ bytes: incoming.bytes, total: incoming.total, percent: incoming.percent, speed: incoming.speed, eta: incoming.eta });
        break;
      case 'download_complete': case 'download_completed':
        item.status = 'completed'; item.percent = 100; item.eta = 0;
        if (data.size !== undefined) { item.total = num(data.size); item.bytes = item.total; }
        if (incoming.path) item.path = incoming.path;
        break;
      case 'download_failed': item.status = 'failed'; item.error = data.error ?? data.message ?? item.error; break;
      case 'download_removed': this.items.delete(id); this.emit(); return;
      default: break;
    }
    this.items.set(id, item);
    this.emit(item);
  }

  /** Forgets everything (after logout). */
  reset() {
    this.items = new Map();
    this.loaded = false;
    this.running = false;
    this.paused = false;
    this.serverCounts = null;
    this.total = null;
    this.pages = 0;
    this.emit();
  }

  list() {
    return [...this.items.values()];
  }

  /** Items per status: the server's complete counts when known, else what is loaded. */
  counts() {
    const c = { pending: 0, downloading: 0, completed: 0, failed: 0, paused: 0 };
    for (const item of this.items.values()) c[item.status] = (c[item.status] || 0) + 1;
    return this.serverCounts ? { ...c, ...this.serverCounts } : c;
  }
}

export const queue = new QueueStore();

/**
 * Adds episodes of one series to the queue; `episodes` is `[{season, episode}]`.
 * Returns `{added, skipped}`: episodes already queued or already on disk are skipped by the server.
 */
export async function enqueue(series, episodes, language) {
  const body = {
    episodes: episodes.map((e) => {
      const one = { key: series.key, season: e.season, episode: e.episode };
      if (series.site) one.site = series.site;
      if (language) one.language = language;
      return one;
    }),
  };
  const result = await api('POST', '/queue/add', { body });
  // Events update the store too; loading once makes sure nothing between them is missed.
  await queue.load(true).catch(() => {});
  return { added: listOf(result, 'added'), skipped: Array.isArray(result?.skipped) ? result.skipped : [] };
}
