// DOM helpers: every element is built with createElement and textContent, never innerHTML with
// data, and styles come from style.css classes (the page's Content-Security-Policy refuses
// style attributes; CSSOM writes such as el.style.height are allowed and used sparingly).

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'open', 'indeterminate']);

/** h('button', {class: 'primary', testid: 'x', on: {click: fn}}, 'text', child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element; attributes only (presentation attributes are not CSP-restricted). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false && !PROPS.has(k)) continue;
    if (k === 'style') throw new Error('inline styles are refused by the CSP: use a class');
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'testid') el.setAttribute('data-testid', v);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) { if (dv != null) el.dataset[dk] = String(dv); }
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Set text only when it changed (keeps selections and avoids layout work on live updates). */
export function setText(el, text) {
  const t = text == null ? '' : String(text);
  if (el.textContent !== t) el.textContent = t;
}

let uid = 0;
export function nextId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form control: returns {wrap, control}. */
export function field(labelText, control, {hint, className} = {}) {
  if (!control.id) control.id = nextId('f');
  const label = h('label', {for: control.id, text: labelText});
  const wrap = h('div', {class: ['field', className]}, label, control);
  if (hint) wrap.append(h('span', {class: 'hint', text: hint}));
  return {wrap, control};
}

export function select(options, props = {}) {
  const el = h('select', props);
  setOptions(el, options, props.value);
  return el;
}

/** options: [[value, label], ...]; keeps the current value when it is still offered. */
export function setOptions(el, options, value = el.value) {
  const same = el.options.length === options.length &&
    options.every(([v, l], i) => el.options[i].value === v && el.options[i].textContent === l);
  if (!same) {
    el.replaceChildren(...options.map(([v, l]) => h('option', {value: v, text: l})));
  }
  if (options.some(([v]) => v === value)) el.value = value;
}

// ------------------------------------------------------------------ notices

export function notify(message, kind = 'error', timeout = kind === 'error' ? 9000 : 4000) {
  const box = document.getElementById('notices');
  if (!box) return;
  const close = h('button', {type: 'button', class: 'notice-close', 'aria-label': 'Dismiss', text: '×'});
  const el = h('div', {class: ['notice', `notice-${kind}`], testid: 'notice', role: kind === 'error' ? 'alert' : 'status'},
    h('span', {text: message}), close);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  // The same message again (several requests that failed alike): shown once, the newest.
  for (const shown of [...box.children]) if (shown.dataset.message === message) shown.remove();
  el.dataset.message = message;
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (timeout) setTimeout(remove, timeout);
}

// ------------------------------------------------------------------ confirm dialog

/** Ask in the page's own dialog (#confirm-dialog), resolves true on confirm-yes. */
export function confirmDialog(message, {yes = 'Delete', danger = true} = {}) {
  const dialog = document.getElementById('confirm-dialog');
  if (dialog.open) return Promise.resolve(false); // one question at a time
  const yesButton = document.getElementById('confirm-yes');
  const noButton = document.getElementById('confirm-no');
  document.getElementById('confirm-message').textContent = message;
  yesButton.textContent = yes;
  yesButton.classList.toggle('danger', danger);
  return new Promise((resolve) => {
    const done = (answer) => {
      yesButton.removeEventListener('click', onYes);
      noButton.removeEventListener('click', onNo);
      dialog.removeEventListener('cancel', onNo);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = (e) => { e.preventDefault(); done(true); };
    const onNo = (e) => { e.preventDefault(); done(false); };
    yesButton.addEventListener('click', onYes);
    noButton.addEventListener('click', onNo);
    dialog.addEventListener('cancel', onNo);
    dialog.showModal();
    noButton.focus();
  });
}

// ------------------------------------------------------------------ formatting

export function fmtTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso == null ? '' : String(iso);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function fmtDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso == null ? '' : String(iso);
  return d.toLocaleString(undefined, {dateStyle: 'short', timeStyle: 'medium'});
}

export function fmtAge(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function fmtBytes(n) {
  if (n == null || Number.isNaN(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

export function fmtNumber(n, digits = 0) {
  if (n == null || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString(undefined, {maximumFractionDigits: digits, minimumFractionDigits: digits});
}

/** A link into the page's hash routes; segments are URI-encoded. */
export function route(...segments) {
  return `#/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

// Keyed rows of a table body: one row object ({tr, ...}) per item, made once (makeRow(item)),
// filled on every render (fill(row, item)), kept in the items' order without moving rows that
// are already in place (so focus stays), and removed when their item is gone.
export function syncRows(tbody, rows, items, keyOf, makeRow, fill) {
  const seen = new Set();
  let previous = null;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let r = rows.get(key);
    if (!r) {
      r = makeRow(item);
      rows.set(key, r);
    }
    fill(r, item);
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (expected !== r.tr) tbody.insertBefore(r.tr, expected);
    previous = r.tr;
  }
  for (const [key, r] of rows) {
    if (!seen.has(key)) {
      r.tr.remove();
      rows.delete(key);
    }
  }
}
