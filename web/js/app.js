// The dashboard's shell: reads /config, routes hash changes to pages, refreshes the current page
// every refresh-interval (paused while a dialog is open), and shows a banner when the JobManager
// cannot be reached.

import {api, ApiError, onReachability} from './api.js';
import {isModalOpen} from './modal.js';
import {parseHash} from './router.js';
import {el, errorText, fmtClock, setChildren} from './util.js';
import * as overviewPage from './pages/overview.js';
import * as jobsPage from './pages/jobs.js';
import * as jobPage from './pages/job.js';
import * as taskmanagersPage from './pages/taskmanagers.js';
import * as logsPage from './pages/logs.js';

const PAGES = {
  overview: overviewPage.mount,
  jobs: jobsPage.mount,
  job: jobPage.mount,
  taskmanagers: taskmanagersPage.mountList,
  taskmanager: taskmanagersPage.mountDetail,
  logs: logsPage.mountList,
  log: logsPage.mountLog,
  'not-found': mountNotFound,
};

const DEFAULT_REFRESH_MS = 3000;

const app = {
  refreshMs: DEFAULT_REFRESH_MS,
  version: '',
  configLoaded: false,
  lastUpdate: 0,
  //! Refreshes the current page now (e.g. after an action).
  refreshNow: () => scheduleRefresh(0),
};

let current = null; // {page, key, root, controller, errorBox}
let timer = null;
let refreshing = null; // the controller being refreshed

window.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  console.warn('Sluice dashboard: unexpected error', e.reason);
});
window.addEventListener('error', (e) => {
  e.preventDefault();
  console.warn('Sluice dashboard: unexpected error', e.error ?? e.message);
});

function mountNotFound(root, params) {
  setChildren(root, el('h1', null, 'Not found'),
    el('p', null, 'There is no page at ', el('code', null, `#/${params.path ?? ''}`), '. ',
      el('a', {href: '#/overview'}, 'Go to the overview.')));
  return {refresh: async () => {}};
}

function updateStatus() {
  const status = document.getElementById('status');
  const parts = [];
  if (app.version) parts.push(`version ${app.version}`);
  parts.push(`refresh every ${app.refreshMs >= 1000 ? `${app.refreshMs / 1000} s` : `${app.refreshMs} ms`}`);
  if (app.lastUpdate) parts.push(`updated ${fmtClock(app.lastUpdate)}`);
  status.textContent = parts.join(' · ');
}

function showBanner(reachable, why) {
  const banner = document.getElementById('banner');
  if (reachable) {
    banner.hidden = true;
    banner.textContent = '';
    return;
  }
  const since = app.lastUpdate ? ` The data shown is from ${fmtClock(app.lastUpdate)}.` : '';
  banner.textContent = `Cannot reach the JobManager at ${location.host} (${why}). ` +
    `Retrying every ${Math.max(1, Math.round(app.refreshMs / 1000))} s.${since}`;
  banner.hidden = false;
}

function routeKey(page, params) {
  // The job page keeps its state across its tabs.
  if (page === 'job') return `job/${params.jobId}`;
  return `${page}/${JSON.stringify(params)}`;
}

function navigate() {
  const {page, params} = parseHash(location.hash);
  for (const a of document.querySelectorAll('[data-nav]')) {
    const active = a.dataset.nav === page || (a.dataset.nav === 'jobs' && page === 'job') ||
      (a.dataset.nav === 'taskmanagers' && page === 'taskmanager') ||
      (a.dataset.nav === 'logs' && page === 'log');
    a.classList.toggle('active', active);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const key = routeKey(page, params);
  if (current && current.key === key && current.controller.update) {
    current.controller.update(params);
    scheduleRefresh(0);
    return;
  }
  if (current && current.controller.unmount) {
    try {
      current.controller.unmount();
    } catch (e) {
      console.warn('unmount failed', e);
    }
  }
  const container = document.getElementById('page');
  const errorBox = el('div', {class: 'page-error', role: 'alert', hidden: true});
  const root = el('div', {class: `page-${page}`});
  setChildren(container, errorBox, root);
  let controller;
  try {
    controller = PAGES[page](root, params, app) ?? {refresh: async () => {}};
  } catch (e) {
    console.warn('page failed to mount', e);
    controller = {refresh: async () => {}};
    errorBox.textContent = `This page failed to load: ${errorText(e)}`;
    errorBox.hidden = false;
  }
  current = {page, key, root, controller, errorBox};
  window.scrollTo(0, 0);
  scheduleRefresh(0);
}

function scheduleRefresh(delay) {
  clearTimeout(timer);
  timer = setTimeout(tick, delay);
}

async function tick() {
  const here = current;
  if (!here) return;
  if (isModalOpen() || refreshing === here.controller) {
    scheduleRefresh(250);
    return;
  }
  refreshing = here.controller;
  try {
    await here.controller.refresh();
    if (current === here) {
      here.errorBox.hidden = true;
      app.lastUpdate = Date.now();
    }
  } catch (e) {
    if (current === here && !(e instanceof ApiError && e.unreachable)) {
      here.errorBox.textContent = errorText(e);
      here.errorBox.hidden = false;
    }
    if (!(e instanceof ApiError)) console.warn('refresh failed', e);
  } finally {
    if (refreshing === here.controller) refreshing = null;
  }
  updateStatus();
  if (current === here) scheduleRefresh(app.refreshMs);
}

async function loadConfig() {
  try {
    const config = await api.get('/config');
    const ms = Number(config['refresh-interval']);
    if (Number.isFinite(ms) && ms >= 100) app.refreshMs = ms;
    app.version = String(config['flink-version'] ?? '');
    app.configLoaded = true;
  } catch (e) {
    // Unreachable: the banner says so; read again once the JobManager answers.
    if (!(e instanceof ApiError)) console.warn('cannot read /config', e);
  }
  updateStatus();
}

async function start() {
  onReachability((ok, why) => {
    showBanner(ok, why);
    if (ok && !app.configLoaded) loadConfig();
    if (ok) scheduleRefresh(0);
  });
  await loadConfig();
  window.addEventListener('hashchange', navigate);
  navigate();
}

start();
