// Hash routes: #/overview, #/jobs, #/jobs/<jid>[/<tab>], #/taskmanagers[/<tmid>], #/logs,
// #/logs/jobmanager/<name>, #/logs/taskmanagers/<tmid>/<name>. Pure: no DOM.

export const JOB_TABS = ['overview', 'subtasks', 'checkpoints', 'exceptions', 'configuration',
  'why-slow'];

const ROUTES = [
  {pattern: [], page: 'overview'},
  {pattern: ['overview'], page: 'overview'},
  {pattern: ['jobs'], page: 'jobs'},
  {pattern: ['jobs', ':jobId'], page: 'job'},
  {pattern: ['jobs', ':jobId', ':tab'], page: 'job'},
  {pattern: ['taskmanagers'], page: 'taskmanagers'},
  {pattern: ['taskmanagers', ':tmId'], page: 'taskmanager'},
  {pattern: ['logs'], page: 'logs'},
  {pattern: ['logs', 'jobmanager', ':name'], page: 'log'},
  {pattern: ['logs', 'taskmanagers', ':tmId', ':name'], page: 'log'},
];

//! The page and parameters of a location hash ("#/jobs/abc/checkpoints"); page 'not-found' when
//! no route matches.
export function parseHash(hash) {
  const path = String(hash ?? '').replace(/^#/, '').replace(/^\/+|\/+$/g, '');
  let parts;
  try {
    parts = path === '' ? [] : path.split('/').map((p) => decodeURIComponent(p));
  } catch {
    return {page: 'not-found', params: {path}};
  }
  for (const route of ROUTES) {
    if (route.pattern.length !== parts.length) continue;
    const params = {};
    let ok = true;
    route.pattern.forEach((p, i) => {
      if (p.startsWith(':')) {
        if (parts[i] === '') ok = false;
        params[p.slice(1)] = parts[i];
      } else if (p !== parts[i]) {
        ok = false;
      }
    });
    if (!ok) continue;
    if (route.page === 'job') {
      params.tab = params.tab ?? 'overview';
      if (!JOB_TABS.includes(params.tab)) return {page: 'not-found', params: {path}};
    }
    if (route.page === 'log') params.source = params.tmId ? 'taskmanager' : 'jobmanager';
    return {page: route.page, params};
  }
  return {page: 'not-found', params: {path}};
}

//! The hash of a route: href('jobs', id, 'checkpoints') -> "#/jobs/<id>/checkpoints".
export function href(...parts) {
  return `#/${parts.map((p) => encodeURIComponent(String(p))).join('/')}`;
}
