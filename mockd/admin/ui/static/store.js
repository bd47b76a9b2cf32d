// What every page shares: the mocks, the live connections and their stats, the last five
// minutes of `stats` samples, the state of the event stream. Pages subscribe with on().

export const HISTORY_MS = 5 * 60 * 1000;
/** Two samples further apart than this are not joined by a line in the charts. */
export const GAP_MS = 5000;

function initial() {
  return {
    mocks: [],
    mocksLoaded: false,
    connections: [],
    connectionsLoaded: false,
    stats: {totalConnections: 0, activeConnections: 0, totalMessagesSent: 0, totalMessagesRecv: 0, connectionsByMock: {}},
    /** [{t, active, inRate, outRate, gap}] oldest first; rates in messages per second, or null. */
    history: [],
    lastSample: null,
    /** The stream was (re)opened since the last sample: the next one starts a new line. */
    resumed: false,
    node: '',
    lastSeq: 0,
  };
}

export const state = {...initial(), stream: {state: 'connecting', message: '', delay: 0}};

const bus = new EventTarget();
const listening = new Map(); // type -> number of subscribers

/** on('mocks' | 'connections' | 'stats' | 'messages' | 'hello' | 'stream' | 'reset', fn) -> unsubscribe */
export function on(type, fn) {
  const listener = (e) => fn(e.detail);
  bus.addEventListener(type, listener);
  listening.set(type, (listening.get(type) || 0) + 1);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    bus.removeEventListener(type, listener);
    listening.set(type, listening.get(type) - 1);
  };
}

/** Does a page want this type now? (The stream leaves `messages` unparsed when none does.) */
export function wanted(type) {
  return (listening.get(type) || 0) > 0;
}

function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, {detail}));
}

export function setMocks(mocks) {
  if (!Array.isArray(mocks)) return;
  state.mocks = mocks;
  state.mocksLoaded = true;
  emit('mocks', mocks);
}

/** Apply one changed mock (an action's answer) before the stream reports it. */
export function upsertMock(mock) {
  if (!mock || mock.id == null) return;
  const i = state.mocks.findIndex((m) => m.id === mock.id);
  const next = state.mocks.slice();
  if (i < 0) next.push(mock);
  else next[i] = mock;
  setMocks(next);
}

export function removeMock(id) {
  setMocks(state.mocks.filter((m) => m.id !== id));
}

export function setConnections(connections, stats) {
  if (Array.isArray(connections)) {
    state.connections = connections;
    state.connectionsLoaded = true;
  }
  if (stats && typeof stats === 'object') {
    state.stats = {...state.stats, ...stats, connectionsByMock: stats.connectionsByMock || {}};
  }
  emit('connections', {connections: state.connections, stats: state.stats});
}

/** A `stats` event ({time, activeConnections, totalMessagesSent, totalMessagesRecv}). */
export function addStats(sample) {
  if (!sample || typeof sample.time !== 'number') return;
  const prev = state.lastSample;
  if (prev && sample.time <= prev.time) return;
  let inRate = null;
  let outRate = null;
  // No line across missing samples: the stream was away (reopened since), or they are far apart.
  let gap = !prev || state.resumed;
  if (prev) {
    const dt = (sample.time - prev.time) / 1000;
    const dIn = sample.totalMessagesRecv - prev.totalMessagesRecv;
    const dOut = sample.totalMessagesSent - prev.totalMessagesSent;
    // A counter that went down is another server (a restart): no rate, and no line, across it.
    if (dt > 0 && dIn >= 0 && dOut >= 0) {
      inRate = dIn / dt;
      outRate = dOut / dt;
    } else {
      gap = true;
    }
    if (sample.time - prev.time > GAP_MS) gap = true;
  }
  state.resumed = false;
  state.lastSample = sample;
  state.stats = {...state.stats, activeConnections: sample.activeConnections,
    totalMessagesSent: sample.totalMessagesSent, totalMessagesRecv: sample.totalMessagesRecv};
  state.history.push({t: sample.time, active: sample.activeConnections, inRate, outRate, gap});
  const oldest = sample.time - HISTORY_MS;
  while (state.history.length && state.history[0].t < oldest) state.history.shift();
  emit('stats', state.history[state.history.length - 1]);
}

export function addMessages(messages) {
  if (!Array.isArray(messages) || !messages.length) return;
  for (const m of messages) if (typeof m.seq === 'number' && m.seq > state.lastSeq) state.lastSeq = m.seq;
  emit('messages', messages);
}

export function hello(data) {
  state.node = data && data.node ? String(data.node) : '';
  if (data && typeof data.lastSeq === 'number') {
    // A journal behind ours is a restarted server's: its counters start over too.
    if (data.lastSeq < state.lastSeq) state.lastSample = null;
    state.lastSeq = data.lastSeq;
  }
  if (state.lastSample) state.resumed = true;
  emit('hello', data || {});
}

/** Forget everything shown (the token was forgotten): the pages empty, until a new token. */
export function reset() {
  Object.assign(state, initial());
  emit('reset', null);
  emit('mocks', state.mocks);
  emit('connections', {connections: state.connections, stats: state.stats});
  emit('stats', null);
}

export function setStream(streamState, info = {}) {
  state.stream = {state: streamState, message: info.message || '', delay: info.delay || 0};
  emit('stream', state.stream);
}

// ------------------------------------------------------------------ derived values

export function protocolOf(mock) {
  const p = mock && mock.websocket && mock.websocket.protocol;
  return p ? String(p) : 'websocket';
}

export function pathOf(mock) {
  return (mock && mock.websocket && mock.websocket.path) || '';
}

export function liveCount(mockId) {
  const byMock = state.stats.connectionsByMock || {};
  return Number(byMock[mockId] || 0);
}

/** Mock ids to offer in filters: the known mocks and any a connection still names. */
export function mockIds() {
  const ids = new Set(state.mocks.map((m) => String(m.id)));
  for (const c of state.connections) if (c.mockId) ids.add(String(c.mockId));
  return [...ids].sort((a, b) => a.localeCompare(b));
}
