// Building DOM nodes safely: text always goes through text nodes, never through HTML parsing,
// because titles and folder names from the API can contain markup and entities.

/** h('button', {class: 'x', onclick: fn}, 'text', child) → element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2), value);
      } else if (name === 'class') {
        el.className = value;
      } else if (name === 'style') {
        // Through the CSSOM: the Content-Security-Policy refuses inline style attributes.
        el.style.cssText = String(value);
      } else if (name === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (name === 'value' && 'value' in el) {
        el.value = value;
      } else if (name === 'checked' || name === 'disabled' || name === 'selected' || name === 'hidden') {
        el[name] = Boolean(value);
      } else if ((name === 'href' || name === 'src') && !isSafeUrl(value)) {
        continue;
      } else {
        el.setAttribute(name, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Only same-origin paths, fragments, http(s) and data:image URLs may become href/src. */
export function isSafeUrl(value) {
  const s = String(value).trim();
  if (s.startsWith('#') || (s.startsWith('/') && !s.startsWith('//'))) return true;
  if (/^data:image\/(png|jpeg|gif|webp);/i.test(s)) return true;
  try {
    const u = new URL(s, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A live region message: kind is 'error' | 'ok' | 'info'. */
export function notice(kind, ...children) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/**
 * A confirmation that goes away: a notice with a close button that removes itself after `ms`
 * (unless the keyboard focus is inside it). Errors stay until closed or replaced.
 */
export function flash(kind, ...children) {
  const el = notice(kind, ...children);
  el.classList.add('dismissable');
  const close = h('button', { type: 'button', class: 'ghost small dismiss', 'aria-label': 'Dismiss', title: 'Dismiss' }, '×');
  close.addEventListener('click', () => el.remove());
  el.appendChild(close);
  if (kind !== 'error') {
    const ms = kind === 'ok' ? 6000 : 10000;
    const timer = setTimeout(function hide() {
      if (el.contains(document.activeElement)) { setTimeout(hide, 2000); return; }
      el.remove();
    }, ms);
    close.addEventListener('click', () => clearTimeout(timer));
  }
  return el;
}

export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** `[1,2,3,5,7,8]` → `1–3, 5, 7–8`. */
export function formatRanges(numbers) {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < sorted.length; i += 1) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    parts.push(j > i ? `${sorted[i]}–${sorted[j]}` : `${sorted[i]}`);
    i = j;
  }
  return parts.join(', ');
}

export function seasonLabel(season) {
  return Number(season) === 0 ? 'Movies & specials' : `Season ${season}`;
}

/** `S01E01`: two digits, more only when the number needs them (`S01E100`). */
export function episodeCode(season, episode) {
  return `S${String(season).padStart(2, '0')}E${String(episode).padStart(2, '0')}`;
}

/** `1 series`, `2 episodes`. */
export function count(n, one, many) {
  return `${n} ${Number(n) === 1 ? one : many}`;
}
