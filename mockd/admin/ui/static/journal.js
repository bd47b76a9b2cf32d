// #/journal[?mockId=&connectionId=&direction=&matched=]: GET /websocket/messages with its
// filters, newest first, a client-side search over the bodies, and a live tail fed by the
// page's event stream (the `messages` events, filtered here as the server filters).

import {api} from './api.js';
import {confirmDialog, fmtBytes, fmtNumber, fmtTime, h, nextId, notify, route, select, setOptions, setText} from './dom.js';
import {DIRECTION_LABEL, DIRECTION_TITLE, FrameFeed, preview, renderBody, searchText} from './frames.js';
import {BUDGET, JournalRows} from './journalrows.js';
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
  const limit = select(LIMITS.map((n) => [n, `${n} entries`]), {testid: 'journal-limit', value: '200',
    title: 'How many entries the table shows, the live tail included: the oldest drop off as new ones come'});
  const search = h('input', {type: 'search', testid: 'journal-search', placeholder: 'text in the bodies'});
  const live = h('input', {type: 'checkbox', testid: 'journal-live', id: 'journal-live', checked: true});
  const refresh = h('button', {type: 'button', testid: 'journal-refresh', text: 'Refresh'});
  const clear = h('button', {type: 'button', class: 'danger-outline', testid: 'journal-clear', text: 'Clear journal'});
  const count = h('span', {class: 'muted', testid: 'journal-count', role: 'status'});
  const tbody = h('tbody');
  const empty = h('p', {class: 'empty', testid: 'journal-empty', hidden: true});
  const resume = h('button', {type: 'button', class: 'small', testid: 'journal-resume', text: 'Show the newest'});
  const pausedText = h('span');
  const paused = h('p', {class: 'banner banner-info', testid: 'journal-paused', hidden: true}, pausedText, resume);
  const table = h('table', {class: 'data cards journal', testid: 'journal-table'},
    h('caption', {class: 'visually-hidden', text: 'Journal entries, newest first'}),
    h('thead', {}, h('tr', {}, ['Seq', 'Time', 'Dir', 'Connection', 'Mock', 'Type', 'Size', 'Matched', 'Body']
      .map((t) => h('th', {scope: 'col', text: t})))),
    tbody);

  root.replaceChildren(
    h('div', {class: 'page-head'}, h('h1', {text: 'Journal'}), count),
    h('form', {class: 'filters', 'aria-label': 'Journal filters', on: {submit: (e) => e.preventDefault()}},
      labelled('Mock', mock), labelled('Connection', connection), connections, labelled('Direction', direction),
      labelled('Matched', matched), labelled('Show the newest', limit), labelled('Search', search),
      h('div', {class: 'field check-field'}, h('label', {class: 'check', for: 'journal-live'}, live, ' Live tail')),
      h('div', {class: 'field buttons'}, refresh, clear)),
    paused,
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
  let cleared = false; // emptied when the token was forgotten: loaded again once the stream is back

  const rows = new JournalRows(tbody, {
    makeRow: journalRow,
    matcher() {
      const needle = search.value.trim().toLowerCase();
      return needle ? (entry) => searchText(entry).includes(needle) : null;
    },
    onRender: renderCount,
  });

  function renderCount() {
    const total = rows.total;
    const full = feed && total >= feed.max ? ` (the newest ${fmtNumber(feed.max)}: the limit)` : '';
    setText(count, search.value.trim()
      ? `${fmtNumber(rows.matching)} of ${fmtNumber(total)} entries match${full}`
      : `${fmtNumber(total)} entries${full}`);
    empty.hidden = rows.matching > 0;
    setText(empty, total ? 'No entry matches the search.' : 'No journal entries for these filters.');
    paused.hidden = !rows.paused;
    setText(pausedText, `Live tail paused: ${fmtNumber(rows.pending)} newer entries not shown (more than ` +
      `${BUDGET} came at once). It goes on when they slow down.`);
  }

  function reload() {
    // The limit caps the rows shown, the live tail included: the oldest drop off the bottom.
    feed = new FrameFeed(filters(), {limit: Number(limit.value), max: Number(limit.value),
      onChange: (change) => rows.change(change),
      onError: (err) => notify(`Could not read the journal: ${err.message}`)});
    cleared = false;
    rows.show(feed);
    empty.hidden = true;
    paused.hidden = true;
    setText(count, 'loading…');
    feed.load();
  }

  for (const control of [mock, direction, matched, limit]) {
    control.addEventListener('change', () => { syncHash(); reload(); });
  }
  connection.addEventListener('change', () => { syncHash(); reload(); });
  search.addEventListener('input', () => rows.research());
  resume.addEventListener('click', () => rows.resume());
  refresh.addEventListener('click', reload);
  live.addEventListener('change', () => {
    if (live.checked && feed) feed.catchUp();
    else rows.resume(); // stopped: the newest entries kept, to read
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
    on('hello', (hello) => {
      if (cleared) reload();
      else if (live.checked && feed) feed.resync(hello.lastSeq);
    }),
    on('reset', () => {
      // The token was forgotten: nothing of what it showed stays; loaded again with the next token.
      feed.clear();
      cleared = true;
    }),
    on('mocks', renderOptions),
    on('connections', renderOptions),
  ];
  renderOptions();
  reload();

  return {
    unmount() {
      offs.forEach((off) => off());
      rows.destroy();
    },
  };
}
