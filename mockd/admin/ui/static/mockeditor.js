// The mock editor panel: YAML in, POST /mocks (new) or PUT /mocks/{id} (replace), and the
// validation errors of a 400 shown at their line in the editor and listed below it.

import {ApiError, api} from './api.js';
import {createCodeEditor} from './codeeditor.js';
import {confirmDialog, h, nextId, notify} from './dom.js';
import {upsertMock} from './store.js';

const TEMPLATE = `id: my-mock
name: My mock
type: websocket
websocket:
  path: /my-mock
  matchers:
    - match: {type: exact, value: ping}
      response: {type: text, value: pong}
  defaultResponse: {type: text, value: "unknown command"}
`;

/** "… line 3, column 9 …" in a message that came without an errors list. */
function errorsFromMessage(message) {
  const m = /\bline (\d+)(?:,? column (\d+))?/i.exec(message || '');
  return m ? [{message, line: Number(m[1]), column: m[2] ? Number(m[2]) : null}] : [];
}

function describe(err) {
  const where = [];
  if (err.line) where.push(`line ${err.line}${err.column ? `, column ${err.column}` : ''}`);
  if (err.where) where.push(err.where);
  return where.length ? `${where.join(' · ')}: ${err.message}` : String(err.message);
}

/**
 * Open the editor in `slot` for mockId (null: a new mock). onDone(savedId | null) is called
 * when it should close (saved or cancelled). Returns {dirty(), discard(), destroy()}: dirty()
 * says whether it holds changes not saved (a reload or a closed tab asks first, as the
 * router does before leaving it); discard() forgets them.
 */
export function openMockEditor(slot, mockId, {onDone}) {
  const listId = nextId('editor-errors');
  const title = h('h2', {text: mockId ? `Edit mock ${mockId}` : 'New mock'});
  const help = h('p', {class: 'hint',
    text: mockId
      ? 'YAML, one mock as in a config file. Saving replaces it; its live clients are closed with 1012. Ctrl+S saves.'
      : 'YAML, one mock as in a config file’s mocks list. It serves as soon as it is saved. Ctrl+S saves.'});
  const banner = h('div', {class: 'banner banner-error', role: 'alert', testid: 'editor-message', hidden: true});
  const errorList = h('ul', {class: 'error-list', id: listId, testid: 'editor-errors', hidden: true});
  const status = h('span', {class: 'muted', role: 'status', testid: 'editor-status'});
  const editor = createCodeEditor({value: mockId ? '' : TEMPLATE, label: mockId ? `YAML of mock ${mockId}` : 'YAML of the new mock',
    testid: 'mock-editor', onSave: () => save(false), describedBy: listId});
  const saveButton = h('button', {type: 'button', class: 'primary', testid: 'mock-save', text: mockId ? 'Save' : 'Create'});
  const overwrite = h('button', {type: 'button', class: 'danger', testid: 'editor-overwrite', hidden: true,
    text: 'Overwrite anyway'});
  const reload = mockId ? h('button', {type: 'button', testid: 'mock-reload', text: 'Reload'}) : null;
  const cancel = h('button', {type: 'button', testid: 'mock-cancel', text: 'Cancel'});
  const panel = h('section', {class: 'panel editor-panel', testid: 'mock-editor-panel', 'aria-label': title.textContent},
    h('div', {class: 'panel-head'}, title), help, banner, editor.el, errorList,
    h('div', {class: 'actions'}, saveButton, overwrite, reload, cancel, status));
  slot.replaceChildren(panel);
  editor.mount();

  let etag = null;
  let loaded = !mockId;
  let dirty = false;
  let busy = false;
  let destroyed = false;

  editor.textarea.addEventListener('input', () => { dirty = true; });
  // Reloading or closing the tab with changes not saved: the browser asks first.
  const onBeforeUnload = (e) => {
    if (!dirty) return;
    e.preventDefault();
    e.returnValue = ''; // older browsers want it set
  };
  window.addEventListener('beforeunload', onBeforeUnload);

  function clearFeedback() {
    banner.hidden = true;
    banner.textContent = '';
    errorList.hidden = true;
    errorList.replaceChildren();
    overwrite.hidden = true;
    editor.clearErrors();
  }

  function showFailure(err) {
    const errors = err.errors && err.errors.length ? err.errors : errorsFromMessage(err.message);
    // Several problems: each is listed (and marked at its line), the banner only counts them.
    banner.textContent = err.status === 412
      ? `${err.message} — reload to see the other change, or overwrite it with yours.`
      : errors.length > 1 ? `Not saved: ${errors.length} problems, each marked at its line.` : err.message;
    banner.hidden = false;
    overwrite.hidden = err.status !== 412;
    const placed = editor.setErrors(errors);
    // Every error is also listed (a phone may not show the end of a long line): click to go there.
    if (errors.length > 1 || (errors.length === 1 && describe(errors[0]) !== err.message)) {
      errorList.replaceChildren(...errors.map((e) => {
        const text = describe(e);
        if (!e.line) return h('li', {testid: 'editor-error-item', text});
        return h('li', {testid: 'editor-error-item'}, h('button', {type: 'button', class: 'link', text,
          on: {click: () => editor.focusAt(e.line, e.column || 1)}}));
      }));
      errorList.hidden = false;
    }
    if (placed) {
      const first = errors.find((e) => e.line);
      editor.focusAt(first.line, first.column || 1);
    }
  }

  async function load() {
    if (!mockId) return;
    status.textContent = 'Loading…';
    saveButton.disabled = true;
    try {
      const {data, res} = await api.mockYaml(mockId);
      if (destroyed) return;
      etag = res.headers.get('ETag');
      // JSON is YAML too: an answer that came as JSON is shown as such.
      editor.value = typeof data === 'string' ? data : JSON.stringify(data, null, 2);
      loaded = true;
      dirty = false;
      status.textContent = '';
      clearFeedback();
    } catch (err) {
      if (destroyed) return;
      status.textContent = '';
      banner.textContent = `Could not load mock ${mockId}: ${err.message}`;
      banner.hidden = false;
    } finally {
      saveButton.disabled = !loaded;
    }
  }

  async function save(force) {
    if (busy || !loaded) return;
    busy = true;
    saveButton.disabled = true;
    overwrite.disabled = true;
    status.textContent = 'Saving…';
    try {
      const text = editor.value;
      const answer = mockId
        ? await api.replaceMockYaml(mockId, text, force ? null : etag)
        : await api.createMockYaml(text);
      if (destroyed) return;
      if (answer && answer.mock) upsertMock(answer.mock);
      const id = (answer && answer.id) || mockId;
      notify(mockId ? `Saved mock ${id}` : `Created mock ${id}`, 'ok');
      dirty = false;
      onDone(id);
    } catch (err) {
      if (destroyed) return;
      status.textContent = '';
      clearFeedback();
      showFailure(err instanceof ApiError ? err : new ApiError(0, null, String(err)));
    } finally {
      busy = false;
      if (!destroyed) {
        saveButton.disabled = !loaded;
        overwrite.disabled = false;
        if (status.textContent === 'Saving…') status.textContent = '';
      }
    }
  }

  saveButton.addEventListener('click', () => save(false));
  overwrite.addEventListener('click', () => save(true));
  if (reload) {
    reload.addEventListener('click', async () => {
      if (dirty && !(await confirmDialog('Reload the mock and lose your changes?', {yes: 'Reload'}))) return;
      load();
    });
  }
  cancel.addEventListener('click', async () => {
    if (dirty && !(await confirmDialog('Discard your changes to this mock?', {yes: 'Discard'}))) return;
    dirty = false;
    onDone(null);
  });

  const onResize = () => editor.mount();
  window.addEventListener('resize', onResize);
  load();
  if (!mockId) editor.textarea.focus({preventScroll: true});

  return {
    dirty: () => dirty && !destroyed,
    discard() {
      dirty = false;
    },
    destroy() {
      destroyed = true;
      window.removeEventListener('resize', onResize);
      window.removeEventListener('beforeunload', onBeforeUnload);
      slot.replaceChildren();
    },
  };
}
