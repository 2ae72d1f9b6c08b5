// The live event stream: `/ws/connect?token=`, rooms, `{type, data, timestamp}` messages.
// Reconnects by itself with backoff; listeners get a `reconnected` call so views refresh their state.

import { token } from './api.js';

const ROOMS = ['downloads', 'download_progress', 'scan_progress', 'system'];

class LiveEvents {
  constructor() {
    this.socket = null;
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
    this.everOpened = false;
    this.state = 'closed';
  }

  /** `fn(type, data, message)` for every event; returns an unsubscribe function. */
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** `fn(state)` with 'connecting' | 'open' | 'closed'; returns an unsubscribe function. */
  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  setState(state) {
    this.state = state;
    for (const fn of this.stateListeners) fn(state);
  }

  start() {
    this.wanted = true;
    if (!this.socket) this.connect();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.close();
    }
    this.setState('closed');
  }

  connect() {
    const t = token();
    if (!t || !this.wanted) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/ws/connect?token=${encodeURIComponent(t)}&rooms=${ROOMS.join(',')}`;
    this.setState('connecting');
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setState('open');
      if (reconnected) this.dispatch('reconnected', {}, null);
    });
    socket.addEventListener('message', (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg.type !== 'string') return;
      if (msg.type === 'heartbeat' || msg.type === 'welcome') return;
      this.dispatch(msg.type, msg.data ?? {}, msg);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.setState('closed');
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (!this.wanted) return;
    clearTimeout(this.timer);
    const delay = Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(obj) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(obj));
  }

  dispatch(type, data, msg) {
    for (const fn of [...this.listeners]) {
      try { fn(type, data, msg); } catch (e) { console.error('event listener failed', e); }
    }
  }
}

export const live = new LiveEvents();
