// #/connections/<id>: one connection, its frames both ways as they flow (GET
// /websocket/messages?connectionId=ID, then /events?connectionId=ID), and its controls.

import {api} from './api.js';
import {closePanel, faultsPanel, sendPanel} from './controls.js';
import {fmtDateTime, fmtNumber, h, route, setText} from './dom.js';
import {FrameFeed, frameMeta, renderBody} from './frames.js';
import {openEventStream} from './sse.js';
import {on, state} from './store.js';

function frameRow(entry) {
  const dir = entry.direction || 'event';
  return h('li', {class: ['frame', `frame-${dir}`], testid: 'frame-row', dataset: {direction: dir, seq: entry.seq}},
    frameMeta(entry), renderBody(entry));
}

export function mount(root, params) {
  const id = params.id;
  const status = h('span', {class: 'tag', testid: 'connection-status', text: '…'});
  const facts = h('dl', {class: 'facts', testid: 'connection-facts'});
  const frames = h('ol', {class: 'frames', testid: 'frames', 'aria-live': 'off'});
  const framesBox = h('div', {class: 'frames-box', tabindex: '0', 'aria-label': 'Frames'}, frames);
  const framesEmpty = h('p', {class: 'empty', testid: 'frames-empty', text: 'No frames yet.'});
  const follow = h('input', {type: 'checkbox', id: 'frames-follow', testid: 'frames-follow', checked: true});
  const frameCount = h('span', {class: 'muted', testid: 'frames-count'});
  const streamNote = h('span', {class: 'muted', testid: 'frames-stream', role: 'status'});
  const send = sendPanel(id);
  const close = closePanel(id);
  const faults = faultsPanel(id);

  root.replaceChildren(
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, h('a', {href: '#/connections', text: 'Connections'}), ' / '),
    h('div', {class: 'page-head'}, h('h1', {class: 'id-title', text: id}), status),
    facts,
    h('div', {class: 'connection-layout'},
      h('section', {class: 'panel frames-panel', 'aria-label': 'Frames'},
        h('div', {class: 'panel-head'}, h('h2', {text: 'Frames'}), frameCount,
          h('label', {class: 'check', for: 'frames-follow'}, follow, ' follow'),
          h('a', {href: `#/journal?connectionId=${encodeURIComponent(id)}`, text: 'in the journal'}),
          streamNote),
        framesBox, framesEmpty),
      h('div', {class: 'side'}, send.el, close.el, faults.el)));

  // ---------------------------------------------------------------- facts and status

  let info = null;
  let notFound = false;
  let seenLive = false;
  let listed = false; // a connections list arrived since this page opened

  function renderFacts() {
    const c = state.connections.find((x) => x.id === id);
    if (c) {
      info = {...(info || {}), ...c};
      seenLive = true;
    }
    const live = Boolean(c) || (!notFound && !(seenLive && listed) && info !== null);
    const closed = !c && (notFound || (seenLive && listed));
    setText(status, live ? 'live' : closed ? 'closed' : '…');
    status.className = `tag ${live ? 'tag-ok' : closed ? 'tag-off' : ''}`;
    for (const panel of [send, close, faults]) panel.setClosed(closed);
    const rows = [];
    const add = (label, value, link) => {
      if (value == null || value === '') return;
      rows.push(h('div', {}, h('dt', {text: label}), h('dd', {}, link ? h('a', {href: link, text: value}) : String(value))));
    };
    if (info) {
      add('Mock', info.mockId, info.mockId ? route('mocks', 'edit', info.mockId) : null);
      add('Path', info.path);
      add('Subprotocol', info.subprotocol || '—');
      add('Connected', fmtDateTime(info.connectedAt));
      add('Sent', fmtNumber(info.messagesSent));
      add('Received', fmtNumber(info.messagesRecv));
      add('Client', info.remoteAddr);
      add('Node', info.node);
    } else if (notFound) {
      rows.push(h('p', {class: 'muted', text: 'This connection is not live (closed, or never existed); its journaled frames are below.'}));
    }
    facts.replaceChildren(...rows);
  }

  function loadFacts() {
    api.connection(id).then((c) => {
      info = {...c, ...(info || {})};
      seenLive = true;
      listed = false; // a list sent before this answer may not have it yet
      renderFacts();
    }).catch((err) => {
      if (err.status === 404) notFound = true;
      renderFacts();
    });
  }
  loadFacts();

  // ---------------------------------------------------------------- frames

  function atBottom() {
    return framesBox.scrollHeight - framesBox.scrollTop - framesBox.clientHeight < 40;
  }

  const feed = new FrameFeed({connectionId: id}, {
    limit: 500,
    max: 2000,
    onChange({added, reset, dropped}) {
      const stick = follow.checked && (reset || atBottom());
      if (reset) {
        frames.replaceChildren(...feed.entries.map(frameRow));
      } else {
        for (let i = 0; i < dropped && frames.firstElementChild; i += 1) frames.firstElementChild.remove();
        frames.append(...added.map(frameRow));
      }
      framesEmpty.hidden = feed.entries.length > 0;
      setText(frameCount, `${fmtNumber(feed.entries.length)} shown`);
      if (stick) framesBox.scrollTop = framesBox.scrollHeight;
    },
    onError(err) {
      setText(streamNote, `Could not read the journal: ${err.message}`);
    },
  });
  follow.addEventListener('change', () => {
    if (follow.checked) framesBox.scrollTop = framesBox.scrollHeight;
  });

  let hellos = 0;
  let cleared = false; // emptied when the token was forgotten: loaded again once the stream is back
  const stream = openEventStream({connectionId: id}, {
    wants: (name) => name === 'messages' || name === 'hello',
    onEvent(name, data) {
      if (name === 'hello') {
        hellos += 1;
        // The first hello: nothing to catch up on (the first load is under way or done). A
        // journal behind ours is a restarted server: it knows nothing of this connection,
        // so the frames shown stay as they are.
        if (cleared) {
          cleared = false;
          loadFacts();
          feed.load();
        } else if (hellos > 1 && !(data.lastSeq < feed.maxSeq)) {
          feed.catchUp();
        }
      } else if (name === 'messages' && Array.isArray(data.messages)) {
        feed.push(data.messages);
      }
    },
    onState(s, infoState) {
      if (s === 'open') setText(streamNote, '');
      else if (s === 'retrying') setText(streamNote, `live updates paused: ${infoState.message}; retrying in ${Math.round(infoState.delay / 1000)} s`);
      else if (s === 'unauthorized') setText(streamNote, 'live updates need the admin token');
    },
  });
  feed.load();

  const offs = [
    on('connections', () => { listed = true; renderFacts(); }),
    on('reset', () => {
      // The token was forgotten: nothing of what it showed stays.
      info = null;
      notFound = false;
      seenLive = false;
      listed = false;
      cleared = true;
      feed.clear();
      renderFacts();
    }),
  ];
  renderFacts();

  return {
    unmount() {
      stream.close();
      offs.forEach((off) => off());
    },
  };
}
