// A small line chart in SVG (no chart library): one series of points over time, with axes,
// grid lines and a tooltip per point.

import {el, fmtClock, svg} from './util.js';

//! Round tick values covering [0, max]. unit 'bytes': round in KiB/MiB/GiB; 'ms': round in
//! seconds or minutes past a second.
export function niceTicks(max, count = 4, unit = '') {
  let scale = 1;
  if (unit === 'bytes') {
    while (max / scale >= 1024) scale *= 1024;
  } else if (unit === 'ms') {
    if (max >= 120000) scale = 60000;
    else if (max >= 1000) scale = 1000;
  }
  if (scale !== 1) return niceTicks(max / scale, count).map((t) => t * scale);
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  const rough = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? rough;
  const ticks = [];
  for (let v = 0; v <= max + step * 0.001; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/**
 * @param {object} o
 * @param {string} o.title
 * @param {Array<{x: number, y: number, label?: string, marker?: string}>} o.points x: epoch ms
 * @param {function(number): string} o.format the y values' text
 * @param {string} [o.unit] 'bytes' or 'ms': round ticks in that unit
 * @param {string} [o.className] colours the series
 * @param {number} [o.width]
 * @param {number} [o.height]
 * @param {string} [o.testId]
 */
export function lineChart({title, points, format, unit = '', className = '', width = 620,
  height = 220, testId}) {
  const margin = {top: 14, right: 34, bottom: 28, left: 72};
  const w = width - margin.left - margin.right;
  const h = height - margin.top - margin.bottom;
  const sorted = [...points].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .sort((a, b) => a.x - b.x);
  const box = el('figure', {class: `chart ${className}`.trim(), dataset: testId ? {test: testId} : undefined},
    el('figcaption', null, title));
  if (sorted.length === 0) {
    box.append(el('p', {class: 'muted chart-empty'}, 'No completed checkpoint yet.'));
    return box;
  }
  const x0 = sorted[0].x;
  const x1 = sorted[sorted.length - 1].x;
  const span = Math.max(1, x1 - x0);
  const ticks = niceTicks(Math.max(...sorted.map((p) => p.y)), 4, unit);
  const yMax = ticks[ticks.length - 1] || 1;
  const sx = (x) => margin.left + (sorted.length === 1 ? w / 2 : ((x - x0) / span) * w);
  const sy = (y) => margin.top + h - (y / yMax) * h;

  const grid = ticks.map((t) => svg('g', {class: 'tick'},
    svg('line', {x1: margin.left, x2: margin.left + w, y1: sy(t), y2: sy(t)}),
    svg('text', {x: margin.left - 6, y: sy(t) + 4, 'text-anchor': 'end'}, t === 0 ? '0' : format(t))));
  const xLabels = [];
  const xCount = Math.min(5, sorted.length);
  for (let i = 0; i < xCount; i++) {
    const x = xCount === 1 ? x0 : x0 + (span * i) / (xCount - 1);
    const anchor = xCount > 1 && i === 0 ? 'start' : xCount > 1 && i === xCount - 1 ? 'end' : 'middle';
    xLabels.push(svg('text', {x: sx(x), y: margin.top + h + 18, 'text-anchor': anchor,
      class: 'x-label'}, fmtClock(x)));
  }
  const path = sorted.map((p, i) => `${i === 0 ? 'M' : 'L'} ${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`)
    .join(' ');
  const dots = sorted.map((p) => svg('circle', {
    cx: sx(p.x), cy: sy(p.y), r: p.marker === 'savepoint' ? 5 : 3.2,
    class: `dot ${p.marker ?? ''}`.trim(),
  }, svg('title', null, `${p.label ? `${p.label}: ` : ''}${format(p.y)} at ${fmtClock(p.x)}`)));
  box.append(svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': title},
  svg('g', {class: 'grid'}, grid),
  svg('line', {class: 'axis', x1: margin.left, x2: margin.left + w, y1: margin.top + h,
    y2: margin.top + h}),
  xLabels,
  svg('path', {class: 'series', d: path}),
  dots));
  return box;
}
