// A note that says when the queue does not run (stopped or paused), with the button that makes it
// run; empty while it runs. Kept current by the queue store (WebSocket events).

import { api } from '../api.js';
import { h, replace, notice, count } from '../dom.js';
import { queue } from '../queue-store.js';

/** `{element, cleanup}`. */
export function queueStateNote() {
  const element = h('div', { class: 'queue-note', id: 'queue-note', 'aria-live': 'polite' });

  async function act(path) {
    try {
      const data = await api('POST', path);
      if (data && typeof data === 'object' && 'running' in data) queue.replaceState(data);
      else await queue.load(true);
    } catch (e) {
      replace(element, notice('error', e.message));
    }
  }

  function draw() {
    if (!queue.loaded || (queue.running && !queue.paused)) { replace(element); return; }
    const c = queue.counts();
    const waiting = (c.pending || 0) + (c.downloading || 0);
    const waits = waiting ? ` ${count(waiting, 'episode waits', 'episodes wait')}.` : ' Queued episodes wait until it runs.';
    if (queue.paused) {
      replace(element, notice('info', h('strong', { class: 'queue-note-state' }, 'The download queue is paused.'), waits, ' ',
        h('button', { type: 'button', class: 'small', id: 'queue-note-resume', onclick: () => act('/queue/resume') }, 'Resume')));
    } else {
      replace(element, notice('info', h('strong', { class: 'queue-note-state' }, 'The download queue is stopped.'), waits, ' ',
        h('button', { type: 'button', class: 'small', id: 'queue-note-start', onclick: () => act('/queue/start') }, 'Start')));
    }
  }

  const off = queue.subscribe(() => draw());
  draw();
  return { element, cleanup: off };
}
