// Job tables shared by the overview and the job list.

import {href} from '../router.js';
import {DataTable} from '../table.js';
import {badge, el, fmtDuration, fmtTime} from '../util.js';

const TASK_STATES = ['running', 'deploying', 'initializing', 'scheduled', 'created', 'finished',
  'canceling', 'canceled', 'failed', 'reconciling'];

//! Non-zero task counts of a job as small coloured chips ("4 running").
export function taskChips(tasks) {
  const chips = el('span', {class: 'chips'});
  for (const s of TASK_STATES) {
    const n = Number(tasks?.[s] ?? 0);
    if (n > 0) chips.append(el('span', {class: `chip state-${s}`, title: `${n} ${s}`}, `${n} ${s}`));
  }
  if (!chips.firstChild) chips.append(el('span', {class: 'muted'}, 'no tasks'));
  return chips;
}

export function jobLink(job) {
  return el('a', {href: href('jobs', job.jid), class: 'job-link', title: job.jid},
    job.name || job.jid);
}

/**
 * A table of jobs (/jobs/overview entries).
 * @param {{testId?: string, ended?: boolean, showId?: boolean, emptyText?: string}} o
 */
export function jobTable({testId, ended = false, showId = false, emptyText}) {
  const columns = [
    {key: 'name', label: 'Job name', value: (j) => (j.name || j.jid).toLowerCase(),
      render: jobLink},
  ];
  if (showId) {
    columns.push({key: 'jid', label: 'Job ID', render: (j) => el('code', {class: 'id'}, j.jid)});
  }
  columns.push(
    {key: 'start-time', label: 'Start time', value: (j) => Number(j['start-time']) || 0,
      render: (j) => fmtTime(j['start-time'])});
  if (ended) {
    columns.push({key: 'end-time', label: 'End time', value: (j) => Number(j['end-time']) || 0,
      render: (j) => fmtTime(j['end-time'])});
  }
  columns.push(
    {key: 'duration', label: 'Duration', className: 'num', value: (j) => Number(j.duration) || 0,
      render: (j) => fmtDuration(j.duration)},
    {key: 'tasks', label: 'Tasks', value: (j) => Number(j.tasks?.total ?? 0),
      render: (j) => taskChips(j.tasks)},
    {key: 'state', label: 'Status', render: (j) => badge(j.state)});
  return new DataTable({
    columns,
    rowKey: (j) => j.jid,
    sort: {key: 'start-time', dir: 'desc'},
    emptyText: emptyText ?? 'No jobs.',
    testId,
    className: 'compact',
  });
}
