// DOM helpers and formatting. Every string from the server (job names, exception texts, log
// lines) goes into the page as text: el() sets textContent and attributes, never innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyAttrs(node, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') {
      node.textContent = String(value);
    } else if (key === 'class') {
      node.setAttribute('class', value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
    } else if (key === 'style' && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) node.style.setProperty(k, String(v));
    } else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) {
      node.setAttribute(key, '');
    } else {
      node.setAttribute(key, String(value));
    }
  }
}

function appendChildren(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

//! An HTML element: el('td', {class: 'num'}, 'text', otherNode). Strings become text nodes.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  applyAttrs(node, attrs);
  appendChildren(node, children);
  return node;
}

//! An SVG element, as el().
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  applyAttrs(node, attrs);
  appendChildren(node, children);
  return node;
}

//! Replaces the children of `node` with `children`.
export function setChildren(node, ...children) {
  node.replaceChildren();
  appendChildren(node, children);
  return node;
}

//! The text with HTML's special characters escaped, for the rare place that needs markup.
export function escapeHtml(value) {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

//! A path segment for a hash route or a REST path, encoded.
export function seg(value) {
  return encodeURIComponent(String(value));
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

//! Epoch ms as local "YYYY-MM-DD HH:MM:SS"; "–" for none (<= 0).
export function fmtTime(ms) {
  if (!Number.isFinite(ms) || ms <= 0) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

//! Epoch ms as local "HH:MM:SS".
export function fmtClock(ms) {
  if (!Number.isFinite(ms) || ms <= 0) return '–';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

//! A duration in ms as "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 04h".
export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(s < 10 ? 2 : 1))} s`;
  const total = Math.floor(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  return `${m}m ${pad(sec)}s`;
}

//! Bytes as "512 B", "1.5 KiB", "30.2 MiB".
export function fmtBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${Number(v.toFixed(v < 10 ? 2 : 1))} ${units[i]}`;
}

//! A count as "950", "12.3k", "4.56M".
export function fmtCount(n) {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 1000) return Number.isInteger(n) ? String(n) : n.toFixed(a < 10 ? 1 : 0);
  if (a < 1e6) return `${(n / 1e3).toFixed(a < 1e4 ? 2 : 1)}k`;
  if (a < 1e9) return `${(n / 1e6).toFixed(a < 1e7 ? 2 : 1)}M`;
  return `${(n / 1e9).toFixed(2)}G`;
}

//! A ratio 0..1 as "42%"; "–" when unknown.
export function fmtPercent(ratio) {
  if (!Number.isFinite(ratio)) return '–';
  return `${Math.round(ratio * 100)}%`;
}

//! How long ago an epoch ms was, relative to `now`: "0.4 s ago".
export function fmtAgo(ms, now = Date.now()) {
  if (!Number.isFinite(ms) || ms <= 0) return '–';
  return `${fmtDuration(Math.max(0, now - ms))} ago`;
}

//! Flink's "no watermark" is Long.MIN_VALUE (-9223372036854775808), which JSON numbers round.
export function isNoWatermark(value) {
  const v = typeof value === 'string' ? Number(value) : value;
  return !Number.isFinite(v) || v <= -9.2e18 || v >= 9.2e18;
}

//! A watermark as a time ("2024-05-01 12:00:00.250"), or "none".
export function fmtWatermark(value) {
  if (isNoWatermark(value)) return 'none';
  const v = Number(value);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${fmtTime(v)}.${pad(d.getMilliseconds(), 3)}`;
}

//! A status word as a coloured badge.
export function badge(state) {
  const s = String(state ?? 'UNKNOWN');
  return el('span', {class: `badge state-${s.toLowerCase()}`}, s);
}

//! A horizontal bar showing used/total. `progress`: fuller is better (one colour), else fuller
//! is worse (green, amber, red).
export function bar(used, total, label, {progress = false} = {}) {
  const ratio = total > 0 ? Math.min(1, Math.max(0, used / total)) : 0;
  const level = progress ? (ratio >= 1 ? 'done' : 'progress')
    : ratio > 0.9 ? 'high' : ratio > 0.6 ? 'mid' : 'low';
  return el('div', {class: 'bar', title: label ?? `${used} / ${total}`},
    el('div', {class: `bar-fill bar-${level}`, style: {width: `${(ratio * 100).toFixed(1)}%`}}),
    el('span', {class: 'bar-label'}, label ?? `${used} / ${total}`));
}

//! The text of an error for a message line.
export function errorText(err) {
  if (!err) return 'unknown error';
  return err.message ? String(err.message) : String(err);
}

//! Whether a job state is final.
export function isEndedJob(state) {
  return state === 'FINISHED' || state === 'FAILED' || state === 'CANCELED';
}
