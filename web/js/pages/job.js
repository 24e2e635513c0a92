// The job page: header with the actions, and tabs (overview with the graph, subtasks,
// checkpoints, exceptions, configuration, why is this slow?). Tabs are made on first visit and
// keep their state while the page is open; only the visible one refreshes.

import {api, ApiError} from '../api.js';
import {gatherVertexFigures} from '../job_metrics.js';
import {href, JOB_TABS} from '../router.js';
import {DataTable} from '../table.js';
import {badge, el, fmtBytes, fmtCount, fmtDuration, fmtPercent, fmtTime, fmtWatermark,
  isEndedJob, setChildren} from '../util.js';
import {createCheckpointsTab} from './checkpoints.js';
import {createExceptionsTab} from './exceptions.js';
import {createGraph} from './graph.js';
import {createJobActions} from './job_actions.js';
import {createConfigTab} from './job_config.js';
import {createSubtasksTab} from './subtasks.js';
import {createWhySlowPanel} from './why_slow.js';

const TAB_LABELS = {
  overview: 'Overview',
  subtasks: 'Subtasks',
  checkpoints: 'Checkpoints',
  exceptions: 'Exceptions',
  configuration: 'Configuration',
  'why-slow': 'Why is this slow?',
};

function vertexTable() {
  const num = (fn) => (r) => {
    const x = fn(r);
    return Number.isFinite(x) ? x : -1;
  };
  return new DataTable({
    columns: [
      {key: 'name', label: 'Vertex', value: (r) => r.v.name,
        render: (r) => el('a', {href: href('jobs', r.jobId, 'subtasks'), title: r.v.name,
          onclick: () => r.select(r.v.id)}, r.v.name)},
      {key: 'status', label: 'Status', value: (r) => r.v.status, render: (r) => badge(r.v.status)},
      {key: 'parallelism', label: 'Par.', className: 'num', value: (r) => r.v.parallelism,
        title: 'Parallelism'},
      {key: 'rin', label: 'Records in', className: 'num',
        value: num((r) => r.v.metrics?.['read-records']), render: (r) => fmtCount(r.v.metrics?.['read-records'])},
      {key: 'rout', label: 'Records out', className: 'num',
        value: num((r) => r.v.metrics?.['write-records']), render: (r) => fmtCount(r.v.metrics?.['write-records'])},
      {key: 'bin', label: 'Bytes in', className: 'num',
        value: num((r) => r.v.metrics?.['read-bytes']), render: (r) => fmtBytes(r.v.metrics?.['read-bytes'])},
      {key: 'bout', label: 'Bytes out', className: 'num',
        value: num((r) => r.v.metrics?.['write-bytes']), render: (r) => fmtBytes(r.v.metrics?.['write-bytes'])},
      {key: 'inrate', label: 'In rec/s', className: 'num', value: num((r) => r.f?.recordsInPerSecond),
        render: (r) => (r.f && Number.isFinite(r.f.recordsInPerSecond) ? fmtCount(r.f.recordsInPerSecond) : '–'),
        title: 'numRecordsInPerSecond, summed over the subtasks (last report)'},
      {key: 'rate', label: 'Out rec/s', className: 'num', value: num((r) => r.f?.recordsOutPerSecond),
        render: (r) => (r.f && Number.isFinite(r.f.recordsOutPerSecond) ? fmtCount(r.f.recordsOutPerSecond) : '–'),
        title: 'Records sent per second (all subtasks), averaged over the last 30 s'},
      {key: 'busy', label: 'Busy', className: 'num', value: num((r) => r.f?.busyMsPerSecond),
        render: (r) => fmtPercent((r.f?.busyMsPerSecond ?? NaN) / 1000),
        title: 'busyTimeMsPerSecond, max over the subtasks'},
      {key: 'bp', label: 'Back pressure', value: num((r) => r.f?.backPressureRatio),
        render: (r) => (r.f?.backPressureLevel
          ? el('span', {class: `bp-chip bp-${r.f.backPressureLevel}`},
            `${r.f.backPressureLevel} ${fmtPercent(r.f.backPressureRatio)}`)
          : '–')},
      {key: 'wm', label: 'Input watermark', value: num((r) => r.f?.watermark),
        render: (r) => (r.f ? fmtWatermark(r.f.watermark) : '–')},
      {key: 'duration', label: 'Duration', className: 'num', value: (r) => r.v.duration,
        render: (r) => fmtDuration(r.v.duration)},
    ],
    rowKey: (r) => r.v.id,
    emptyText: 'The job has no vertices.',
    testId: 'vertex-table',
    className: 'compact',
  });
}

export function mount(root, params, app) {
  const jobId = params.jobId;
  const state = {
    tab: params.tab,
    details: null,
    figures: null, // per vertex, from gatherVertexFigures
    figuresAt: 0,
    focusVertex: null, // expanded on the subtasks tab
  };

  const title = el('h1', {class: 'job-title'}, jobId);
  const stateBadge = el('span');
  const info = el('div', {class: 'job-info muted'});
  const notes = el('div', {class: 'job-notes'});
  const actions = createJobActions(jobId, app);
  const tabNav = el('nav', {class: 'tabs', 'aria-label': 'Job tabs'},
    JOB_TABS.map((t) => el('a', {href: href('jobs', jobId, t), dataset: {tab: t}}, TAB_LABELS[t])));
  const tabBody = el('div', {class: 'tab-body'});
  const notFound = el('div', {class: 'notice', hidden: true});
  setChildren(root,
    el('div', {class: 'job-header'},
      el('div', {class: 'job-heading'}, el('div', {class: 'title-row'}, title, stateBadge), info),
      actions.buttons),
    actions.list,
    notes,
    notFound,
    tabNav,
    tabBody);

  const select = (vertexId) => {
    state.focusVertex = vertexId;
  };

  // Tab factories: each returns {element, refresh(details): Promise, unmount?()}.
  const factories = {
    overview: () => {
      const why = createWhySlowPanel({
        onShowDetails: () => {
          location.hash = href('jobs', jobId, 'why-slow');
        },
      });
      const graph = createGraph({
        onSelect: (id) => {
          select(id);
          location.hash = href('jobs', jobId, 'subtasks');
        },
      });
      const table = vertexTable();
      return {
        element: el('div', null, why.element,
          el('section', {class: 'panel'}, el('h2', null, 'Job graph'), graph.element),
          el('section', {class: 'panel'}, el('h2', null, 'Vertices'), table.element)),
        async refresh(details) {
          await loadFigures(details);
          const verdict = why.render(details, state.figures);
          graph.render(details, state.figures, verdict);
          table.setRows((details.vertices ?? []).map((v) => ({
            v, jobId, select,
            f: details.state === 'RUNNING' ? state.figures?.[v.id] : null,
          })));
        },
      };
    },
    'why-slow': () => {
      const why = createWhySlowPanel({detailed: true});
      return {
        element: why.element,
        async refresh(details) {
          await loadFigures(details);
          why.render(details, state.figures);
        },
      };
    },
    subtasks: () => createSubtasksTab(jobId, state),
    checkpoints: () => createCheckpointsTab(jobId),
    exceptions: () => createExceptionsTab(jobId),
    configuration: () => createConfigTab(jobId),
  };
  const tabs = new Map();

  async function loadFigures(details) {
    if (details.state !== 'RUNNING') {
      state.figures = null;
      return;
    }
    // Both the overview and the why-slow tab need them: gathered once per refresh.
    if (state.figures && state.figuresAt === details.now) return;
    state.figures = await gatherVertexFigures(details, state.figures);
    state.figuresAt = details.now;
  }

  function showTab() {
    for (const a of tabNav.querySelectorAll('a')) {
      const active = a.dataset.tab === state.tab;
      a.classList.toggle('active', active);
      if (active) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (!tabs.has(state.tab)) {
      const tab = factories[state.tab]();
      tabs.set(state.tab, tab);
      tabBody.append(tab.element);
    }
    for (const [name, tab] of tabs) tab.element.hidden = name !== state.tab;
  }

  function renderHeader(d) {
    title.textContent = d.name || d.jid;
    title.title = d.jid;
    setChildren(stateBadge, badge(d.state));
    stateBadge.dataset.test = 'job-state';
    stateBadge.dataset.state = d.state;
    const parts = [`ID ${d.jid}`, `started ${fmtTime(d['start-time'])}`];
    if (isEndedJob(d.state)) parts.push(`ended ${fmtTime(d['end-time'])}`);
    parts.push(`${isEndedJob(d.state) ? 'ran' : 'running for'} ${fmtDuration(d.duration)}`);
    info.textContent = parts.join(' · ');
    const children = [];
    if (d['failure-cause']) {
      children.push(el('div', {class: 'notice notice-bad'}, el('strong', null, 'Failure cause: '),
        el('pre', {class: 'inline-pre'}, String(d['failure-cause']))));
    }
    if (d.rescale) {
      children.push(el('div', {class: 'notice notice-info'}, el('strong', null, 'Rescaling: '),
        String(d.rescale)));
    }
    setChildren(notes, children);
    actions.update(d);
  }

  showTab();

  return {
    update(p) {
      state.tab = p.tab;
      showTab();
    },
    async refresh() {
      let details;
      try {
        details = await api.get(`/jobs/${encodeURIComponent(jobId)}`);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          notFound.hidden = false;
          notFound.textContent = `There is no job ${jobId} on this cluster (it may have been ` +
            'removed from the history).';
          tabBody.hidden = true;
          tabNav.hidden = true;
          actions.buttons.hidden = true;
          return;
        }
        throw e;
      }
      notFound.hidden = true;
      tabBody.hidden = false;
      tabNav.hidden = false;
      actions.buttons.hidden = false;
      state.details = details;
      renderHeader(details);
      const tab = tabs.get(state.tab);
      if (tab) await tab.refresh(details);
    },
    unmount() {
      actions.unmount();
      for (const tab of tabs.values()) {
        if (tab.unmount) tab.unmount();
      }
    },
  };
}
