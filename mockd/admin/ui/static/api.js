// The admin REST API: same-origin fetch, JSON (or YAML) bodies, the bearer token kept in
// sessionStorage for this tab, and one token prompt shared by every request that got a 401.

const TOKEN_KEY = 'mockd.adminToken';

/** Where the admin API is: the page is served at <BASE>/ui/, the routes at <BASE>/... */
export const BASE = location.pathname.replace(/\/ui(\/.*)?$/, '').replace(/\/$/, '');

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const b = body && typeof body === 'object' && !Array.isArray(body) ? body : {};
    const text = typeof body === 'string' ? body.trim().slice(0, 300) : '';
    super(b.message || text || fallback || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = b.error || '';
    this.body = b;
    this.errors = Array.isArray(b.errors) ? b.errors : [];
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token, {forgotten = false} = {}) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lives as long as nothing asks for it again
  }
  document.dispatchEvent(new CustomEvent('mockd:token', {detail: {present: Boolean(token), forgotten}}));
}

// Every request made with the current token: aborted all at once when it is forgotten.
let session = new AbortController();

/** Forget the token: requests under way are aborted (their answers are not used), and the
 * event streams (sse.js) close on the `mockd:token` event ({forgotten: true}). */
export function forgetToken() {
  session.abort();
  session = new AbortController();
  setToken('', {forgotten: true});
}

function forgottenError() {
  return new ApiError(401, {error: 'unauthorized', message: 'the admin token was forgotten'});
}

export function authHeaders() {
  const token = getToken();
  return token ? {Authorization: `Bearer ${token}`} : {};
}

// ------------------------------------------------------------------ the token prompt

let askForToken = () => Promise.reject(new Error('no token prompt installed'));
let pending = null;

/** app.js installs the dialog: fn(refused: bool) -> Promise<token>, rejects when cancelled. */
export function setTokenPrompt(fn) {
  askForToken = fn;
}

/** One prompt at a time: requests that get a 401 while it is open wait for the same answer. */
export function needToken(refused) {
  if (!pending) {
    pending = askForToken(refused)
      .then((token) => { setToken(token); return token; })
      .catch(() => {
        throw new ApiError(401, {error: 'unauthorized', message: 'this admin API needs a token (none given)'});
      })
      .finally(() => { pending = null; });
  }
  return pending;
}

// ------------------------------------------------------------------ requests

export function qs(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v == null || v === '') continue;
    params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export async function readBody(res) {
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const text = await res.text();
  if (/\bjson\b/i.test(type)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * request('POST', '/mocks', {json: {...}}) -> parsed body (JSON, or text for other types).
 * Options: json | yaml (a body), query, headers, full (answer {data, res}).
 * Throws ApiError with the server's message (and .errors for validation failures).
 */
export async function request(method, path, {json, yaml, query, headers = {}, full = false} = {}) {
  const url = BASE + path + qs(query);
  for (let attempt = 0; ; attempt += 1) {
    const token = getToken();
    const sent = {Accept: 'application/json', ...headers, ...authHeaders()};
    let body;
    if (json !== undefined) {
      sent['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (yaml !== undefined) {
      sent['Content-Type'] = 'application/yaml';
      body = yaml;
    }
    const mine = session.signal;
    let res;
    let data;
    try {
      res = await fetch(url, {method, headers: sent, body, signal: mine, cache: 'no-store',
        credentials: 'same-origin'});
      data = await readBody(res);
    } catch (err) {
      if (mine.aborted) throw forgottenError();
      throw new ApiError(0, null, `cannot reach the mockd admin API (${err && err.message ? err.message : err})`);
    }
    if (mine.aborted) throw forgottenError(); // an answer to the forgotten token: not used
    if (res.status === 401 && attempt < 5) {
      // Another request may have got a token meanwhile: retry with it before asking.
      if (getToken() === token) await needToken(Boolean(token));
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, data, `${method} ${path}: HTTP ${res.status}`);
    return full ? {data, res} : data;
  }
}

const enc = encodeURIComponent;

// ------------------------------------------------------------------ the routes used

export const api = {
  mocks: () => request('GET', '/mocks'),
  mockYaml: (id) => request('GET', `/mocks/${enc(id)}`, {query: {format: 'yaml'},
    headers: {Accept: 'application/yaml, text/yaml;q=0.9, */*;q=0.1'}, full: true}),
  createMockYaml: (text) => request('POST', '/mocks', {yaml: text}),
  replaceMockYaml: (id, text, etag) => request('PUT', `/mocks/${enc(id)}`, {yaml: text,
    headers: etag ? {'If-Match': etag} : {}}),
  deleteMock: (id) => request('DELETE', `/mocks/${enc(id)}`),
  toggleMock: (id, enabled) => request('POST', `/mocks/${enc(id)}/toggle`, {json: {enabled}}),
  broadcast: (mockId, data) => request('POST', '/websocket/broadcast', {json: {mockId, type: 'text', data}}),
  connections: () => request('GET', '/websocket/connections'),
  connection: (id) => request('GET', `/websocket/connections/${enc(id)}`),
  send: (id, type, data) => request('POST', `/websocket/connections/${enc(id)}/send`, {json: {type, data}}),
  disconnect: (id) => request('DELETE', `/websocket/connections/${enc(id)}`),
  fault: (id, fault) => request('POST', `/websocket/connections/${enc(id)}/faults`, {json: fault}),
  messages: (query) => request('GET', '/websocket/messages', {query}),
  clearMessages: () => request('DELETE', '/websocket/messages'),
  stats: () => request('GET', '/websocket/stats'),
};
