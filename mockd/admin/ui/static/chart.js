// A small time-series line chart drawn as inline SVG (no library). Sized in CSS pixels to
// its container so the text stays readable on a phone.

import {svg} from './dom.js';

/** 0, or the smallest of 1, 2, 5 x 10^k at least v (a readable top of the y axis). */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(v < 10 ? 1 : 0));
}

/**
 * lineChart({width, height, tMin, tMax, series: [{name, cls, points: [{t, v, gap}]}], title, unit})
 * `gap` on a point starts a new line (no line across a pause of the stream).
 */
export function lineChart({width, height = 160, tMin, tMax, series, title, integer = false}) {
  const pad = {top: 10, right: 10, bottom: 22, left: 44};
  const w = Math.max(120, Math.floor(width));
  const plotW = w - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  let max = 0;
  for (const s of series) for (const p of s.points) if (p.v != null && p.v > max) max = p.v;
  let top = niceMax(max);
  if (integer) top = Math.max(top, 1);
  const x = (t) => pad.left + ((t - tMin) / (tMax - tMin || 1)) * plotW;
  const y = (v) => pad.top + plotH - (v / top) * plotH;

  const root = svg('svg', {class: 'chart', width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img',
    'aria-label': title});
  root.append(svg('title', {text: title}));

  // Grid and y labels: 0, half, top.
  for (const v of [0, top / 2, top]) {
    if (integer && v !== Math.round(v)) continue;
    const yy = y(v);
    root.append(svg('line', {class: 'grid', x1: pad.left, x2: w - pad.right, y1: yy, y2: yy}));
    root.append(svg('text', {class: 'tick', x: pad.left - 6, y: yy + 4, 'text-anchor': 'end', text: fmtTick(v)}));
  }
  // x labels: one a minute, "now" at the right.
  const span = tMax - tMin;
  const step = span > 4 * 60000 ? 60000 : span > 60000 ? 30000 : 10000;
  for (let ago = 0; ago <= span + 1; ago += step) {
    const xx = x(tMax - ago);
    const label = ago === 0 ? 'now' : ago % 60000 === 0 ? `-${ago / 60000}m` : `-${ago / 1000}s`;
    root.append(svg('line', {class: 'grid grid-x', x1: xx, x2: xx, y1: pad.top, y2: pad.top + plotH}));
    root.append(svg('text', {class: 'tick', x: xx, y: height - 6,
      'text-anchor': ago === 0 ? 'end' : xx - pad.left < 16 ? 'start' : 'middle', text: label}));
  }

  for (const s of series) {
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        root.append(svg('circle', {class: `dot ${s.cls}`, cx: run[0][0], cy: run[0][1], r: 2}));
      } else if (run.length > 1) {
        root.append(svg('polyline', {class: `line ${s.cls}`, points: run.map((p) => p.join(',')).join(' ')}));
      }
      run = [];
    };
    for (const p of s.points) {
      if (p.t < tMin) continue;
      if (p.gap || p.v == null) flush();
      if (p.v == null) continue;
      run.push([x(p.t).toFixed(1), y(p.v).toFixed(1)]);
    }
    flush();
  }
  return root;
}
