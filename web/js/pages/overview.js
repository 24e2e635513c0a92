// Overview: slots, TaskManagers, jobs by state; running and ended jobs.

import {api} from '../api.js';
import {el, isEndedJob, setChildren} from '../util.js';
import {jobTable} from './job_tables.js';

function card(label, testId, extraClass = '') {
  const value = el('div', {class: 'card-value', dataset: {test: testId}}, '–');
  const node = el('div', {class: `card ${extraClass}`.trim()}, value, el('div', {class: 'card-label'}, label));
  return {node, value};
}

export function mount(root) {
  const cards = {
    taskmanagers: card('TaskManagers', 'taskmanagers', 'card-neutral'),
    slotsTotal: card('Slots total', 'slots-total', 'card-neutral'),
    slotsAvailable: card('Slots available', 'slots-available', 'card-neutral'),
    running: card('Running jobs', 'jobs-running', 'card-running'),
    finished: card('Finished jobs', 'jobs-finished', 'card-finished'),
    cancelled: card('Cancelled jobs', 'jobs-cancelled', 'card-canceled'),
    failed: card('Failed jobs', 'jobs-failed', 'card-failed'),
  };
  const running = jobTable({testId: 'running-jobs', emptyText: 'No job is running.'});
  const ended = jobTable({testId: 'ended-jobs', ended: true, emptyText: 'No job has ended yet.'});
  setChildren(root,
    el('h1', null, 'Overview'),
    el('section', {class: 'cards'}, Object.values(cards).map((c) => c.node)),
    el('section', {class: 'panel'}, el('h2', null, 'Running jobs'), running.element),
    el('section', {class: 'panel'}, el('h2', null, 'Ended jobs'), ended.element));

  return {
    async refresh() {
      const [overview, jobs] = await Promise.all([api.get('/overview'), api.get('/jobs/overview')]);
      cards.taskmanagers.value.textContent = String(overview.taskmanagers ?? '–');
      cards.slotsTotal.value.textContent = String(overview['slots-total'] ?? '–');
      cards.slotsAvailable.value.textContent = String(overview['slots-available'] ?? '–');
      cards.running.value.textContent = String(overview['jobs-running'] ?? '–');
      cards.finished.value.textContent = String(overview['jobs-finished'] ?? '–');
      cards.cancelled.value.textContent = String(overview['jobs-cancelled'] ?? '–');
      cards.failed.value.textContent = String(overview['jobs-failed'] ?? '–');
      const list = Array.isArray(jobs.jobs) ? jobs.jobs : [];
      running.setRows(list.filter((j) => !isEndedJob(j.state)));
      ended.setRows(list.filter((j) => isEndedJob(j.state)));
    },
  };
}
