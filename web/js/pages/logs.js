// Logs: the JobManager's log files and each TaskManager's, and a viewer showing the last part of
// one file as text (log lines are user data: never markup).

import {api} from '../api.js';
import {href} from '../router.js';
import {el, errorText, fmtBytes, setChildren} from '../util.js';
import {logList} from './taskmanagers.js';

const TAIL_BYTES = 256 * 1024;

export function mountList(root) {
  const jm = el('section', {class: 'panel', dataset: {test: 'jobmanager-logs'}},
    el('h2', null, 'JobManager'), el('p', {class: 'muted'}, 'Loading…'));
  const tms = el('div', {class: 'tm-logs'});
  setChildren(root, el('h1', null, 'Logs'), jm, tms);
  return {
    async refresh() {
      const [jmLogs, tmList] = await Promise.all([
        api.get('/jobmanager/logs').then((r) => r.logs ?? [], (e) => e),
        api.get('/taskmanagers').then((r) => r.taskmanagers ?? []),
      ]);
      setChildren(jm, el('h2', null, 'JobManager'), jmLogs instanceof Error
        ? el('p', {class: 'error'}, `Cannot list the logs: ${errorText(jmLogs)}`)
        : logList(jmLogs, (name) => href('logs', 'jobmanager', name)));
      const lists = await Promise.all(tmList.map((t) =>
        api.get(`/taskmanagers/${encodeURIComponent(t.id)}/logs`).then((r) => r.logs ?? [], (e) => e)));
      setChildren(tms, tmList.length === 0
        ? el('section', {class: 'panel'}, el('p', {class: 'muted'}, 'No TaskManager is registered.'))
        : tmList.map((t, i) => el('section', {class: 'panel', dataset: {test: 'taskmanager-logs'}},
          el('h2', null, 'TaskManager ', el('a', {href: href('taskmanagers', t.id)}, t.id)),
          lists[i] instanceof Error
            ? el('p', {class: 'error'}, `Cannot list the logs: ${errorText(lists[i])}`)
            : logList(lists[i], (name) => href('logs', 'taskmanagers', t.id, name)))));
    },
  };
}

export function mountLog(root, params) {
  const fromTm = params.source === 'taskmanager';
  const url = fromTm
    ? `/taskmanagers/${encodeURIComponent(params.tmId)}/logs/${encodeURIComponent(params.name)}`
    : `/jobmanager/logs/${encodeURIComponent(params.name)}`;
  const info = el('p', {class: 'muted'});
  const pre = el('pre', {class: 'log', dataset: {test: 'log-text'}, tabindex: '0'});
  const wrap = el('input', {type: 'checkbox', onchange: () => pre.classList.toggle('wrap', wrap.checked)});
  const follow = el('input', {type: 'checkbox', checked: true});
  setChildren(root,
    el('p', {class: 'crumbs'}, el('a', {href: '#/logs'}, 'Logs'), ' / ',
      fromTm ? ['TaskManager ', el('a', {href: href('taskmanagers', params.tmId)}, params.tmId)]
        : 'JobManager', ' / ', params.name),
    el('h1', null, params.name),
    el('div', {class: 'toolbar'}, info,
      el('label', null, follow, ' Follow the end'),
      el('label', null, wrap, ' Wrap lines'),
      el('a', {class: 'btn btn-small', href: url, target: '_blank', rel: 'noopener'}, 'Open the raw file')),
    pre);
  let lastText = null;
  return {
    async refresh() {
      const r = await api.getTail(url, TAIL_BYTES);
      let text = r.text;
      let start = r.start;
      if (text.length > TAIL_BYTES) {
        start += text.length - TAIL_BYTES;
        text = text.slice(text.length - TAIL_BYTES);
      }
      if (start > 0) {
        // Begin at a whole line.
        const nl = text.indexOf('\n');
        if (nl >= 0 && nl < text.length - 1) text = text.slice(nl + 1);
      }
      info.textContent = start > 0
        ? `The last ${fmtBytes(text.length)} of ${fmtBytes(r.total)}.`
        : `The whole file: ${fmtBytes(r.total)}.`;
      if (text === lastText) return;
      lastText = text;
      pre.textContent = text.length > 0 ? text : '(empty)';
      if (follow.checked || pre.dataset.loaded !== '1') pre.scrollTop = pre.scrollHeight;
      pre.dataset.loaded = '1';
    },
  };
}
