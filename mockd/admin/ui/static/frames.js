// Journal entries (frames): how a body is shown (text as is, JSON pretty-printed, binary as
// hex and base64), and FrameFeed, which merges the initial GET /websocket/messages, the
// stream's `messages` events and the catch-up after a reconnect, without duplicates.

import {api} from './api.js';
import {fmtBytes, fmtTime, h} from './dom.js';

const HEX_LIMIT = 4096; // bytes shown as hex; the journal keeps 10 KiB by default

export const DIRECTION_LABEL = {inbound: 'in', outbound: 'out', event: 'event'};
export const DIRECTION_TITLE = {
  inbound: 'inbound: from the client to mockd',
  outbound: 'outbound: from mockd to the client',
  event: 'event: something mockd did to the connection',
};

export function decodeBase64(b64) {
  try {
    const bin = atob(String(b64 || '').replace(/\s+/g, ''));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

export function isBase64(text) {
  const s = String(text).replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return false;
  return decodeBase64(s) !== null;
}

export function hexDump(bytes) {
  const lines = [];
  const n = Math.min(bytes.length, HEX_LIMIT);
  for (let off = 0; off < n; off += 16) {
    const chunk = bytes.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = Array.from(chunk, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes`);
  return lines.join('\n');
}

/** The body as a string when it is JSON (an object or an array), pretty-printed; else null. */
export function prettyJson(text) {
  const t = String(text || '').trim();
  if (!t || (t[0] !== '{' && t[0] !== '[')) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

/** What a search box compares against: the text, or a binary body's base64, hex and text. */
export function searchText(entry) {
  if (entry._search !== undefined) return entry._search;
  let s = String(entry.body || '');
  if (entry.type === 'binary') {
    const bytes = decodeBase64(entry.body);
    if (bytes) {
      s += `\n${Array.from(bytes.subarray(0, HEX_LIMIT), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
      s += `\n${new TextDecoder('utf-8', {fatal: false}).decode(bytes)}`;
    }
  }
  Object.defineProperty(entry, '_search', {value: s.toLowerCase(), enumerable: false});
  return entry._search;
}

/** A one-line preview of the body. */
export function preview(entry, max = 140) {
  let s;
  if (entry.type === 'binary') {
    const bytes = decodeBase64(entry.body);
    s = bytes ? Array.from(bytes.subarray(0, 48), (b) => b.toString(16).padStart(2, '0')).join(' ') : String(entry.body || '');
  } else {
    s = String(entry.body || '').replace(/\s+/g, ' ');
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The full body: <pre> blocks (kind labelled) for text, JSON or binary. */
export function renderBody(entry) {
  const box = h('div', {class: 'body'});
  const truncated = entry.truncated
    ? h('p', {class: 'truncated', text: `truncated: the journal kept the first part of ${fmtBytes(entry.size)}`})
    : null;
  if (entry.type === 'binary') {
    const bytes = decodeBase64(entry.body);
    if (bytes) {
      box.append(h('div', {class: 'body-label', text: `hex (${fmtBytes(bytes.length)})`}),
        h('pre', {class: 'body-hex', testid: 'frame-hex', text: hexDump(bytes)}));
    }
    box.append(h('div', {class: 'body-label', text: 'base64'}),
      h('pre', {class: 'body-b64', testid: 'frame-base64', text: String(entry.body || '')}));
  } else {
    const pretty = entry.direction === 'event' ? null : prettyJson(entry.body);
    if (pretty !== null) {
      box.append(h('div', {class: 'body-label', text: 'JSON'}), h('pre', {class: 'body-json', testid: 'frame-json', text: pretty}));
    } else if (entry.body === '' || entry.body == null) {
      box.append(h('p', {class: 'muted', text: '(empty)'}));
    } else {
      box.append(h('pre', {class: 'body-text', testid: 'frame-text', text: String(entry.body)}));
    }
  }
  if (truncated) box.append(truncated);
  return box;
}

/** The small line of facts above a frame's body. */
export function frameMeta(entry) {
  const dir = entry.direction || 'event';
  return h('div', {class: 'frame-meta'},
    h('span', {class: ['dir', `dir-${dir}`], title: DIRECTION_TITLE[dir] || dir, text: DIRECTION_LABEL[dir] || dir}),
    h('time', {datetime: entry.time, title: entry.time, text: fmtTime(entry.time)}),
    h('span', {class: 'muted', text: `${entry.type || 'text'} · ${fmtBytes(entry.size)}`}),
    entry.matched ? h('span', {class: 'matched', title: 'what answered it', text: entry.matched}) : null,
    h('span', {class: 'muted seq', text: `#${entry.seq}`}));
}

// ------------------------------------------------------------------ filters and the feed

/** Does an entry pass GET /websocket/messages's filters (as the server applies them)? */
export function passes(entry, f) {
  if (f.mockId && entry.mockId !== f.mockId) return false;
  if (f.connectionId && entry.connectionId !== f.connectionId) return false;
  if (f.direction && entry.direction !== f.direction) return false;
  if (f.matched === 'true' || f.matched === 'false') {
    const isMatched = entry.direction === 'inbound' && entry.matched != null && entry.matched !== 'unmatched';
    if (isMatched !== (f.matched === 'true')) return false;
  }
  return true;
}

/**
 * Entries for one set of filters, ordered by seq, each once.
 * onChange({added, reset, dropped, reloaded, live}) after each merge: `added` are the new
 * entries (in seq order), `dropped` how many of the oldest went (past `max`); reset means the
 * whole list changed (reloaded: it was loaded or cleared; else an older entry was inserted,
 * or more came than `max`): redraw this.entries. `live`: they came in a stream batch.
 */
export class FrameFeed {
  constructor(filters, {limit = 500, max = 2000, onChange, onError = () => {}}) {
    this.filters = {...filters};
    this.limit = limit;
    this.max = max;
    this.onChange = onChange;
    this.onError = onError;
    this.entries = [];
    this.seen = new Set();
    this.generation = 0;
  }

  get maxSeq() {
    return this.entries.length ? this.entries[this.entries.length - 1].seq : 0;
  }

  query(extra) {
    const f = this.filters;
    return {mockId: f.mockId, connectionId: f.connectionId, direction: f.direction, matched: f.matched, ...extra};
  }

  /** The newest `limit` entries, merged with what the stream already brought. */
  async load() {
    const generation = this.generation;
    try {
      const answer = await api.messages(this.query({limit: this.limit}));
      if (generation !== this.generation) return;
      this.merge(answer.messages || [], {reset: true});
    } catch (err) {
      if (generation === this.generation) this.onError(err);
    }
  }

  /** After a reconnect: what was recorded while the stream was away. */
  async catchUp() {
    if (!this.entries.length) return this.load();
    const generation = this.generation;
    try {
      const answer = await api.messages(this.query({since: this.maxSeq}));
      if (generation === this.generation) this.merge(answer.messages || []);
    } catch (err) {
      if (generation === this.generation) this.onError(err);
    }
    return undefined;
  }

  /** A (re)opened stream said hello: catch up, or start over when its journal is another one
   * (a restarted server counts from 1 again: its entries would pass for ones already seen). */
  resync(lastSeq) {
    if (typeof lastSeq === 'number' && lastSeq < this.maxSeq) {
      this.clear();
      return this.load();
    }
    return this.catchUp();
  }

  /** Entries from the stream; those that do not pass the filters are left out. */
  push(messages) {
    this.merge(messages.filter((m) => passes(m, this.filters)), {live: true});
  }

  merge(list, {reset = false, live = false} = {}) {
    const reloaded = reset;
    const fresh = list.filter((m) => m && typeof m.seq === 'number' && !this.seen.has(m.seq));
    if (!fresh.length && !reset) return;
    fresh.sort((a, b) => a.seq - b.seq);
    for (const m of fresh) this.seen.add(m.seq);
    const before = this.entries.length;
    if (!reset && fresh[0].seq < this.maxSeq) reset = true;
    this.entries = reset ? this.entries.concat(fresh).sort((a, b) => a.seq - b.seq) : this.entries.concat(fresh);
    let dropped = 0;
    if (this.entries.length > this.max) {
      dropped = this.entries.length - this.max;
      for (const m of this.entries.splice(0, dropped)) this.seen.delete(m.seq);
      if (dropped > before) reset = true; // some of the new ones went too
    }
    this.onChange({added: fresh, reset, dropped: reset ? 0 : dropped, reloaded, live});
  }

  clear() {
    this.generation += 1;
    this.entries = [];
    this.seen = new Set();
    this.onChange({added: [], reset: true, dropped: 0, reloaded: true, live: false});
  }
}
