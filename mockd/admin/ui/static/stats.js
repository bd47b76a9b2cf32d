// #/stats: messages per second in and out and active connections over the last five minutes
// (the `stats` events since this tab opened), with the current numbers.

import {fmtNumber, h, setText} from './dom.js';
import {lineChart} from './chart.js';
import {HISTORY_MS, on, state} from './store.js';

/** The narrowest time axis: the first seconds of a tab are not stretched across the chart. */
const MIN_SPAN_MS = 20 * 1000;

function tile(label, testid) {
  const value = h('span', {class: 'tile-value', testid});
  return {el: h('div', {class: 'tile'}, h('span', {class: 'tile-label', text: label}), value), value};
}

function legend(items) {
  return h('ul', {class: 'legend'}, ...items.map(([cls, text]) =>
    h('li', {}, h('span', {class: `swatch ${cls}`, 'aria-hidden': 'true'}), text)));
}

export function mount(root) {
  const tiles = {
    inRate: tile('In (messages/s)', 'stats-in-rate'),
    outRate: tile('Out (messages/s)', 'stats-out-rate'),
    active: tile('Active connections', 'stats-active'),
    total: tile('Connections since start', 'stats-total'),
    recv: tile('Messages received', 'stats-received'),
    sent: tile('Messages sent', 'stats-sent'),
  };
  const rateChart = h('div', {class: 'chart-box', testid: 'chart-rates'});
  const activeChart = h('div', {class: 'chart-box', testid: 'chart-active'});
  const note = h('p', {class: 'hint', testid: 'stats-note'});
  const byMock = h('tbody');
  root.replaceChildren(
    h('div', {class: 'page-head'}, h('h1', {text: 'Stats'})),
    h('div', {class: 'tiles'}, ...Object.values(tiles).map((t) => t.el)),
    h('section', {class: 'panel', 'aria-label': 'Messages per second'},
      h('div', {class: 'panel-head'}, h('h2', {text: 'Messages per second'}),
        legend([['series-in', 'in (from clients)'], ['series-out', 'out (to clients)']])),
      rateChart),
    h('section', {class: 'panel', 'aria-label': 'Active connections'},
      h('div', {class: 'panel-head'}, h('h2', {text: 'Active connections'}), legend([['series-active', 'active']])),
      activeChart),
    note,
    h('section', {class: 'panel', 'aria-label': 'Connections by mock'},
      h('h2', {text: 'Live connections by mock'}),
      h('table', {class: 'data compact', testid: 'stats-by-mock'},
        h('thead', {}, h('tr', {}, h('th', {scope: 'col', text: 'Mock'}), h('th', {scope: 'col', class: 'num', text: 'Live'}))),
        byMock)));

  function renderNumbers() {
    const s = state.stats;
    const last = state.history[state.history.length - 1];
    setText(tiles.inRate.value, last && last.inRate != null ? fmtNumber(last.inRate, 1) : '–');
    setText(tiles.outRate.value, last && last.outRate != null ? fmtNumber(last.outRate, 1) : '–');
    setText(tiles.active.value, fmtNumber(s.activeConnections));
    setText(tiles.total.value, fmtNumber(s.totalConnections));
    setText(tiles.recv.value, fmtNumber(s.totalMessagesRecv));
    setText(tiles.sent.value, fmtNumber(s.totalMessagesSent));
    const entries = Object.entries(s.connectionsByMock || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    byMock.replaceChildren(...(entries.length ? entries.map(([id, n]) => h('tr', {},
      h('td', {}, h('a', {href: `#/connections?mockId=${encodeURIComponent(id)}`, text: id})),
      h('td', {class: 'num', text: fmtNumber(n)})))
      : [h('tr', {}, h('td', {colspan: 2, class: 'muted', text: 'No live connections.'}))]));
  }

  function renderCharts() {
    const history = state.history;
    const tMax = history.length ? history[history.length - 1].t : Date.now();
    // The samples only go back to when this tab opened: the axis spans them (up to five
    // minutes), else a fresh tab's first minutes would be a sliver at the right edge.
    const kept = history.length ? tMax - history[0].t : 0;
    const tMin = tMax - Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, kept));
    const span = Math.round((tMax - tMin) / 1000);
    const last = span < 300 ? `last ${span} s` : 'last 5 minutes';
    const width = rateChart.clientWidth || 600;
    rateChart.replaceChildren(lineChart({width, tMin, tMax, title: `Messages per second, in and out, ${last}`,
      series: [
        {name: 'in', cls: 'series-in', points: history.map((p) => ({t: p.t, v: p.inRate, gap: p.gap}))},
        {name: 'out', cls: 'series-out', points: history.map((p) => ({t: p.t, v: p.outRate, gap: p.gap}))},
      ]}));
    activeChart.replaceChildren(lineChart({width: activeChart.clientWidth || width, height: 120, tMin, tMax, integer: true,
      title: `Active connections, ${last}`,
      series: [{name: 'active', cls: 'series-active',
        points: history.map((p) => ({t: p.t, v: p.active, gap: p.gap}))}]}));
    const seconds = Math.round(kept / 1000);
    setText(note, history.length < 2
      ? 'Collecting: the charts fill in from the stats the server sends every second while this tab is open.'
      : `The last ${seconds < 300 ? `${seconds} s` : '5 minutes'} (kept while this tab is open).`);
  }

  function render() {
    renderNumbers();
    renderCharts();
  }

  const observer = new ResizeObserver(() => renderCharts());
  observer.observe(rateChart);
  const offs = [on('stats', render), on('connections', renderNumbers)];
  render();

  return {
    unmount() {
      observer.disconnect();
      offs.forEach((off) => off());
    },
  };
}
