// #/journal[?mockId=&connectionId=&direction=&matched=]: GET /websocket/messages with its
// filters, newest first, a client-side search over the bodies, and a live tail fed by the
// page's event stream (the `messages` events, filtered here as the server filters).

import {api} from './api.js';
import {confirmDialog, fmtBytes, fmtNumber, fmtTime, h, nextId, notify, route, select, setOptions, setText} from './dom.js';
import {DIRECTION_LABEL, DIRECTION_TITLE, FrameFeed, preview, renderBody, searchText} from './frames.js';
import {mockIds, on, state} from './store.js';

const LIMITS = ['50', '200', '500', '1000'];

function shortId(id) {
  const s = String(id || '');
  return s.length > 22 ? `…${s.slice(-19)}` : s;
}

function labelled(text, control) {
  if (!control.id) control.id = nextId('j');
  return h('div', {class: 'field'}, h('label', {for: control.id, text}), control);
}

function journalRow(entry) {
  const dir = entry.direction || 'event';
  const body = h('details', {class: 'entry-body'},
    h('summary', {class: 'preview', text: preview(entry) || '(empty)'}));
  body.addEventListener('toggle', () => {
    if (body.open && body.childElementCount === 1) body.append(renderBody(entry));
  }, {once: false});
  const tr = h('tr', {testid: 'journal-row', class: `row-${dir}`, dataset: {seq: entry.seq, direction: dir}},
    h('td', {dataset: {label: 'Seq'}, class: 'num muted', text: entry.seq}),
    h('td', {dataset: {label: 'Time'}}, h('time', {datetime: entry.time, title: entry.time, text: fmtTime(entry.time)})),
    h('td', {dataset: {label: 'Dir'}}, h('span', {class: ['dir', `dir-${dir}`], title: DIRECTION_TITLE[dir] || dir,
      text: DIRECTION_LABEL[dir] || dir})),
    h('td', {dataset: {label: 'Connection'}}, entry.connectionId
      ? h('a', {class: 'id', href: route('connections', entry.connectionId), title: entry.connectionId,
        'aria-label': `connection ${entry.connectionId}`, text: shortId(entry.connectionId)})
      : h('span', {class: 'muted', text: '—'})),
    h('td', {dataset: {label: 'Mock'}, text: entry.mockId || ''}),
    h('td', {dataset: {label: 'Type'}, text: entry.type || ''}),
    h('td', {dataset: {label: 'Size'}, class: 'num', text: fmtBytes(entry.size)}),
    h('td', {dataset: {label: 'Matched'}, text: entry.matched || ''}),
    h('td', {dataset: {label: 'Body'}, class: 'body-cell'}, body));
  tr.entry = entry;
  return tr;
}

export function mount(root, params) {
  const q = params.query;
  const mock = select([['', 'All mocks']], {testid: 'journal-mock'});
  const connection = h('input', {type: 'text', testid: 'journal-connection', list: 'journal-connections',
    placeholder: 'any', value: q.get('connectionId') || '', spellcheck: 'false'});
  const connections = h('datalist', {id: 'journal-connections'});
  const direction = select([['', 'Any'], ['inbound', 'Inbound'], ['outbound', 'Outbound'], ['event', 'Event']],
    {testid: 'journal-direction', value: q.get('direction') || ''});
  const matched = select([['', 'Any'], ['true', 'Matched'], ['false', 'Not matched']],
    {testid: 'journal-matched', value: q.get('matched') || ''});
  const limit = select(LIMITS.map((n) => [n, n]), {testid: 'journal-limit', value: '200'});
  const search = h('input', {type: 'search', testid: 'journal-search', placeholder: 'text in the bodies'});
  const live = h('input', {type: 'checkbox', testid: 'journal-live', id: 'journal-live', checked: true});
  const refresh = h('button', {type: 'button', testid: 'journal-refresh', text: 'Refresh'});
  const clear = h('button', {type: 'button', class: 'danger-outline', testid: 'journal-clear', text: 'Clear journal'});
  const count = h('span', {class: 'muted', testid: 'journal-count', role: 'status'});
  const tbody = h('tbody');
  const empty = h('p', {class: 'empty', testid: 'journal-empty', hidden: true});
  const table = h('table', {class: 'data cards journal', testid: 'journal-table'},
    h('caption', {class: 'visually-hidden', text: 'Journal entries, newest first'}),
    h('thead', {}, h('tr', {}, ['Seq', 'Time', 'Dir', 'Connection', 'Mock', 'Type', 'Size', 'Matched', 'Body']
      .map((t) => h('th', {scope: 'col', text: t})))),
    tbody);

  root.replaceChildren(
    h('div', {class: 'page-head'}, h('h1', {text: 'Journal'}), count),
    h('form', {class: 'filters', 'aria-label': 'Journal filters', on: {submit: (e) => e.preventDefault()}},
      labelled('Mock', mock), labelled('Connection', connection), connections, labelled('Direction', direction),
      labelled('Matched', matched), labelled('Limit', limit), labelled('Search', search),
      h('div', {class: 'field check-field'}, h('label', {class: 'check', for: 'journal-live'}, live, ' Live tail')),
      h('div', {class: 'field buttons'}, refresh, clear)),
    h('div', {class: 'table-wrap'}, table),
    empty);

  function filters() {
    return {mockId: mock.value, connectionId: connection.value.trim(), direction: direction.value, matched: matched.value};
  }

  function syncHash() {
    const f = filters();
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    const s = p.toString();
    history.replaceState(null, '', `#/journal${s ? `?${s}` : ''}`);
  }

  function renderOptions() {
    const ids = mockIds();
    const wanted = mock.value || q.get('mockId') || '';
    if (wanted && !ids.includes(wanted)) ids.push(wanted);
    setOptions(mock, [['', 'All mocks'], ...ids.map((id) => [id, id])], wanted);
    const have = [...connections.children].map((o) => o.value).join('\n');
    const now = state.connections.map((c) => c.id);
    if (have !== now.join('\n')) connections.replaceChildren(...now.map((id) => h('option', {value: id})));
  }

  // ---------------------------------------------------------------- rows

  let feed = null;

  function applySearch() {
    const needle = search.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of tbody.children) {
      const hit = !needle || searchText(tr.entry).includes(needle);
      tr.hidden = !hit;
      if (hit) shown += 1;
    }
    const total = tbody.children.length;
    setText(count, needle ? `${fmtNumber(shown)} of ${fmtNumber(total)} entries match` : `${fmtNumber(total)} entries`);
    empty.hidden = shown > 0;
    setText(empty, total ? 'No entry matches the search.' : 'No journal entries for these filters.');
  }

  function onChange({added, reset, dropped}) {
    if (reset) {
      tbody.replaceChildren(...feed.entries.slice().reverse().map(journalRow));
    } else {
      for (let i = 0; i < dropped && tbody.lastElementChild; i += 1) tbody.lastElementChild.remove();
      for (const entry of added) tbody.prepend(journalRow(entry));
    }
    applySearch();
  }

  function reload() {
    const n = Number(limit.value);
    feed = new FrameFeed(filters(), {limit: n, max: Math.max(n, 2000), onChange,
      onError: (err) => notify(`Could not read the journal: ${err.message}`)});
    tbody.replaceChildren();
    setText(count, 'loading…');
    feed.load();
  }

  for (const control of [mock, direction, matched, limit]) {
    control.addEventListener('change', () => { syncHash(); reload(); });
  }
  connection.addEventListener('change', () => { syncHash(); reload(); });
  search.addEventListener('input', applySearch);
  refresh.addEventListener('click', reload);
  live.addEventListener('change', () => {
    if (live.checked && feed) feed.catchUp();
  });
  clear.addEventListener('click', async () => {
    if (!(await confirmDialog('Clear the whole message journal (every connection, every mock)?', {yes: 'Clear'}))) return;
    try {
      await api.clearMessages();
      reload();
    } catch (err) {
      notify(`Could not clear the journal: ${err.message}`);
    }
  });

  const offs = [
    on('messages', (messages) => { if (live.checked && feed) feed.push(messages); }),
    on('hello', (hello) => { if (live.checked && feed) feed.resync(hello.lastSeq); }),
    on('mocks', renderOptions),
    on('connections', renderOptions),
  ];
  renderOptions();
  reload();

  return {
    unmount() {
      offs.forEach((off) => off());
    },
  };
}
