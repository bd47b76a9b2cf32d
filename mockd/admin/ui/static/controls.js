// The controls of a connection's page: send a frame (text, JSON checked first, or base64
// binary), close it with a code and reason, and inject the faults of the README's table.

import {api} from './api.js';
import {h, nextId, select} from './dom.js';
import {isBase64} from './frames.js';

const BAD_FRAMES = ['invalidUtf8', 'reservedBit', 'maskedFrame', 'badOpcode', 'oversizeControl'];
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function labelled(text, control, className) {
  if (!control.id) control.id = nextId('c');
  return h('div', {class: ['field', className]}, h('label', {for: control.id, text}), control);
}

function say(output, text, kind = 'ok') {
  output.textContent = text;
  output.className = `feedback feedback-${kind}`;
}

/** The "send a frame" form. */
export function sendPanel(connectionId) {
  const kind = select([['text', 'Text'], ['json', 'JSON'], ['binary', 'Binary (base64)']], {testid: 'send-kind'});
  const input = h('textarea', {testid: 'send-input', rows: 4, spellcheck: 'false', placeholder: 'Message text'});
  const button = h('button', {type: 'submit', class: 'primary', testid: 'send-button', text: 'Send'});
  const format = h('button', {type: 'button', testid: 'send-format', text: 'Format JSON', hidden: true});
  const feedback = h('output', {class: 'feedback', testid: 'send-feedback', 'aria-live': 'polite'});
  const form = h('form', {class: 'panel send-panel', 'aria-label': 'Send a frame'},
    h('h2', {text: 'Send'}),
    labelled('Kind', kind, 'inline'),
    labelled('Message', input),
    h('div', {class: 'actions'}, button, format, feedback));

  const placeholders = {text: 'Message text', json: '{"type": "hello"}', binary: 'base64, e.g. aGVsbG8='};
  kind.addEventListener('change', () => {
    input.placeholder = placeholders[kind.value];
    format.hidden = kind.value !== 'json';
    feedback.textContent = '';
  });
  format.addEventListener('click', () => {
    try {
      input.value = JSON.stringify(JSON.parse(input.value), null, 2);
      feedback.textContent = '';
    } catch (err) {
      say(feedback, `Not valid JSON: ${err.message}`, 'error');
    }
  });
  input.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let type = 'text';
    let data = input.value;
    if (kind.value === 'json') {
      try {
        JSON.parse(data);
      } catch (err) {
        say(feedback, `Not valid JSON, not sent: ${err.message}`, 'error');
        input.focus();
        return;
      }
    } else if (kind.value === 'binary') {
      data = data.replace(/\s+/g, '');
      if (!isBase64(data)) {
        say(feedback, 'Not valid base64 (standard alphabet, with = padding), not sent', 'error');
        input.focus();
        return;
      }
      type = 'binary';
    }
    button.disabled = true;
    try {
      await api.send(connectionId, type, data);
      say(feedback, `Sent (${kind.value})`);
    } catch (err) {
      say(feedback, err.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return {el: form, setClosed(closed) { button.disabled = closed; }};
}

/** Close with a code and reason (a `close` fault), or the API's plain DELETE (1000). */
export function closePanel(connectionId) {
  const code = h('input', {type: 'number', testid: 'close-code', min: 1000, max: 4999, step: 1, value: '4000',
    inputmode: 'numeric'});
  const reason = h('input', {type: 'text', testid: 'close-reason', maxlength: 123, placeholder: 'optional'});
  const button = h('button', {type: 'submit', class: 'danger', testid: 'close-button', text: 'Close'});
  const disconnect = h('button', {type: 'button', testid: 'disconnect-button', text: 'Disconnect (1000)',
    title: 'DELETE /websocket/connections/{id}: close 1000 “closed by API”'});
  const feedback = h('output', {class: 'feedback', testid: 'close-feedback', 'aria-live': 'polite'});
  const form = h('form', {class: 'panel close-panel', 'aria-label': 'Close the connection'},
    h('h2', {text: 'Close'}),
    h('div', {class: 'row'}, labelled('Code', code, 'code-field'), labelled('Reason', reason, 'grow')),
    h('div', {class: 'actions'}, button, disconnect, feedback));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = Number(code.value);
    if (!Number.isInteger(n) || n < 1000 || n > 4999) {
      say(feedback, 'The close code is a whole number from 1000 to 4999 (4000–4999: your application’s)', 'error');
      code.focus();
      return;
    }
    const fault = {type: 'close', code: n};
    if (reason.value) fault.reason = reason.value;
    button.disabled = true;
    try {
      await api.fault(connectionId, fault);
      say(feedback, `Closed with ${n}${reason.value ? ` “${reason.value}”` : ''}`);
    } catch (err) {
      say(feedback, err.message, 'error');
    } finally {
      button.disabled = false;
    }
  });
  disconnect.addEventListener('click', async () => {
    disconnect.disabled = true;
    try {
      await api.disconnect(connectionId);
      say(feedback, 'Closed with 1000');
    } catch (err) {
      say(feedback, err.message, 'error');
    } finally {
      disconnect.disabled = false;
    }
  });
  return {el: form, setClosed(closed) { button.disabled = closed; disconnect.disabled = closed; }};
}

/** One button per fault type; those with a parameter have its input next to them. */
export function faultsPanel(connectionId) {
  const feedback = h('output', {class: 'feedback', testid: 'fault-feedback', 'aria-live': 'polite'});
  const buttons = [];
  const fixed = h('input', {type: 'text', testid: 'fault-latency-fixed', value: '500ms', size: 7});
  const jitter = h('input', {type: 'text', testid: 'fault-latency-jitter', placeholder: '0', size: 7});
  const bps = h('input', {type: 'number', testid: 'fault-throttle-bytes', value: '100', min: 1, step: 1});
  const size = h('input', {type: 'number', testid: 'fault-fragment-size', value: '4', min: 1, step: 1});
  const badKind = select(BAD_FRAMES.map((k) => [k, k]), {testid: 'fault-badFrame-kind'});

  const specs = {
    drop: {label: 'Drop', help: 'reset the TCP connection, no close frame (1006)', danger: true},
    silence: {label: 'Silence', help: 'send nothing any more, not even pongs or a close', danger: true},
    stopPongs: {label: 'Stop pongs', help: 'its pings get no pong; everything else flows'},
    latency: {label: 'Latency', help: 'hold each frame mockd sends', params: [labelled('Fixed', fixed), labelled('Jitter', jitter)],
      build: () => {
        const f = fixed.value.trim();
        const j = jitter.value.trim();
        if (!DURATION.test(f)) throw new Error('Latency: “fixed” is a duration such as 500ms or 1.5s');
        if (j && !DURATION.test(j)) throw new Error('Latency: “jitter” is a duration such as 50ms');
        return j ? {type: 'latency', fixed: f, jitter: j} : {type: 'latency', fixed: f};
      }},
    throttle: {label: 'Throttle', help: 'what mockd sends trickles at that many bytes a second',
      params: [labelled('Bytes/s', bps)], build: () => ({type: 'throttle', bytesPerSecond: positive(bps, 'bytes per second')})},
    fragment: {label: 'Fragment', help: 'split each message into continuation frames',
      params: [labelled('Size', size)], build: () => ({type: 'fragment', size: positive(size, 'fragment size')})},
    badFrame: {label: 'Bad frame', help: 'one frame a correct client must reject', danger: true,
      params: [labelled('Kind', badKind)], build: () => ({type: 'badFrame', kind: badKind.value})},
  };

  const list = h('div', {class: 'faults'});
  for (const [type, spec] of Object.entries(specs)) {
    const button = h('button', {type: 'button', class: spec.danger ? 'danger-outline' : '', testid: `fault-${type}`,
      text: spec.label, title: spec.help, 'aria-describedby': undefined});
    buttons.push(button);
    button.addEventListener('click', () => apply(type, spec, button));
    list.append(h('div', {class: 'fault'}, button, ...(spec.params || []),
      h('span', {class: 'hint', text: spec.help})));
  }

  async function apply(type, spec, button) {
    let fault;
    try {
      fault = spec.build ? spec.build() : {type};
    } catch (err) {
      say(feedback, err.message, 'error');
      return;
    }
    button.disabled = true;
    try {
      const answer = await api.fault(connectionId, fault);
      const applied = answer && answer.applied ? answer.applied : fault;
      say(feedback, `Applied ${JSON.stringify(applied)}`);
    } catch (err) {
      say(feedback, err.message, 'error');
    } finally {
      button.disabled = false;
    }
  }

  const el = h('section', {class: 'panel faults-panel', 'aria-label': 'Faults'},
    h('h2', {text: 'Faults'}),
    h('p', {class: 'hint', text: 'Applied to this connection now; each one is an event in its frames.'}),
    list, feedback);
  return {el, setClosed(closed) { for (const b of buttons) b.disabled = closed; }};
}

function positive(input, what) {
  const n = Number(input.value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`The ${what} is a whole number above 0`);
  return n;
}
