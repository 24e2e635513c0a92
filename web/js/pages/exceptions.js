// The exceptions tab: the root cause and the history (time, exception, task, TaskManager,
// restarted), each with its full text. Exception texts are user data: shown as text only.

import {api} from '../api.js';
import {href} from '../router.js';
import {el, fmtTime, setChildren} from '../util.js';

export function createExceptionsTab(jobId) {
  const root = el('section', {class: 'panel', dataset: {test: 'root-exception'}});
  const historyBox = el('div', {class: 'exception-list', dataset: {test: 'exception-history'}});
  const element = el('div', null, root,
    el('section', {class: 'panel'}, el('h2', null, 'Exception history'), historyBox));
  const open = new Set(); // timestamps of the entries the user opened

  return {
    element,
    async refresh() {
      const data = await api.get(`/jobs/${encodeURIComponent(jobId)}/exceptions`);
      if (data['root-exception']) {
        setChildren(root, el('h2', null, 'Root exception'),
          el('p', {class: 'muted'}, fmtTime(Number(data.timestamp))),
          el('pre', {class: 'trace'}, String(data['root-exception'])));
      } else {
        setChildren(root, el('h2', null, 'Root exception'),
          el('p', {class: 'muted'}, 'The job has had no exception.'));
      }
      const entries = data.exceptionHistory?.entries ?? [];
      if (entries.length === 0) {
        setChildren(historyBox, el('p', {class: 'muted'}, 'No exception.'));
        return;
      }
      setChildren(historyBox, entries.map((e, i) => {
        const key = `${e.timestamp}-${i}`;
        const d = el('details', {class: 'exception', open: open.has(key)},
          el('summary', null,
            el('span', {class: 'exc-time'}, fmtTime(Number(e.timestamp))),
            el('strong', {class: 'exc-name'}, String(e.exceptionName ?? '')),
            el('span', {class: 'exc-meta'},
              e.taskName ? `task ${e.taskName}` : 'job-level',
              ' · ',
              e.taskManagerId
                ? el('a', {href: href('taskmanagers', e.taskManagerId)}, String(e.taskManagerId))
                : 'no TaskManager',
              e.restarted ? el('span', {class: 'chip state-restarting'}, 'restarted') : null)),
          el('pre', {class: 'trace'}, String(e.stacktrace ?? '')));
        d.addEventListener('toggle', () => {
          if (d.open) open.add(key);
          else open.delete(key);
        });
        return d;
      }));
    },
  };
}
