// TaskManagers: a table (slots, memory, network buffers as a bar, last heartbeat), and a detail
// page per TaskManager with its metrics, its slots' jobs and its logs.

import {api, ApiError} from '../api.js';
import {href} from '../router.js';
import {DataTable} from '../table.js';
import {bar, el, fmtAgo, fmtBytes, fmtDuration, setChildren} from '../util.js';

function networkBar(m) {
  if (!m) return el('span', {class: 'muted'}, '–');
  const used = Number(m.nettyShuffleMemorySegmentsUsed ?? 0);
  const total = Number(m.nettyShuffleMemorySegmentsTotal ?? 0);
  return bar(used, total, `${used} / ${total} buffers (${fmtBytes(Number(m.nettyShuffleMemoryUsed))} ` +
    `of ${fmtBytes(Number(m.nettyShuffleMemoryTotal))})`);
}

export function mountList(root) {
  const table = new DataTable({
    columns: [
      {key: 'id', label: 'TaskManager', render: (t) => el('a', {href: href('taskmanagers', t.id)}, t.id)},
      {key: 'path', label: 'Address', render: (t) => el('code', null, t.path ?? '')},
      {key: 'slots', label: 'Slots used', value: (t) => t.slotsNumber - t.freeSlots,
        render: (t) => bar(t.slotsNumber - t.freeSlots, t.slotsNumber,
          `${t.slotsNumber - t.freeSlots} / ${t.slotsNumber} used`)},
      {key: 'freeSlots', label: 'Free slots', className: 'num'},
      {key: 'cpu', label: 'CPU cores', className: 'num', value: (t) => t.hardware?.cpuCores},
      {key: 'physical', label: 'Physical memory', className: 'num',
        value: (t) => Number(t.hardware?.physicalMemory ?? 0),
        render: (t) => fmtBytes(Number(t.hardware?.physicalMemory))},
      {key: 'rss', label: 'Memory (RSS)', className: 'num',
        value: (t) => Number(t.metrics?.rssBytes ?? -1), render: (t) => fmtBytes(Number(t.metrics?.rssBytes))},
      {key: 'network', label: 'Network buffers', sortable: true,
        value: (t) => Number(t.metrics?.nettyShuffleMemorySegmentsUsed ?? -1),
        render: (t) => networkBar(t.metrics)},
      {key: 'heartbeat', label: 'Last heartbeat', className: 'num',
        value: (t) => Number(t.timeSinceLastHeartbeat ?? 0),
        render: (t) => fmtAgo(Number(t.timeSinceLastHeartbeat))},
    ],
    rowKey: (t) => t.id,
    sort: {key: 'id', dir: 'asc'},
    emptyText: 'No TaskManager is registered.',
    testId: 'taskmanager-table',
  });
  setChildren(root, el('h1', null, 'TaskManagers'), el('section', {class: 'panel'}, table.element));
  return {
    async refresh() {
      const list = (await api.get('/taskmanagers')).taskmanagers ?? [];
      // RSS and network buffers are in each TaskManager's details.
      const details = await Promise.all(list.map((t) =>
        api.get(`/taskmanagers/${encodeURIComponent(t.id)}`).catch(() => null)));
      table.setRows(list.map((t, i) => ({...t, metrics: details[i]?.metrics})));
    },
  };
}

function kv(rows) {
  return el('table', {class: 'data kv'}, el('tbody', null, rows.map(([k, v]) =>
    el('tr', null, el('th', {scope: 'row'}, k), el('td', null, v instanceof Node ? v : String(v ?? '–'))))));
}

export function logList(logs, linkOf) {
  if (!logs || logs.length === 0) return el('p', {class: 'muted'}, 'No log file.');
  const table = new DataTable({
    columns: [
      {key: 'name', label: 'File', render: (l) => el('a', {href: linkOf(l.name),
        dataset: {test: 'log-link'}}, l.name)},
      {key: 'size', label: 'Size', className: 'num', render: (l) => fmtBytes(Number(l.size))},
      {key: 'mtime', label: 'Modified', className: 'num', value: (l) => Number(l.mtime),
        render: (l) => fmtAgo(Number(l.mtime))},
    ],
    rowKey: (l) => l.name,
    sort: {key: 'name', dir: 'asc'},
    className: 'compact',
  });
  table.setRows(logs);
  return table.element;
}

export function mountDetail(root, params) {
  const tmId = params.tmId;
  const info = el('section', {class: 'panel'});
  const metrics = el('section', {class: 'panel'});
  const slots = el('section', {class: 'panel'});
  const logs = el('section', {class: 'panel'});
  setChildren(root,
    el('p', {class: 'crumbs'}, el('a', {href: '#/taskmanagers'}, 'TaskManagers'), ' / ', tmId),
    el('h1', null, `TaskManager ${tmId}`),
    el('div', {class: 'two-columns'}, info, metrics),
    el('div', {class: 'two-columns'}, slots, logs));
  return {
    async refresh() {
      let t;
      try {
        t = await api.get(`/taskmanagers/${encodeURIComponent(tmId)}`);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          setChildren(info, el('p', {class: 'notice'},
            `TaskManager ${tmId} is not registered (it may have stopped or timed out).`));
          return;
        }
        throw e;
      }
      const m = t.metrics ?? {};
      setChildren(info, el('h2', null, 'TaskManager'), kv([
        ['ID', t.id],
        ['RPC address', t.path],
        ['Data address', t.dataAddress],
        ['Slots', `${t.slotsNumber} (${t.freeSlots} free)`],
        ['CPU cores', t.hardware?.cpuCores],
        ['Physical memory', fmtBytes(Number(t.hardware?.physicalMemory))],
        ['Last heartbeat', fmtAgo(Number(t.timeSinceLastHeartbeat))],
      ]));
      setChildren(metrics, el('h2', null, 'Metrics'), kv([
        ['Memory (RSS)', fmtBytes(Number(m.rssBytes))],
        ['Virtual memory', fmtBytes(Number(m.virtualMemoryBytes))],
        ['CPU time', fmtDuration(Number(m.cpuTimeMs))],
        ['Threads', m.threads],
        ['Network buffers', networkBar(m)],
        ['Network buffers, peak used', m.nettyShuffleMemorySegmentsPeakUsed],
        ['Network buffer size', fmtBytes(Number(m.networkSegmentSize))],
      ]));
      const allocated = t.allocatedSlots ?? [];
      const names = new Map();
      if (allocated.length > 0) {
        const jobs = await api.get('/jobs/overview').catch(() => ({jobs: []}));
        for (const j of jobs.jobs ?? []) names.set(j.jid, j.name);
      }
      setChildren(slots, el('h2', null, 'Allocated slots'),
        allocated.length === 0 ? el('p', {class: 'muted'}, 'No slot is in use.')
          : el('ul', {class: 'plain'}, allocated.map((s, i) => el('li', null, `Slot ${i + 1}: `,
            el('a', {href: href('jobs', s.jobId)}, names.get(s.jobId) ?? s.jobId), ' ',
            el('code', {class: 'id'}, s.jobId)))));
      let logFiles = null;
      let logError = '';
      try {
        logFiles = (await api.get(`/taskmanagers/${encodeURIComponent(tmId)}/logs`)).logs ?? [];
      } catch (e) {
        logError = e.message;
      }
      setChildren(logs, el('h2', null, 'Logs'), logError
        ? el('p', {class: 'error'}, `Cannot list the logs: ${logError}`)
        : logList(logFiles, (name) => href('logs', 'taskmanagers', tmId, name)));
    },
  };
}
