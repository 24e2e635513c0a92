// The configuration tab: the checkpoint configuration and the job's execution configuration.

import {api, getOr404} from '../api.js';
import {el, fmtDuration, setChildren} from '../util.js';

function kvTable(rows, testId) {
  return el('table', {class: 'data kv', dataset: testId ? {test: testId} : undefined},
    el('tbody', null, rows.map(([k, v]) => el('tr', null, el('th', {scope: 'row'}, k),
      el('td', null, v === undefined || v === null || v === '' ? '–' : String(v))))));
}

const yesNo = (b) => (b ? 'yes' : 'no');

export function createConfigTab(jobId) {
  const checkpoints = el('section', {class: 'panel'});
  const execution = el('section', {class: 'panel'});
  const element = el('div', {class: 'two-columns'}, checkpoints, execution);

  return {
    element,
    async refresh() {
      const path = `/jobs/${encodeURIComponent(jobId)}`;
      const [cp, job] = await Promise.all([
        getOr404(`${path}/checkpoints/config`),
        getOr404(`${path}/config`),
      ]);
      if (!cp) {
        setChildren(checkpoints, el('h2', null, 'Checkpoints'),
          el('p', {class: 'muted'}, 'Checkpointing is not enabled for this job.'));
      } else {
        setChildren(checkpoints, el('h2', null, 'Checkpoints'), kvTable([
          ['Mode', cp.mode],
          ['Interval', fmtDuration(cp.interval)],
          ['Timeout', fmtDuration(cp.timeout)],
          ['Minimum pause between checkpoints', fmtDuration(cp.min_pause)],
          ['Maximum concurrent checkpoints', cp.max_concurrent],
          ['Tolerable failed checkpoints', cp.tolerable_failed_checkpoints],
          ['Retained checkpoints', cp.num_retained],
          ['Externalized', cp.externalization
            ? `${yesNo(cp.externalization.enabled)}${cp.externalization.delete_on_cancellation
              ? ' (deleted on cancellation)' : ' (kept on cancellation)'}` : '–'],
          ['State backend', cp.state_backend],
          ['Incremental', yesNo(cp.incremental)],
          ['Checkpoint storage', cp.checkpoint_storage],
          ['Checkpoint folder', cp.checkpoint_storage_dir],
          ['Unaligned checkpoints', yesNo(cp.unaligned_checkpoints)],
        ], 'checkpoint-config'));
      }
      if (!job) {
        setChildren(execution, el('h2', null, 'Execution'), el('p', {class: 'muted'}, 'Not available.'));
        return;
      }
      const ec = job['execution-config'] ?? {};
      const user = Object.entries(ec['user-config'] ?? {}).sort(([a], [b]) => a.localeCompare(b));
      setChildren(execution, el('h2', null, 'Execution'), kvTable([
        ['Execution mode', ec['execution-mode']],
        ['Restart strategy', ec['restart-strategy']],
        ['Job parallelism', ec['job-parallelism']],
      ]),
      el('h3', null, 'Options set for this job'),
      user.length > 0 ? kvTable(user, 'job-user-config')
        : el('p', {class: 'muted'}, 'None: every option has its cluster value.'));
    },
  };
}
