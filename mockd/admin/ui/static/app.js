// The dashboard's entry point: the token dialog, the page-wide event stream feeding the
// store, a slow poll while that stream is down, and the hash router.

import {api, forgetToken, getToken, needToken, setTokenPrompt} from './api.js';
import {confirmDialog, h, notify} from './dom.js';
import {openEventStream} from './sse.js';
import * as store from './store.js';
import * as mocksPage from './mocks.js';
import * as connectionsPage from './connections.js';
import * as connectionPage from './connection.js';
import * as journalPage from './journal.js';
import * as statsPage from './stats.js';

const POLL_MS = 3000;

// ------------------------------------------------------------------ token dialog

function installTokenDialog() {
  const dialog = document.getElementById('token-dialog');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const refused = document.getElementById('token-error');
  const cancel = document.getElementById('token-cancel');
  const change = document.getElementById('token-change');

  setTokenPrompt((wasRefused) => new Promise((resolve, reject) => {
    refused.hidden = !wasRefused;
    input.value = '';
    const finish = (token) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      if (token) resolve(token);
      else reject(new Error('cancelled'));
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (token) finish(token);
      else input.focus();
    };
    const onCancel = (e) => {
      e.preventDefault();
      finish(null);
    };
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    if (!dialog.open) dialog.showModal();
    input.focus();
  }));

  // "Forget token" while one is kept; "Enter token" after the prompt was cancelled.
  const showChange = () => {
    const kept = Boolean(getToken());
    change.textContent = kept ? 'Forget token' : 'Enter token';
    change.hidden = !kept && store.state.stream.state !== 'unauthorized';
  };
  document.addEventListener('mockd:token', showChange);
  store.on('stream', showChange);
  showChange();
  change.addEventListener('click', () => {
    if (getToken()) forget();
    else needToken(false).then(refreshAll, () => {});
  });
}

/** Stop at once everything the token fed: the streams and requests made with it (api.js and
 * sse.js abort them on forgetToken), the poll, the data shown. Then load again: without a
 * token, the first answer (a 401) asks for one. */
function forget() {
  forgetToken();
  stopPolling();
  store.reset();
  notify('Token forgotten: nothing is shown or updated until one is given', 'ok');
  refreshAll();
}

// ------------------------------------------------------------------ live data

/** The mocks and the connections, now; one notice when they failed for want of a token. */
async function refreshAll() {
  const [mocks, connections] = await Promise.allSettled([mocksPage.loadMocks(), connectionsPage.refreshConnections()]);
  const failed = [['mocks', mocks], ['connections', connections]].filter(([, r]) => r.status === 'rejected');
  const unauthorized = failed.find(([, r]) => r.reason && r.reason.status === 401);
  if (unauthorized) {
    notify(`Could not list the ${failed.map(([what]) => what).join(' or the ')}: ${unauthorized[1].reason.message}`);
  } else {
    for (const [what, r] of failed) notify(`Could not list the ${what}: ${r.reason && r.reason.message}`);
  }
}

const STREAM_TEXT = {connecting: 'connecting…', open: 'live', unauthorized: 'needs a token', closed: 'stopped'};

let pollTimer = null;

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

function startStream() {
  const indicator = document.getElementById('stream-status');

  const poll = async () => {
    try {
      const answer = await api.connections();
      store.setConnections(answer.connections || [], answer.stats);
      const s = answer.stats || {};
      store.addStats({time: Date.now(), activeConnections: s.activeConnections || 0,
        totalMessagesSent: s.totalMessagesSent || 0, totalMessagesRecv: s.totalMessagesRecv || 0});
      const mocks = await api.mocks();
      store.setMocks(mocks.mocks || []);
    } catch {
      // the indicator already says the server is away
    }
  };

  openEventStream(null, {
    // Every journal entry comes in `messages`: parsed only while a page (the journal) uses them.
    wants: (name) => name !== 'messages' || store.wanted('messages'),
    onEvent(name, data) {
      if (name === 'hello') store.hello(data);
      else if (name === 'mocks') store.setMocks(data.mocks);
      else if (name === 'connections') store.setConnections(data.connections, data.stats);
      else if (name === 'messages') store.addMessages(data.messages);
      else if (name === 'stats') store.addStats(data);
    },
    onState(s, info) {
      store.setStream(s, info);
      let text = STREAM_TEXT[s] || s;
      if (s === 'retrying') text = `reconnecting in ${Math.max(1, Math.round(info.delay / 1000))} s`;
      indicator.textContent = text;
      indicator.title = info.message || '';
      indicator.className = `stream stream-${s}`;
      // The API without its stream (it failed, or too many tabs hold one): poll it meanwhile.
      // Not while a token is missing: each poll would ask for it again.
      if (s === 'retrying') {
        if (!pollTimer) pollTimer = setInterval(poll, POLL_MS);
      } else if (s !== 'connecting') {
        stopPolling();
      }
    },
  });
}

// ------------------------------------------------------------------ router

/** '#/connections/conn-1?x=y' -> {segments: ['connections', 'conn-1'], query} */
function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  const segments = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return {segments, query: new URLSearchParams(search)};
}

function resolve({segments, query}) {
  const [first, second, third] = segments;
  if (!first || first === 'mocks') {
    if (second === 'new' && !third) return {page: mocksPage, nav: 'mocks', params: {editor: 'new', query}};
    if (second === 'edit' && third) return {page: mocksPage, nav: 'mocks', params: {editor: 'edit', id: third, query}};
    if (!second) return {page: mocksPage, nav: 'mocks', params: {query}};
  }
  if (first === 'connections') {
    if (!second) return {page: connectionsPage, nav: 'connections', params: {query}, key: query.toString()};
    if (!third) return {page: connectionPage, nav: 'connections', params: {id: second, query}, key: second};
  }
  if (first === 'journal' && !second) return {page: journalPage, nav: 'journal', params: {query}, key: query.toString()};
  if (first === 'stats' && !second) return {page: statsPage, nav: 'stats', params: {query}};
  return null;
}

const TITLES = {mocks: 'Mocks', connections: 'Connections', journal: 'Journal', stats: 'Stats'};
let current = null; // {page, key, view}
let shownHash = ''; // the route render() last showed

function render() {
  shownHash = location.hash;
  const main = document.getElementById('main');
  const found = resolve(parseHash());
  for (const link of document.querySelectorAll('nav.pages a')) {
    if (found && link.dataset.page === found.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (found && current && current.page === found.page && current.key === found.key && current.view.update) {
    current.view.update(found.params);
    return;
  }
  if (current && current.view.unmount) current.view.unmount();
  current = null;
  if (!found) {
    document.title = 'Not found · mockd';
    main.replaceChildren(h('div', {class: 'page-head'}, h('h1', {text: 'No such page'})),
      h('p', {}, 'Try ', h('a', {href: '#/mocks', text: 'the mocks'}), '.'));
    return;
  }
  document.title = `${found.params.id || TITLES[found.nav]} · mockd`;
  const view = found.page.mount(main, found.params) || {};
  current = {page: found.page, key: found.key, view};
}

// ------------------------------------------------------------------ leaving unsaved changes

/** '' or what to ask before `hash` replaces the current view (an editor with changes). */
function leaveWarning(hash) {
  if (!current || !current.view.leaveWarning) return '';
  const found = resolve(parseHash(hash));
  return current.view.leaveWarning(found && found.page === current.page ? found.params : null);
}

async function askToLeave(message, leave) {
  // A second question while one is open is answered no at once (confirmDialog): nothing happens.
  if (!(await confirmDialog(message, {yes: 'Discard'}))) return;
  if (current && current.view.discard) current.view.discard();
  leave();
}

function guardLinks() {
  // A link of the page: asked before the hash changes (the history stays as it was if not).
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const link = e.target instanceof Element ? e.target.closest('a[href^="#"]') : null;
    if (!link || link.target) return;
    const hash = link.getAttribute('href');
    const message = hash === location.hash ? '' : leaveWarning(hash);
    if (!message) return;
    e.preventDefault();
    askToLeave(message, () => { location.hash = hash; });
  });
}

/** Back, Forward or a typed address: the entry changed already. The shown route goes back on
 * top and the question is asked; yes goes back to the entry asked for. True when asked. */
function heldBack() {
  const message = leaveWarning(location.hash);
  if (!message) return false;
  history.pushState(null, '', shownHash);
  askToLeave(message, () => history.back());
  return true;
}

function start() {
  installTokenDialog();
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/mocks');
  guardLinks();
  window.addEventListener('hashchange', () => {
    if (heldBack()) return;
    render();
    document.getElementById('main').focus({preventScroll: true});
    window.scrollTo(0, 0);
  });
  startStream();
  refreshAll();
  render();
}

start();
