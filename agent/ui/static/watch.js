// watch.js: keeps an in-memory copy of one kind of object current the way
// kubectl's informers do: list it (remembering the list's resourceVersion),
// then watch from that version, applying each ADDED/MODIFIED/DELETED line.
// A dropped stream or a 410 "too old resource version" starts over with a
// fresh list after a back-off (1 s doubling to 30 s), never a poll.

import { request, ApiError } from './api.js';

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;

function keyOf(obj) {
  const md = obj.metadata || {};
  return `${md.namespace || ''}/${md.name || ''}`;
}

export class Watch {
  // path: the list path (/api/v1/pods). onChange(watch): the map changed.
  // onState(watch): up/down changed (watch.up, watch.retryIn in ms).
  constructor(path, onChange, onState) {
    this.path = path;
    this.items = new Map(); // "namespace/name" -> object
    this.onChange = onChange;
    this.onState = onState;
    this.up = false;
    this.retryIn = 0;
    this.delay = MIN_DELAY;
    this.rv = '';
    this.abort = null;
    this.timer = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.abort) this.abort.abort();
    this.items.clear();
  }

  setUp(up, retryIn) {
    this.up = up;
    this.retryIn = retryIn;
    this.onState(this);
  }

  async run() {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    let why = 'the watch ended';
    try {
      const list = await request(this.path, { signal });
      this.items = new Map((list.items || []).map((o) => [keyOf(o), o]));
      this.rv = (list.metadata && list.metadata.resourceVersion) || '';
      this.onChange(this);
      const q = `?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(this.rv)}`;
      const res = await request(this.path + q, { signal, raw: true });
      this.delay = MIN_DELAY; // it answered: the next drop starts the back-off over
      this.setUp(true, 0);
      why = await this.read(res.body.getReader());
    } catch (e) {
      if (this.stopped || e.name === 'AbortError') return;
      if (e instanceof ApiError && e.status === 401) return; // the login takes over
      why = e.message;
    }
    if (this.stopped) return;
    this.retry(why);
  }

  retry(why) {
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
    this.why = why;
    this.setUp(false, wait);
    this.timer = setTimeout(() => this.run(), wait);
  }

  // Reads the stream to its end; returns why it ended.
  async read(reader) {
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'stratad closed the watch';
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue; // a keep-alive
        const ended = this.apply(JSON.parse(line));
        if (ended) {
          reader.cancel().catch(() => {});
          return ended;
        }
      }
    }
  }

  // Applies one watch event; returns a reason when the watch must start over.
  apply(ev) {
    const obj = ev.object || {};
    const rv = obj.metadata && obj.metadata.resourceVersion;
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.items.set(keyOf(obj), obj);
        break;
      case 'DELETED':
        this.items.delete(keyOf(obj));
        break;
      case 'BOOKMARK':
        if (rv) this.rv = rv;
        return null;
      case 'ERROR':
        // 410 Expired: the changes since our version are gone; list again.
        return obj.message || `watch error ${obj.code || ''}`;
      default:
        return null;
    }
    if (rv) this.rv = rv;
    this.onChange(this, ev.type, obj);
    return null;
  }
}
