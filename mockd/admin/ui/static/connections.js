// #/connections[?mockId=ID]: the live connections, as the `connections` events report them.

import {api} from './api.js';
import {fmtAge, fmtDateTime, fmtNumber, h, route, select, setOptions, setText, syncRows} from './dom.js';
import {mockIds, on, setConnections, state} from './store.js';

export async function refreshConnections() {
  const answer = await api.connections();
  setConnections(answer.connections || [], answer.stats);
}

function cell(label, ...children) {
  return h('td', {dataset: {label}}, ...children);
}

export function mount(root, params) {
  let filter = params.query.get('mockId') || '';
  const filterSelect = select([['', 'All mocks']], {testid: 'connection-filter', id: 'connection-filter'});
  const summary = h('p', {class: 'summary', testid: 'connections-summary', role: 'status'});
  const tbody = h('tbody');
  const empty = h('p', {class: 'empty', testid: 'connections-empty', hidden: true});
  const table = h('table', {class: 'data cards', testid: 'connections-table'},
    h('caption', {class: 'visually-hidden', text: 'Live connections'}),
    h('thead', {}, h('tr', {},
      ['Connection', 'Mock', 'Path', 'Subprotocol', 'Connected', 'Sent', 'Received', 'Status', 'Client']
        .map((t) => h('th', {scope: 'col', text: t})))),
    tbody);
  root.replaceChildren(
    h('div', {class: 'page-head'}, h('h1', {text: 'Connections'}), summary),
    h('div', {class: 'toolbar'},
      h('div', {class: 'field inline'}, h('label', {for: 'connection-filter', text: 'Mock'}), filterSelect)),
    h('div', {class: 'table-wrap'}, table),
    empty);

  const rows = new Map();

  function makeRow(c) {
    const r = {id: c.id};
    r.mock = h('a');
    r.path = h('code');
    r.sub = h('span');
    r.connected = h('span');
    r.age = h('span', {class: 'muted'});
    r.sent = h('span', {class: 'num'});
    r.recv = h('span', {class: 'num'});
    r.status = h('span', {class: 'tag'});
    r.remote = h('span', {class: 'muted'});
    r.tr = h('tr', {testid: 'connection-row', dataset: {connectionId: c.id}},
      h('th', {scope: 'row', dataset: {label: 'Connection'}},
        h('a', {class: 'id', href: route('connections', c.id), testid: 'connection-link', text: c.id})),
      cell('Mock', r.mock), cell('Path', r.path), cell('Subprotocol', r.sub),
      cell('Connected', r.connected, ' ', r.age), cell('Sent', r.sent), cell('Received', r.recv),
      cell('Status', r.status), cell('Client', r.remote));
    return r;
  }

  function fill(r, c, now) {
    setText(r.mock, c.mockId || '');
    r.mock.href = `#/connections?mockId=${encodeURIComponent(c.mockId || '')}`;
    setText(r.path, c.path || '');
    setText(r.sub, c.subprotocol || '—');
    setText(r.connected, fmtDateTime(c.connectedAt));
    setText(r.age, `(${fmtAge(c.connectedAt, now)})`);
    setText(r.sent, fmtNumber(c.messagesSent));
    setText(r.recv, fmtNumber(c.messagesRecv));
    setText(r.status, c.status || '');
    setText(r.remote, [c.remoteAddr, c.node ? `node ${c.node}` : ''].filter(Boolean).join(' · '));
  }

  function renderFilter() {
    const ids = mockIds();
    if (filter && !ids.includes(filter)) ids.push(filter);
    setOptions(filterSelect, [['', 'All mocks'], ...ids.map((id) => [id, id])], filter);
  }

  function render() {
    renderFilter();
    const now = Date.now();
    const shown = state.connections.filter((c) => !filter || c.mockId === filter);
    syncRows(tbody, rows, shown, (c) => c.id, makeRow, (r, c) => fill(r, c, now));
    const s = state.stats;
    const byMock = filter ? ` · ${fmtNumber((s.connectionsByMock || {})[filter] || 0)} of mock ${filter}` : '';
    setText(summary, state.connectionsLoaded
      ? `${fmtNumber(s.activeConnections)} active${byMock} · ${fmtNumber(s.totalConnections)} since start · ` +
        `${fmtNumber(s.totalMessagesRecv)} received · ${fmtNumber(s.totalMessagesSent)} sent`
      : 'loading…');
    empty.hidden = !state.connectionsLoaded || shown.length > 0;
    setText(empty, filter ? `No live connection of mock ${filter}.` : 'No live connections.');
  }

  filterSelect.addEventListener('change', () => {
    filter = filterSelect.value;
    const hash = filter ? `#/connections?mockId=${encodeURIComponent(filter)}` : '#/connections';
    history.replaceState(null, '', hash);
    render();
  });

  const offs = [on('connections', render), on('mocks', renderFilter)];
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const c of state.connections) {
      const r = rows.get(c.id);
      if (r) setText(r.age, `(${fmtAge(c.connectedAt, now)})`);
    }
  }, 1000);
  render();
  if (!state.connectionsLoaded) refreshConnections().catch(() => {});

  return {
    unmount() {
      offs.forEach((off) => off());
      clearInterval(ticker);
    },
  };
}
