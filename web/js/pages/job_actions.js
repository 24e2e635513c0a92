// The job page's buttons: Savepoint, Stop (optionally draining), Cancel and Rescale. Each asks for
// confirmation in a modal dialog, then follows the asynchronous operation (polling its request
// id) and shows its outcome: the savepoint's location or the failure cause.

import {api, ApiError} from '../api.js';
import {openDialog} from '../modal.js';
import {el, errorText, fmtClock, isEndedJob, setChildren} from '../util.js';

const POLL_MS = 1000;
const MAX_POLL_MS = 60 * 60 * 1000;

// Operations per job id, kept while the dashboard is open (they outlive a visit of the page).
const operations = new Map(); // jobId -> [{id, kind, label, status, detail, trace, started}]
const listeners = new Set();

function notify() {
  for (const fn of listeners) fn();
}

function addOperation(jobId, kind, label) {
  const op = {id: `${Date.now()}-${Math.random()}`, kind, label, status: 'IN_PROGRESS',
    detail: 'starting…', trace: '', started: Date.now()};
  if (!operations.has(jobId)) operations.set(jobId, []);
  operations.get(jobId).unshift(op);
  notify();
  return op;
}

function finish(op, status, detail, trace = '') {
  op.status = status;
  op.detail = detail;
  op.trace = trace;
  notify();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

//! Polls a Flink-style asynchronous operation until it is COMPLETED.
async function pollOperation(op, url, describeSuccess) {
  const deadline = Date.now() + MAX_POLL_MS;
  let failures = 0;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    let r;
    try {
      r = await api.get(url);
      failures = 0;
    } catch (e) {
      if (e instanceof ApiError && !e.unreachable) {
        finish(op, 'FAILED', errorText(e));
        return;
      }
      failures++;
      op.detail = `in progress (JobManager not reachable: retrying${failures > 1 ? `, ${failures}×` : ''})`;
      notify();
      continue;
    }
    if (r?.status?.id !== 'COMPLETED') {
      op.detail = `in progress for ${Math.round((Date.now() - op.started) / 1000)} s`;
      notify();
      continue;
    }
    const cause = r.operation?.['failure-cause'];
    if (cause) {
      const trace = String(cause['stack-trace'] ?? '');
      finish(op, 'FAILED', `${cause.class ?? 'error'}: ${trace.split('\n')[0]}`, trace);
    } else {
      finish(op, 'COMPLETED', describeSuccess(r.operation ?? {}));
    }
    return;
  }
  finish(op, 'UNKNOWN', 'gave up waiting after an hour: see the job\'s checkpoints');
}

async function runSafely(op, fn) {
  try {
    await fn();
  } catch (e) {
    finish(op, 'FAILED', errorText(e));
  }
}

function jobPath(jobId) {
  return `/jobs/${encodeURIComponent(jobId)}`;
}

async function savepoint(jobId, app) {
  const v = await openDialog({
    title: 'Trigger a savepoint',
    body: el('p', null, 'Writes a consistent snapshot of the job\'s state that it can later be ' +
      'restarted or upgraded from. The job keeps running.'),
    fields: [{name: 'dir', label: 'Target folder (empty: the job\'s state.savepoints.dir)',
      type: 'text', placeholder: 'state.savepoints.dir'}],
    confirmText: 'Trigger savepoint',
  });
  if (!v) return;
  const op = addOperation(jobId, 'savepoint', 'Savepoint');
  await runSafely(op, async () => {
    const body = v.dir ? {'target-directory': v.dir} : {};
    const r = await api.post(`${jobPath(jobId)}/savepoints`, body);
    op.detail = 'in progress';
    notify();
    await pollOperation(op, `${jobPath(jobId)}/savepoints/${encodeURIComponent(r['request-id'])}`,
      (o) => o.location ?? 'done');
  });
  app.refreshNow();
}

async function stop(jobId, app) {
  const v = await openDialog({
    title: 'Stop the job with a savepoint',
    body: el('p', null, 'Takes a savepoint, then stops the job (FINISHED). Restart it later ' +
      'from that savepoint. Drain first to flush every event-time window and timer (for a job ' +
      'that will not be restarted).'),
    fields: [
      {name: 'drain', label: 'Drain: end event time before stopping', type: 'checkbox'},
      {name: 'dir', label: 'Target folder (empty: the job\'s state.savepoints.dir)', type: 'text',
        placeholder: 'state.savepoints.dir'},
    ],
    confirmText: 'Stop job',
    danger: true,
  });
  if (!v) return;
  const op = addOperation(jobId, 'stop', v.drain ? 'Stop (drain)' : 'Stop');
  await runSafely(op, async () => {
    const body = {drain: !!v.drain};
    if (v.dir) body.targetDirectory = v.dir;
    const r = await api.post(`${jobPath(jobId)}/stop`, body);
    op.detail = 'in progress';
    notify();
    await pollOperation(op, `${jobPath(jobId)}/savepoints/${encodeURIComponent(r['request-id'])}`,
      (o) => `stopped; savepoint at ${o.location ?? '?'}`);
  });
  app.refreshNow();
}

async function cancel(jobId, app) {
  const v = await openDialog({
    title: 'Cancel the job',
    body: el('p', null, 'Cancels the job without a savepoint: its tasks stop at once and the ' +
      'state since the last retained checkpoint is lost. This cannot be undone.'),
    confirmText: 'Cancel job',
    danger: true,
  });
  if (!v) return;
  const op = addOperation(jobId, 'cancel', 'Cancel');
  await runSafely(op, async () => {
    await api.patch(`${jobPath(jobId)}?mode=cancel`);
    op.detail = 'cancelling';
    notify();
    const deadline = Date.now() + 5 * 60 * 1000;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      let job;
      try {
        job = await api.get(jobPath(jobId));
      } catch (e) {
        if (e instanceof ApiError && !e.unreachable) throw e;
        continue;
      }
      if (isEndedJob(job.state)) {
        finish(op, job.state === 'CANCELED' ? 'COMPLETED' : 'FAILED', `the job is ${job.state}`);
        return;
      }
      op.detail = `the job is ${job.state}`;
      notify();
    }
    finish(op, 'UNKNOWN', 'the job has not ended after 5 minutes');
  });
  app.refreshNow();
}

async function rescale(jobId, app, currentParallelism) {
  const v = await openDialog({
    title: 'Rescale the job',
    body: el('p', null, 'Snapshots the job\'s state and restarts every vertex from it with the ' +
      'new parallelism (up to each vertex\'s max parallelism). The cluster needs enough free ' +
      'slots.'),
    fields: [{name: 'parallelism', label: 'New parallelism', type: 'number', min: 1,
      value: currentParallelism || 1}],
    confirmText: 'Rescale',
    validate: (x) => (/^[1-9][0-9]*$/.test(x.parallelism) ? null
      : 'The parallelism must be a positive whole number.'),
  });
  if (!v) return;
  const op = addOperation(jobId, 'rescale', `Rescale to ${v.parallelism}`);
  await runSafely(op, async () => {
    const r = await api.patch(
      `${jobPath(jobId)}/rescaling?parallelism=${encodeURIComponent(v.parallelism)}`);
    op.detail = 'in progress';
    notify();
    await pollOperation(op, `${jobPath(jobId)}/rescaling/${encodeURIComponent(r['request-id'])}`,
      (o) => (o.location ? `rescaled; restarted from ${o.location}` : 'rescaled'));
  });
  app.refreshNow();
}

/**
 * The action buttons and the list of operations of one job.
 * @returns {{buttons: Node, list: Node, update(details): void, unmount(): void}}
 */
export function createJobActions(jobId, app) {
  let details = null;
  const maxParallelism = () => Math.max(1, ...(details?.vertices ?? []).map((v) => v.parallelism || 1));
  const button = (label, action, handler, cls = '') => el('button', {
    type: 'button', class: `btn ${cls}`.trim(), dataset: {action}, disabled: true,
    onclick: () => {
      handler().catch((e) => console.warn(`${action} failed`, e));
    },
  }, label);
  const buttons = el('div', {class: 'actions'},
    button('Savepoint', 'savepoint', () => savepoint(jobId, app)),
    button('Stop', 'stop', () => stop(jobId, app)),
    button('Rescale', 'rescale', () => rescale(jobId, app, maxParallelism())),
    button('Cancel', 'cancel', () => cancel(jobId, app), 'btn-danger-outline'));
  const list = el('ul', {class: 'operations', dataset: {test: 'operations'}});

  const render = () => {
    const ops = operations.get(jobId) ?? [];
    list.hidden = ops.length === 0;
    setChildren(list, ops.slice(0, 5).map((op) => el('li', {
      class: `operation op-${op.status.toLowerCase()}`,
      dataset: {test: 'operation', kind: op.kind, status: op.status},
    },
    el('span', {class: 'op-time'}, fmtClock(op.started)),
    el('strong', null, op.label),
    el('span', {class: 'op-status'}, op.status.replace('_', ' ')),
    el('span', {class: 'op-detail', dataset: {test: 'operation-detail'}}, op.detail),
    op.trace && op.trace.includes('\n')
      ? el('details', null, el('summary', null, 'failure cause'), el('pre', null, op.trace))
      : null)));
  };
  listeners.add(render);
  render();

  return {
    buttons,
    list,
    update(d) {
      details = d;
      const ended = isEndedJob(d.state);
      const running = d.state === 'RUNNING';
      for (const b of buttons.querySelectorAll('button')) {
        const a = b.dataset.action;
        b.disabled = ended || (a !== 'cancel' && !running);
        b.title = ended ? `The job is ${d.state}` : (b.disabled ? `The job is ${d.state}, not RUNNING` : '');
      }
    },
    unmount() {
      listeners.delete(render);
    },
  };
}
