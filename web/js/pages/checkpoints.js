// The checkpoints tab: counts, the latest checkpoints, charts of duration and state size over
// time, and the history (a row opens the per-vertex details of that checkpoint).

import {api, getOr404} from '../api.js';
import {lineChart} from '../chart.js';
import {DataTable} from '../table.js';
import {badge, bar, el, errorText, fmtBytes, fmtDuration, fmtTime, setChildren} from '../util.js';

// Completed checkpoints seen while the dashboard is open, per job (the server keeps a short
// history; the charts show more).
const seen = new Map(); // jobId -> Map(id -> {x, duration, size, savepoint})
const MAX_POINTS = 300;

function remember(jobId, history) {
  if (!seen.has(jobId)) seen.set(jobId, new Map());
  const points = seen.get(jobId);
  for (const c of history) {
    if (c.status !== 'COMPLETED') continue;
    points.set(c.id, {x: Number(c.trigger_timestamp), duration: Number(c.end_to_end_duration),
      size: Number(c.state_size), savepoint: !!c.is_savepoint, id: c.id});
  }
  const ids = [...points.keys()].sort((a, b) => a - b);
  for (const id of ids.slice(0, Math.max(0, ids.length - MAX_POINTS))) points.delete(id);
  return [...points.values()];
}

function countCard(label, value, cls = '') {
  return el('div', {class: `card small ${cls}`.trim()},
    el('div', {class: 'card-value'}, String(value ?? '–')), el('div', {class: 'card-label'}, label));
}

function latestRow(label, c, extra) {
  if (!c) return el('tr', null, el('th', {scope: 'row'}, label), el('td', {colspan: 5, class: 'muted'}, 'none'));
  return el('tr', null,
    el('th', {scope: 'row'}, label),
    el('td', {class: 'num'}, `#${c.id}`),
    el('td', null, fmtTime(c.trigger_timestamp ?? c.restore_timestamp)),
    el('td', {class: 'num'}, c.end_to_end_duration !== undefined ? fmtDuration(c.end_to_end_duration) : '–'),
    el('td', {class: 'num'}, c.state_size !== undefined ? fmtBytes(c.state_size) : '–'),
    el('td', {class: 'path'}, extra ?? c.external_path ?? '–'));
}

function historyTable(onSelect) {
  return new DataTable({
    columns: [
      {key: 'id', label: 'ID', className: 'num',
        render: (c) => el('button', {type: 'button', class: 'link-button',
          onclick: () => onSelect(c.id)}, `#${c.id}`)},
      {key: 'status', label: 'Status', render: (c) => badge(c.status)},
      {key: 'type', label: 'Type', value: (c) => (c.is_savepoint ? 'savepoint' : 'checkpoint')},
      {key: 'trigger', label: 'Triggered', value: (c) => c.trigger_timestamp,
        render: (c) => fmtTime(c.trigger_timestamp)},
      {key: 'duration', label: 'End to end', className: 'num', value: (c) => c.end_to_end_duration,
        render: (c) => fmtDuration(c.end_to_end_duration)},
      {key: 'size', label: 'State size', className: 'num', value: (c) => c.state_size,
        render: (c) => fmtBytes(c.state_size)},
      {key: 'acks', label: 'Acknowledged', value: (c) => c.num_acknowledged_subtasks,
        render: (c) => bar(c.num_acknowledged_subtasks, c.num_subtasks,
          `${c.num_acknowledged_subtasks}/${c.num_subtasks}`, {progress: true})},
      {key: 'path', label: 'Path or failure', sortable: false,
        render: (c) => el('span', {class: 'path'}, c.failure_message ?? c.external_path ?? '')},
    ],
    rowKey: (c) => c.id,
    sort: {key: 'id', dir: 'desc'},
    emptyText: 'No checkpoint yet.',
    testId: 'checkpoint-history',
    className: 'compact',
  });
}

function detailsTable(job) {
  const names = new Map((job?.vertices ?? []).map((v) => [v.id, v.name]));
  return new DataTable({
    columns: [
      {key: 'name', label: 'Vertex', value: (t) => names.get(t.vertexId) ?? t.vertexId},
      {key: 'status', label: 'Status', render: (t) => badge(t.status)},
      {key: 'acks', label: 'Acknowledged', render: (t) => bar(t.num_acknowledged_subtasks,
        t.num_subtasks, `${t.num_acknowledged_subtasks}/${t.num_subtasks}`, {progress: true})},
      {key: 'duration', label: 'End to end', className: 'num', value: (t) => t.end_to_end_duration,
        render: (t) => fmtDuration(t.end_to_end_duration)},
      {key: 'size', label: 'State size', className: 'num', value: (t) => t.state_size,
        render: (t) => fmtBytes(t.state_size)},
      {key: 'ack', label: 'Latest acknowledgement', value: (t) => t.latest_ack_timestamp,
        render: (t) => fmtTime(t.latest_ack_timestamp)},
    ],
    rowKey: (t) => t.vertexId,
    className: 'compact',
  });
}

export function createCheckpointsTab(jobId) {
  const off = el('p', {class: 'notice', hidden: true});
  const counts = el('section', {class: 'cards', dataset: {test: 'checkpoint-counts'}});
  const latestBody = el('tbody');
  const charts = el('div', {class: 'charts'});
  let selected = null;
  let lastJob = null;
  const detailBox = el('section', {class: 'panel', hidden: true});
  const showDetails = async (id) => {
    selected = id;
    detailBox.hidden = false;
    setChildren(detailBox, el('h2', null, `Checkpoint #${id}`), el('p', {class: 'muted'}, 'Loading…'));
    try {
      const d = await api.get(`/jobs/${encodeURIComponent(jobId)}/checkpoints/details/${encodeURIComponent(id)}`);
      if (selected !== id) return;
      const table = detailsTable(lastJob);
      table.setRows(Object.entries(d.tasks ?? {}).map(([vertexId, t]) => ({vertexId, ...t})));
      setChildren(detailBox,
        el('div', {class: 'panel-head'}, el('h2', null, `Checkpoint #${id} `, badge(d.status)),
          el('button', {type: 'button', class: 'btn btn-small', onclick: () => {
            selected = null;
            detailBox.hidden = true;
          }}, 'Close')),
        el('p', {class: 'muted'}, `${d.is_savepoint ? 'Savepoint' : 'Checkpoint'} triggered ` +
          `${fmtTime(d.trigger_timestamp)}, ${fmtDuration(d.end_to_end_duration)} end to end, ` +
          `${fmtBytes(d.state_size)}${d.external_path ? `, at ${d.external_path}` : ''}.`),
        table.element);
    } catch (e) {
      if (selected === id) {
        setChildren(detailBox, el('h2', null, `Checkpoint #${id}`),
          el('p', {class: 'error'}, `Cannot read its details: ${errorText(e)}`));
      }
    }
  };
  const history = historyTable((id) => {
    showDetails(id).catch(() => {});
  });
  const content = el('div', null,
    counts,
    el('section', {class: 'panel'}, el('h2', null, 'Latest'),
      el('table', {class: 'data compact latest', dataset: {test: 'checkpoint-latest'}},
        el('thead', null, el('tr', null, el('th'), el('th', {class: 'num'}, 'ID'),
          el('th', null, 'Time'), el('th', {class: 'num'}, 'End to end'),
          el('th', {class: 'num'}, 'State size'), el('th', null, 'Path or failure'))),
        latestBody)),
    el('section', {class: 'panel'}, el('h2', null, 'Duration and state size over time'), charts),
    el('section', {class: 'panel'}, el('h2', null, 'History'), history.element),
    detailBox);
  const element = el('div', null, off, content);

  return {
    element,
    async refresh(job) {
      lastJob = job;
      const path = `/jobs/${encodeURIComponent(jobId)}`;
      const [data, config] = await Promise.all([
        getOr404(`${path}/checkpoints`),
        getOr404(`${path}/checkpoints/config`),
      ]);
      // Periodic checkpoints are off when the configuration is absent; savepoints may still exist.
      off.hidden = !!config;
      off.textContent = 'Periodic checkpointing is not enabled for this job (set ' +
        'execution.checkpointing.interval when submitting it).';
      const nothing = !data || (!config && !(Number(data.counts?.total) > 0));
      content.hidden = nothing;
      if (nothing) return;
      const c = data.counts ?? {};
      setChildren(counts,
        countCard('Triggered', c.total, 'card-neutral'),
        countCard('In progress', c.in_progress, 'card-running'),
        countCard('Completed', c.completed, 'card-finished'),
        countCard('Failed', c.failed, c.failed > 0 ? 'card-failed' : 'card-neutral'),
        countCard('Restored', c.restored, 'card-neutral'));
      const l = {...(data.latest ?? {})};
      const list = Array.isArray(data.history) ? data.history.map((c) => ({...c})) : [];
      setChildren(latestBody,
        latestRow('Completed checkpoint', l.completed),
        latestRow('Savepoint', l.savepoint),
        latestRow('Failed', l.failed, l.failed?.failure_message),
        latestRow('Restored', l.restored, l.restored
          ? `${l.restored.is_savepoint ? 'savepoint' : 'checkpoint'} ${l.restored.external_path ?? ''}`
          : undefined));
      history.setRows(list);
      const points = remember(jobId, list);
      setChildren(charts,
        lineChart({title: 'End-to-end duration', className: 'series-duration', testId: 'chart-duration',
          format: fmtDuration, unit: 'ms',
          points: points.map((p) => ({x: p.x, y: p.duration, label: `#${p.id}`,
            marker: p.savepoint ? 'savepoint' : ''}))}),
        lineChart({title: 'State size', className: 'series-size', testId: 'chart-size',
          format: fmtBytes, unit: 'bytes',
          points: points.map((p) => ({x: p.x, y: p.size, label: `#${p.id}`,
            marker: p.savepoint ? 'savepoint' : ''}))}));
    },
  };
}
