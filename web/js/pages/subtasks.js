// The subtasks tab: one collapsible section per vertex (collapsed by default, so a job with
// parallelism 64 stays light); an opened section shows a table of its subtasks (status,
// TaskManager, records, busy and back-pressured ratios), updated in place on each refresh.

import {api} from '../api.js';
import {href} from '../router.js';
import {DataTable} from '../table.js';
import {badge, el, errorText, fmtBytes, fmtCount, fmtDuration, fmtPercent, fmtTime, setChildren}
  from '../util.js';
import {taskChips} from './job_tables.js';

function subtaskTable() {
  const m = (r, k) => Number(r.s.metrics?.[k] ?? NaN);
  const ratio = (r, k) => (r.bp && Number.isFinite(Number(r.bp[k])) ? Number(r.bp[k]) : -1);
  return new DataTable({
    columns: [
      {key: 'subtask', label: '#', className: 'num', value: (r) => r.s.subtask},
      {key: 'status', label: 'Status', value: (r) => r.s.status, render: (r) => badge(r.s.status)},
      {key: 'attempt', label: 'Attempt', className: 'num', value: (r) => r.s.attempt},
      {key: 'tm', label: 'TaskManager', value: (r) => r.s['taskmanager-id'] ?? '',
        render: (r) => (r.s['taskmanager-id']
          ? el('a', {href: href('taskmanagers', r.s['taskmanager-id'])}, r.s['taskmanager-id'])
          : '–')},
      {key: 'start', label: 'Start time', value: (r) => r.s['start-time'],
        render: (r) => fmtTime(r.s['start-time'])},
      {key: 'duration', label: 'Duration', className: 'num', value: (r) => r.s.duration,
        render: (r) => fmtDuration(r.s.duration)},
      {key: 'rin', label: 'Records in', className: 'num', value: (r) => m(r, 'read-records'),
        render: (r) => fmtCount(m(r, 'read-records'))},
      {key: 'rout', label: 'Records out', className: 'num', value: (r) => m(r, 'write-records'),
        render: (r) => fmtCount(m(r, 'write-records'))},
      {key: 'bin', label: 'Bytes in', className: 'num', value: (r) => m(r, 'read-bytes'),
        render: (r) => fmtBytes(m(r, 'read-bytes'))},
      {key: 'bout', label: 'Bytes out', className: 'num', value: (r) => m(r, 'write-bytes'),
        render: (r) => fmtBytes(m(r, 'write-bytes'))},
      {key: 'busy', label: 'Busy', className: 'num', value: (r) => ratio(r, 'busyRatio'),
        render: (r) => fmtPercent(r.bp ? Number(r.bp.busyRatio) : NaN)},
      {key: 'bp', label: 'Back-pressured', className: 'num', value: (r) => ratio(r, 'ratio'),
        render: (r) => (r.bp
          ? el('span', {class: `bp-chip bp-${r.bp['backpressure-level']}`}, fmtPercent(Number(r.bp.ratio)))
          : '–')},
      {key: 'idle', label: 'Idle', className: 'num', value: (r) => ratio(r, 'idleRatio'),
        render: (r) => fmtPercent(r.bp ? Number(r.bp.idleRatio) : NaN)},
    ],
    rowKey: (r) => r.s.subtask,
    sort: {key: 'subtask', dir: 'asc'},
    emptyText: 'No subtasks.',
    className: 'compact subtasks',
  });
}

export function createSubtasksTab(jobId, pageState) {
  const sections = new Map(); // vertex id -> {details, summary, table, body, error}
  const list = el('div', {class: 'vertex-sections'});
  const expandAll = el('button', {type: 'button', class: 'btn btn-small'}, 'Expand all');
  const collapseAll = el('button', {type: 'button', class: 'btn btn-small'}, 'Collapse all');
  const element = el('div', null,
    el('div', {class: 'toolbar'}, el('span', {class: 'muted'},
      'Open a vertex to see its subtasks. Busy, back-pressured and idle: share of the last second.'),
    expandAll, collapseAll),
    list);
  let lastDetails = null;

  async function loadSection(vertexId, sec) {
    const base = `/jobs/${encodeURIComponent(jobId)}/vertices/${encodeURIComponent(vertexId)}`;
    try {
      const [vertex, bp] = await Promise.all([
        api.get(base),
        api.get(`${base}/backpressure`).catch(() => null),
      ]);
      const bpBySubtask = new Map((bp?.subtasks ?? []).map((s) => [s.subtask, s]));
      sec.error.hidden = true;
      sec.table.setRows((vertex.subtasks ?? []).map((s) => ({s, bp: bpBySubtask.get(s.subtask)})));
    } catch (e) {
      sec.error.textContent = `Cannot read the subtasks: ${errorText(e)}`;
      sec.error.hidden = false;
      throw e;
    }
  }

  function section(v) {
    let sec = sections.get(v.id);
    if (sec) return sec;
    const table = subtaskTable();
    const error = el('p', {class: 'error', hidden: true});
    const summaryText = el('span', {class: 'vertex-summary'});
    const details = el('details', {class: 'vertex-section', dataset: {vertexId: v.id}},
      el('summary', null, summaryText),
      error,
      table.element);
    sec = {details, summaryText, table, error, loaded: false};
    details.addEventListener('toggle', () => {
      if (details.open) loadSection(v.id, sec).catch(() => {});
    });
    sections.set(v.id, sec);
    return sec;
  }

  expandAll.addEventListener('click', () => {
    for (const sec of sections.values()) sec.details.open = true;
  });
  collapseAll.addEventListener('click', () => {
    for (const sec of sections.values()) sec.details.open = false;
  });

  return {
    element,
    async refresh(details) {
      lastDetails = details;
      const vertices = details.vertices ?? [];
      const keep = new Set();
      const nodes = [];
      for (const v of vertices) {
        const sec = section(v);
        keep.add(v.id);
        setChildren(sec.summaryText,
          el('strong', null, v.name), ' ',
          el('span', {class: 'muted'}, `parallelism ${v.parallelism}`), ' ',
          badge(v.status), ' ',
          taskChips(Object.fromEntries(Object.entries(v.tasks ?? {})
            .map(([k, n]) => [k.toLowerCase(), n]))));
        nodes.push(sec.details);
      }
      for (const id of [...sections.keys()]) {
        if (!keep.has(id)) sections.delete(id);
      }
      // Keep the order of the job's vertices without re-creating the sections.
      if (nodes.length !== list.children.length || nodes.some((n, i) => list.children[i] !== n)) {
        setChildren(list, nodes);
      }
      if (pageState.focusVertex && sections.has(pageState.focusVertex)) {
        const sec = sections.get(pageState.focusVertex);
        pageState.focusVertex = null;
        sec.details.open = true;
        sec.details.scrollIntoView({block: 'nearest'});
      }
      const open = vertices.filter((v) => sections.get(v.id).details.open);
      await Promise.all(open.map((v) => loadSection(v.id, sections.get(v.id))));
      return lastDetails;
    },
  };
}
