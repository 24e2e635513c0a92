// The "Why is this slow?" panel: the verdict of why_slow_logic.js in words, and (in its own tab)
// the figures it was drawn from.

import {DataTable} from '../table.js';
import {el, fmtPercent, setChildren} from '../util.js';
import {whySlow} from '../why_slow_logic.js';
import {whySlowInput} from '../job_metrics.js';

const TITLES = {
  'not-running': 'Not running',
  'no-metrics': 'Waiting for metrics',
  ok: 'No back pressure',
  bottleneck: 'Bottleneck found',
  unclear: 'Back pressure of unclear origin',
};

//! The verdict for a job's details and gathered figures.
export function verdictOf(details, figures) {
  return whySlow(whySlowInput(details, figures));
}

/**
 * @param {{detailed?: boolean, onShowDetails?: function(): void}} o detailed: with the table of
 *     figures per vertex
 */
export function createWhySlowPanel({detailed = false, onShowDetails} = {}) {
  const title = el('span', {class: 'why-title'});
  const message = el('p', {class: 'why-message', dataset: {test: 'why-slow-message'}});
  const others = el('ul', {class: 'why-others'});
  const more = onShowDetails
    ? el('button', {type: 'button', class: 'link-button', onclick: onShowDetails}, 'Show the figures')
    : null;
  const element = el('section', {class: 'why-slow', dataset: {test: 'why-slow'}},
    el('h2', null, 'Why is this slow? ', title), message, others, more);
  let table = null;
  if (detailed) {
    table = new DataTable({
      columns: [
        {key: 'name', label: 'Vertex', render: (r) => el('span', null, r.name,
          r.role ? el('span', {class: `role role-${r.role}`}, r.role) : null)},
        {key: 'level', label: 'Back pressure', value: (r) => r.ratio ?? -1,
          render: (r) => (r.level ? el('span', {class: `bp-chip bp-${r.level}`},
            `${r.level} ${fmtPercent(r.ratio)}`) : '–'),
          title: 'backpressure-level and the max ratio over the subtasks'},
        {key: 'busy', label: 'Busy (max)', className: 'num', value: (r) => r.busy ?? -1,
          render: (r) => fmtPercent(r.busy), title: 'busyTimeMsPerSecond, max over the subtasks'},
        {key: 'busyAvg', label: 'Busy (avg)', className: 'num', value: (r) => r.busyAvg ?? -1,
          render: (r) => fmtPercent(r.busyAvg)},
        {key: 'idle', label: 'Idle (max)', className: 'num', value: (r) => r.idle ?? -1,
          render: (r) => fmtPercent(r.idle)},
      ],
      rowKey: (r) => r.id,
      emptyText: 'No vertex figures yet.',
      rowClass: (r) => (r.role === 'bottleneck' ? 'row-bottleneck' : ''),
    });
    element.append(
      el('p', {class: 'muted small'}, 'A vertex is back-pressured when its back pressure level ' +
        'is low or high: it waits for its output. The bottleneck is the busiest vertex ' +
        'downstream of the back-pressured ones (busy time: max over its subtasks).'),
      table.element);
  }

  function render(details, figures) {
    const verdict = verdictOf(details, figures);
    element.className = `why-slow why-${verdict.severity}`;
    element.dataset.kind = verdict.kind;
    element.dataset.bottleneck = verdict.bottleneck?.name ?? '';
    title.textContent = `— ${TITLES[verdict.kind] ?? verdict.kind}`;
    message.textContent = verdict.message;
    setChildren(others, verdict.others.map((o) => el('li', null, o)));
    if (more) more.hidden = verdict.kind === 'not-running';
    if (table) {
      const waiting = new Set(verdict.waiting.map((w) => w.id));
      table.setRows((details.vertices ?? []).map((v) => {
        const f = figures?.[v.id] ?? {};
        let role = '';
        if (v.id === verdict.bottleneck?.id) role = 'bottleneck';
        else if (waiting.has(v.id)) role = 'waiting';
        return {
          id: v.id, name: v.name, role, level: f.backPressureLevel, ratio: f.backPressureRatio,
          busy: Number.isFinite(f.busyMsPerSecond) ? f.busyMsPerSecond / 1000 : null,
          busyAvg: Number.isFinite(f.busyAvgMsPerSecond) ? f.busyAvgMsPerSecond / 1000 : null,
          idle: Number.isFinite(f.idleMsPerSecond) ? f.idleMsPerSecond / 1000 : null,
        };
      }));
    }
    return verdict;
  }

  return {element, render};
}
