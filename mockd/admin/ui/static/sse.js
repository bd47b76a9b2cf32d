// GET /events read with fetch() (EventSource cannot send the Authorization header), parsed as
// text/event-stream here, and reopened with back-off whenever it ends.

import {ApiError, BASE, authHeaders, getToken, needToken, qs, readBody} from './api.js';

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;
/** No byte for this long (stats come every second) means a dead link: reconnect. */
const STALL_MS = 20000;

/**
 * Feed an event-stream body to onEvent(name, rawData) per dispatched event; comment lines
 * (": keepalive") and ids are ignored. Resolves when the body ends.
 */
export async function parseEventStream(body, onEvent, onBytes = () => {}) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let name = '';
  let data = [];
  const line = (text) => {
    if (text === '') {
      if (data.length) onEvent(name || 'message', data.join('\n'));
      name = '';
      data = [];
      return;
    }
    if (text[0] === ':') return;
    const colon = text.indexOf(':');
    const fieldName = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (fieldName === 'event') name = value;
    else if (fieldName === 'data') data.push(value);
  };
  const eol = /\r\n|\r|\n/g;
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      onBytes();
      buffer += decoder.decode(value, {stream: true});
      let start = 0;
      eol.lastIndex = 0;
      let m;
      while ((m = eol.exec(buffer)) !== null) {
        // A CR at the very end may be the first half of a CRLF still on its way.
        if (m[0] === '\r' && m.index === buffer.length - 1) break;
        line(buffer.slice(start, m.index));
        start = m.index + m[0].length;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Open /events?<query> and keep it open. Options:
 *   onEvent(name, data)  data already JSON-parsed; only for names `wants(name)` accepts
 *   onState(state, info) 'connecting' | 'open' | 'retrying' (info.delay, info.message) |
 *                        'unauthorized' (no token given) | 'closed'
 * Returns {close()}.
 */
export function openEventStream(query, {onEvent, onState = () => {}, wants = () => true}) {
  const url = `${BASE}/events${qs(query)}`;
  let stopped = false;
  let controller = null; // the request under way; its .watchdog, .dropped (aborted on purpose)
  let timer = null;
  let delay = MIN_DELAY;

  /** Abort the request under way (its run ends quietly: no retry). */
  function drop() {
    clearTimeout(timer);
    timer = null;
    if (!controller) return;
    controller.dropped = true;
    clearInterval(controller.watchdog);
    controller.abort();
    controller = null;
  }

  const onToken = (e) => {
    if (stopped) return;
    if (e.detail && e.detail.forgotten) {
      // The stream was opened with the forgotten token: it goes now, and the next asks for one.
      drop();
    } else if (controller) {
      return;
    }
    clearTimeout(timer);
    delay = MIN_DELAY;
    run();
  };
  document.addEventListener('mockd:token', onToken);

  function dispatch(name, raw) {
    if (!wants(name)) return;
    let parsed;
    try {
      parsed = JSON.parse(raw);
    } catch {
      console.warn(`mockd: /events sent a ${name} event that is not JSON`, raw.slice(0, 200));
      return;
    }
    if (name === 'hello') delay = MIN_DELAY;
    try {
      onEvent(name, parsed);
    } catch (err) {
      console.error(`mockd: handling the ${name} event failed`, err);
    }
  }

  function retry(message) {
    if (stopped) return;
    onState('retrying', {delay, message});
    timer = setTimeout(run, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  }

  async function run() {
    if (stopped) return;
    timer = null;
    controller = new AbortController();
    const mine = controller;
    onState('connecting', {});
    let failure = 'the event stream ended';
    try {
      const token = getToken();
      const res = await fetch(url, {headers: {Accept: 'text/event-stream', ...authHeaders()},
        signal: mine.signal, cache: 'no-store', credentials: 'same-origin'});
      if (res.status === 401) {
        await res.text().catch(() => '');
        if (mine.dropped) return;
        controller = null;
        if (getToken() === token) {
          try {
            await needToken(Boolean(token));
          } catch {
            // Cancelled: wait for a token (the mockd:token event) rather than asking again.
            if (!stopped) onState('unauthorized', {message: 'this admin API needs a token'});
            return;
          }
        }
        if (!stopped && !controller && !timer) run();
        return;
      }
      if (!res.ok || !res.body) {
        throw new ApiError(res.status, await readBody(res), `GET /events: HTTP ${res.status}`);
      }
      onState('open', {});
      let lastByte = Date.now();
      mine.watchdog = setInterval(() => {
        if (Date.now() - lastByte > STALL_MS) mine.abort();
      }, 5000);
      await parseEventStream(res.body, dispatch, () => { lastByte = Date.now(); });
    } catch (err) {
      if (stopped || mine.dropped) return;
      if (err && err.name === 'AbortError') failure = 'no data for a while: reconnecting';
      else failure = err && err.message ? err.message : String(err);
    } finally {
      clearInterval(mine.watchdog);
      if (controller === mine) controller = null;
    }
    if (mine.dropped) return;
    retry(failure);
  }

  run();
  return {
    close() {
      stopped = true;
      drop();
      document.removeEventListener('mockd:token', onToken);
      onState('closed', {});
    },
  };
}
