// The REST client: Bearer token, the one JSON error body `{error, message, details}`, 401 handling.

const TOKEN_KEY = 'aniworld.token';

export function token() {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function setToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives only as long as the page */ }
}

/** An API failure: `code` is the body's `error`, `message` the human text, `details` whatever the server added. */
export class ApiError extends Error {
  constructor(status, code, message, details, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** True when a provider site could not be reached or refused us (blocked, down, timed out). */
  get siteUnavailable() {
    const code = String(this.code || '').toLowerCase();
    return [502, 503, 504].includes(this.status) || /block|unavailable|unreachable|upstream|timeout|provider|site|proxy/.test(code);
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** `api('GET', '/anime', {query})`, `api('POST', '/auth/login', {body})`. Paths are below `/api`. */
export async function api(method, path, { body, query, auth = true } = {}) {
  let url = `/api${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const t = token();
  if (auth && t) headers.Authorization = `Bearer ${t}`;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached. Is it running?', String(e));
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) {
    const err = data && typeof data === 'object' ? data : {};
    const message = err.message || (typeof data === 'string' && data) || `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, err.error || `http_${response.status}`, message, err.details,
      response.headers.get('Retry-After'));
    if (response.status === 401 && auth) onUnauthorized(error);
    throw error;
  }
  return data;
}

/** Lists come either bare or wrapped (`{items: [...]}`, `{results: [...]}`, ...): always give the array. */
export function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    for (const k of [...keys, 'items', 'results', 'data', 'series', 'anime', 'plugins', 'backups']) {
      if (Array.isArray(data[k])) return data[k];
    }
  }
  return [];
}
