// #/mocks: the mock table (toggle, edit, delete, broadcast per row) and, at #/mocks/new or
// #/mocks/edit/<id>, the editor above it.

import {api} from './api.js';
import {confirmDialog, fmtNumber, h, notify, route, setText, syncRows} from './dom.js';
import {openMockEditor} from './mockeditor.js';
import {liveCount, on, pathOf, protocolOf, removeMock, setMocks, state, upsertMock} from './store.js';

let listing = null;

/** GET /mocks into the store; callers while one is under way share it. Rejects on failure. */
export function loadMocks() {
  if (!listing) {
    listing = api.mocks().then((answer) => { setMocks(answer.mocks || []); })
      .finally(() => { listing = null; });
  }
  return listing;
}

/** loadMocks(), a notice if it fails. */
export function refreshMocks() {
  return loadMocks().catch((err) => notify(`Could not list the mocks: ${err.message}`));
}

function cell(label, ...children) {
  return h('td', {dataset: {label}}, ...children);
}

export function mount(root, params) {
  const editorSlot = h('div', {class: 'editor-slot'});
  const tbody = h('tbody');
  const empty = h('p', {class: 'empty', testid: 'mocks-empty', hidden: true});
  const count = h('span', {class: 'muted', testid: 'mocks-count'});
  const table = h('table', {class: 'data cards', testid: 'mocks-table'},
    h('caption', {class: 'visually-hidden', text: 'Mocks'}),
    h('thead', {}, h('tr', {},
      ['ID', 'Name', 'Path', 'Protocol', 'Enabled', 'Live', 'Actions', 'Broadcast']
        .map((t) => h('th', {scope: 'col', text: t})))),
    tbody);
  root.replaceChildren(
    h('div', {class: 'page-head'},
      h('h1', {text: 'Mocks'}), count,
      h('a', {class: 'button primary', href: '#/mocks/new', testid: 'mock-new', text: 'New mock'})),
    editorSlot,
    h('div', {class: 'table-wrap'}, table),
    empty);

  const rows = new Map();
  const pending = new Set(); // ids whose toggle request is under way

  function makeRow(id) {
    const r = {id};
    r.name = h('span');
    r.path = h('code');
    r.protocol = h('span', {class: 'tag'});
    r.toggle = h('input', {type: 'checkbox', role: 'switch', testid: 'mock-toggle',
      'aria-label': `Enabled: mock ${id}`, title: 'Disabling closes its live clients (1012)'});
    r.toggleText = h('span', {class: 'switch-text', 'aria-hidden': 'true'});
    r.live = h('a', {href: `#/connections?mockId=${encodeURIComponent(id)}`, testid: 'mock-connections',
      title: 'Its live connections'});
    r.broadcastInput = h('input', {type: 'text', testid: 'broadcast-input', placeholder: 'text to every client',
      'aria-label': `Message to broadcast to the clients of mock ${id}`});
    r.broadcastButton = h('button', {type: 'submit', testid: 'broadcast-button', text: 'Broadcast'});
    r.broadcastResult = h('output', {class: 'muted broadcast-result', testid: 'broadcast-result', 'aria-live': 'polite'});
    const form = h('form', {class: 'inline-form broadcast'}, r.broadcastInput, r.broadcastButton, r.broadcastResult);
    r.tr = h('tr', {testid: 'mock-row', dataset: {mockId: id}},
      h('th', {scope: 'row', dataset: {label: 'ID'}}, h('code', {class: 'id', text: id})),
      cell('Name', r.name),
      cell('Path', r.path),
      cell('Protocol', r.protocol),
      cell('Enabled', h('label', {class: 'switch-label'},
        h('span', {class: 'switch'}, r.toggle, h('span', {class: 'switch-track', 'aria-hidden': 'true'})), r.toggleText)),
      cell('Live', r.live),
      cell('Actions', h('div', {class: 'row-actions'},
        h('a', {class: 'button small', href: route('mocks', 'edit', id), testid: 'mock-edit', text: 'Edit',
          'aria-label': `Edit mock ${id}`}),
        h('button', {type: 'button', class: 'small danger-outline', testid: 'mock-delete', text: 'Delete',
          'aria-label': `Delete mock ${id}`, on: {click: () => remove(id)}}))),
      cell('Broadcast', form));
    r.toggle.addEventListener('change', () => toggle(r));
    form.addEventListener('submit', (e) => { e.preventDefault(); broadcast(r); });
    return r;
  }

  function fill(r, mock) {
    setText(r.name, mock.name || '');
    setText(r.path, pathOf(mock));
    setText(r.protocol, protocolOf(mock));
    if (!pending.has(r.id)) {
      r.toggle.checked = mock.enabled !== false;
      setText(r.toggleText, r.toggle.checked ? 'on' : 'off');
    }
    r.tr.classList.toggle('is-disabled', mock.enabled === false);
    const n = liveCount(r.id);
    setText(r.live, fmtNumber(n));
    r.live.setAttribute('aria-label', `${n} live connection${n === 1 ? '' : 's'} of mock ${r.id}`);
  }

  function render() {
    syncRows(tbody, rows, state.mocks, (mock) => String(mock.id), (mock) => makeRow(String(mock.id)), fill);
    const n = state.mocks.length;
    setText(count, state.mocksLoaded ? `${n} mock${n === 1 ? '' : 's'}` : 'loading…');
    empty.hidden = !state.mocksLoaded || n > 0;
    setText(empty, 'No mocks yet. Create one with “New mock”.');
  }

  function renderCounts() {
    for (const mock of state.mocks) {
      const r = rows.get(String(mock.id));
      if (r) fill(r, mock);
    }
  }

  async function toggle(r) {
    const enabled = r.toggle.checked;
    pending.add(r.id);
    r.toggle.disabled = true;
    setText(r.toggleText, enabled ? 'on' : 'off');
    try {
      const answer = await api.toggleMock(r.id, enabled);
      pending.delete(r.id);
      if (answer && answer.mock) upsertMock(answer.mock);
      else await refreshMocks();
    } catch (err) {
      pending.delete(r.id);
      r.toggle.checked = !enabled;
      notify(`Could not ${enabled ? 'enable' : 'disable'} mock ${r.id}: ${err.message}`);
      render();
    } finally {
      r.toggle.disabled = false;
    }
  }

  async function remove(id) {
    const live = liveCount(id);
    const more = live ? ` Its ${live} live client${live === 1 ? ' is' : 's are'} closed with 1012.` : '';
    if (!(await confirmDialog(`Delete mock “${id}”?${more}`, {yes: 'Delete'}))) return;
    try {
      await api.deleteMock(id);
      removeMock(id);
      notify(`Deleted mock ${id}`, 'ok');
      if (editorFor === id) {
        if (editor) editor.discard(); // nothing left to save it to
        location.hash = '#/mocks';
      }
    } catch (err) {
      notify(`Could not delete mock ${id}: ${err.message}`);
      refreshMocks();
    }
  }

  async function broadcast(r) {
    if (r.broadcastInput.value === '') {
      const n = liveCount(r.id);
      const whom = `${n} live client${n === 1 ? '' : 's'}`;
      if (!(await confirmDialog(`The message is empty: send an empty text frame to the ${whom} of mock “${r.id}”?`,
        {yes: 'Send it empty', danger: false}))) {
        r.broadcastInput.focus();
        return;
      }
    }
    r.broadcastButton.disabled = true;
    setText(r.broadcastResult, 'sending…');
    try {
      const answer = await api.broadcast(r.id, r.broadcastInput.value);
      const sent = Number(answer.sent || 0);
      const total = Number(answer.connections ?? sent);
      setText(r.broadcastResult, `sent to ${sent}${total !== sent ? ` of ${total}` : ''}`);
    } catch (err) {
      setText(r.broadcastResult, '');
      notify(`Broadcast to mock ${r.id} failed: ${err.message}`);
    } finally {
      r.broadcastButton.disabled = false;
    }
  }

  // ---------------------------------------------------------------- the editor

  let editor = null;
  let editorFor; // undefined: closed; null: a new mock; else the id edited

  /** The editor a route's params open: undefined (none), null (a new mock) or an id. */
  function editorOf(p) {
    return p.editor === 'new' ? null : (p.editor === 'edit' ? p.id : undefined);
  }

  function showEditor(p) {
    const wanted = editorOf(p);
    if (wanted === editorFor && (editor || wanted === undefined)) return;
    if (editor) editor.destroy();
    editor = null;
    editorFor = wanted;
    if (wanted === undefined) return;
    editor = openMockEditor(editorSlot, wanted, {
      onDone: (savedId) => {
        location.hash = '#/mocks';
        if (savedId) refreshMocks();
      },
    });
    editorSlot.scrollIntoView({block: 'nearest'});
  }

  const offs = [on('mocks', render), on('connections', renderCounts)];
  render();
  showEditor(params);
  if (!state.mocksLoaded) loadMocks().catch(() => {}); // app.js's first load says why it failed

  return {
    update(p) {
      showEditor(p);
    },
    /** What to ask before going to a route of this page (params) or another (null): '' for nothing. */
    leaveWarning(p) {
      if (!editor || !editor.dirty() || (p && editorOf(p) === editorFor)) return '';
      return editorFor ? `Leave the editor and discard your changes to mock ${editorFor}?`
        : 'Leave the editor and discard the new mock?';
    },
    discard() {
      if (editor) editor.discard();
    },
    unmount() {
      offs.forEach((off) => off());
      if (editor) editor.destroy();
    },
  };
}
