// Job list: every job in a compact table, sortable by any column and filtered by text and state.

import {api} from '../api.js';
import {el, setChildren} from '../util.js';
import {jobTable} from './job_tables.js';

const STATE_GROUPS = {
  all: () => true,
  running: (s) => !['FINISHED', 'CANCELED', 'FAILED'].includes(s),
  finished: (s) => s === 'FINISHED',
  canceled: (s) => s === 'CANCELED',
  failed: (s) => s === 'FAILED',
};

// Kept across visits of the page.
const saved = {text: '', state: 'all'};

export function mount(root) {
  const table = jobTable({testId: 'job-list', ended: true, showId: true,
    emptyText: 'No job matches.'});
  const text = el('input', {type: 'search', placeholder: 'Filter by name, id or state',
    'aria-label': 'Filter jobs', value: saved.text, dataset: {test: 'job-filter'}});
  const state = el('select', {'aria-label': 'Job state'},
    Object.keys(STATE_GROUPS).map((k) => el('option', {value: k}, k[0].toUpperCase() + k.slice(1))));
  state.value = saved.state;
  const count = el('span', {class: 'muted'});
  let all = [];

  const apply = () => {
    saved.text = text.value;
    saved.state = state.value;
    const needle = text.value.trim().toLowerCase();
    const group = STATE_GROUPS[state.value] ?? STATE_GROUPS.all;
    table.setFilter((j) => group(j.state) && (needle === '' ||
      `${j.name} ${j.jid} ${j.state}`.toLowerCase().includes(needle)));
    const shown = table.visibleRows().length;
    count.textContent = `${shown} of ${all.length} job${all.length === 1 ? '' : 's'}`;
  };
  text.addEventListener('input', apply);
  state.addEventListener('change', apply);

  setChildren(root,
    el('h1', null, 'Jobs'),
    el('div', {class: 'toolbar'}, text, state, count),
    el('section', {class: 'panel'}, table.element));
  apply();

  return {
    async refresh() {
      const jobs = await api.get('/jobs/overview');
      all = Array.isArray(jobs.jobs) ? jobs.jobs : [];
      table.setRows(all);
      apply();
    },
  };
}
