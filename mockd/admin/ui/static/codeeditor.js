// A plain <textarea> with a gutter of line numbers and error markers placed at their line.
//
// The textarea never scrolls itself: it is sized to its text (height from the line count,
// width from the longest line), and the frame around it scrolls. So line N is always at
// padding + (N-1) * line-height, and a marker laid over it stays in place while scrolling.
// The error message sits on the error's own line, right after its text (monospace: the
// offset is a number of characters), over nothing else; the line and its number are
// highlighted and the column is underlined.

import {h} from './dom.js';

const TAB = 2; // matches tab-size in style.css

function visualLength(line) {
  let n = 0;
  for (const ch of line) n += ch === '\t' ? TAB - (n % TAB) : 1;
  return n;
}

function visualColumn(line, column) {
  return visualLength(line.slice(0, Math.max(0, column - 1)));
}

/**
 * createCodeEditor({value, label, testid, onSave}) -> editor
 *   editor.el           the element to insert
 *   editor.textarea     the <textarea data-testid=testid>
 *   editor.value        get/set the text
 *   editor.setErrors([{message, line, column, where}])  markers for those with a line
 *   editor.clearErrors()
 */
export function createCodeEditor({value = '', label = 'Editor', testid = 'mock-editor', onSave, describedBy} = {}) {
  const textarea = h('textarea', {
    class: 'code-input', testid, 'aria-label': label, spellcheck: 'false', autocapitalize: 'off',
    autocomplete: 'off', autocorrect: 'off', wrap: 'off', 'aria-describedby': describedBy,
  });
  textarea.value = value;
  const gutter = h('div', {class: 'code-gutter', 'aria-hidden': 'true'});
  const marks = h('div', {class: 'code-marks'});
  const measure = h('span', {class: 'code-measure', 'aria-hidden': 'true', text: 'x'.repeat(100)});
  const area = h('div', {class: 'code-area'}, marks, textarea, measure);
  const el = h('div', {class: 'code-editor'}, gutter, area);

  let metrics = null;
  let errors = [];
  let stale = false;
  let lineCount = 0;

  function measureMetrics() {
    const style = getComputedStyle(textarea);
    const charWidth = measure.getBoundingClientRect().width / 100;
    const lineHeight = parseFloat(style.lineHeight);
    if (!charWidth || !lineHeight) return null;
    return {
      charWidth, lineHeight,
      padTop: parseFloat(style.paddingTop) || 0,
      padBottom: parseFloat(style.paddingBottom) || 0,
      padLeft: parseFloat(style.paddingLeft) || 0,
      padRight: parseFloat(style.paddingRight) || 0,
    };
  }

  function lines() {
    return textarea.value.split(/\r\n|\r|\n/);
  }

  function syncGutter(n) {
    if (n === lineCount) return;
    while (gutter.children.length < n) gutter.append(h('div', {class: 'code-ln', text: String(gutter.children.length + 1)}));
    while (gutter.children.length > n) gutter.lastElementChild.remove();
    lineCount = n;
  }

  function layout() {
    const all = lines();
    syncGutter(all.length);
    if (!metrics) metrics = measureMetrics();
    if (!metrics) return; // not in the document yet: mount() lays out again
    const {charWidth, lineHeight, padTop, padBottom, padLeft, padRight} = metrics;
    const longest = all.reduce((m, l) => Math.max(m, visualLength(l)), 0);
    textarea.style.height = `${Math.ceil(all.length * lineHeight + padTop + padBottom + 2)}px`;
    area.style.minWidth = `${Math.ceil((longest + 2) * charWidth + padLeft + padRight)}px`;
    drawMarks(all);
  }

  function drawMarks(all) {
    marks.replaceChildren();
    for (const ln of gutter.children) ln.classList.remove('is-error');
    if (!errors.length || !metrics) return;
    const {charWidth, lineHeight, padTop, padLeft} = metrics;
    let widest = 0;
    const byLine = new Map();
    for (const err of errors) {
      const line = Math.min(Math.max(1, err.line), all.length);
      if (!byLine.has(line)) byLine.set(line, []);
      byLine.get(line).push(err);
    }
    for (const [line, list] of byLine) {
      const top = padTop + (line - 1) * lineHeight;
      const text = all[line - 1] || '';
      const message = list.map((e) => (e.column ? `${line}:${e.column} ` : `${line}: `) + e.message).join(' · ');
      const band = h('div', {class: 'code-line-mark'});
      band.style.top = `${top}px`;
      band.style.height = `${lineHeight}px`;
      const note = h('div', {class: ['code-error', stale && 'is-stale'], testid: 'editor-error', role: 'note',
        dataset: {line, column: list[0].column || undefined, where: list[0].where || undefined}, text: message});
      note.style.top = `${top}px`;
      note.style.left = `${padLeft + (visualLength(text) + 2) * charWidth}px`;
      marks.append(band, note);
      for (const e of list) {
        if (!e.column) continue;
        const col = h('div', {class: 'code-col-mark'});
        col.style.top = `${top + lineHeight - 3}px`;
        col.style.left = `${padLeft + visualColumn(text, e.column) * charWidth}px`;
        col.style.width = `${charWidth}px`;
        marks.append(col);
      }
      widest = Math.max(widest, note.offsetLeft + note.offsetWidth + 8);
      const ln = gutter.children[line - 1];
      if (ln) {
        ln.classList.add('is-error');
        ln.title = message;
      }
    }
    // The area reaches past the longest message, so its line's band runs under it too.
    if (widest > area.offsetWidth) area.style.minWidth = `${Math.ceil(widest)}px`;
  }

  textarea.addEventListener('input', () => {
    if (errors.length && !stale) stale = true;
    layout();
  });
  textarea.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && (e.key === 's' || e.key === 'Enter') && onSave) {
      e.preventDefault();
      onSave();
    }
  });

  const editor = {
    el,
    textarea,
    get value() {
      return textarea.value;
    },
    set value(v) {
      textarea.value = v;
      errors = [];
      stale = false;
      layout();
    },
    /** Call once the editor is in the document (and when its font may have changed). */
    mount() {
      metrics = null;
      layout();
    },
    setErrors(list) {
      errors = (list || []).filter((e) => Number.isInteger(e.line) && e.line > 0)
        .map((e) => ({message: String(e.message || 'error'), line: e.line,
          column: Number.isInteger(e.column) && e.column > 0 ? e.column : null, where: e.where || null}));
      stale = false;
      layout();
      return errors.length;
    },
    clearErrors() {
      errors = [];
      stale = false;
      layout();
    },
    /** Put the caret at a line and column and scroll it into view. */
    focusAt(line, column = 1) {
      const all = lines();
      const l = Math.min(Math.max(1, line), all.length);
      let offset = 0;
      for (let i = 0; i < l - 1; i += 1) offset += all[i].length + 1;
      offset += Math.min(Math.max(0, (column || 1) - 1), all[l - 1].length);
      textarea.focus({preventScroll: true});
      textarea.setSelectionRange(offset, offset);
      if (metrics) {
        const top = metrics.padTop + (l - 1) * metrics.lineHeight;
        if (top < el.scrollTop || top + metrics.lineHeight > el.scrollTop + el.clientHeight) {
          el.scrollTop = Math.max(0, top - el.clientHeight / 3);
        }
      }
    },
  };
  layout();
  return editor;
}
