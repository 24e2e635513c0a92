// Scale test of the Sluice web dashboard: one TaskManager with 120 slots runs 50 small jobs and
// one job of parallelism 64 (all of them the ledger at a low, fixed rate), and Debian's Chromium
// checks that the dashboard stays usable: the job list shows all 51 jobs, the overview counts
// them, the parallelism-64 job's graph and its subtasks tables (64 rows per vertex, with back
// pressure) render, the TaskManager page shows the slots in use, and no page throws. The time
// each page took to show its data is logged, never asserted (the machines are shared).
//
// Environment: as dashboard_test.mjs (SLUICE_BUILD_DIR, SLUICE_SCREENSHOT_DIR, SLUICE_WEB_DIR,
// SLUICE_CHROMIUM). Exit status 0 when every check passed.

import path from 'node:path';

import {BUILD, TestRun, checkNoScriptErrors, fail, openPage, rest} from './harness.mjs';

const LEDGER = path.join(BUILD, 'examples', 'ledger.so');
const SMALL_JOBS = 50;
const WIDE = 64;
const SLOTS = 120;

//! Runs `fn` over `items`, `width` at a time.
async function inBatches(items, width, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += width) {
    out.push(...await Promise.all(items.slice(i, i + width).map(fn)));
  }
  return out;
}

async function timed(t, what, fn) {
  const t0 = Date.now();
  const r = await fn();
  t.log(`${what}: ${Date.now() - t0} ms`);
  return r;
}

async function main(t) {
  const browser = await t.launchBrowser([[LEDGER, 'build the examples']]);
  // 4 KiB segments: the parallelism-64 all-to-all exchange has 64 x 64 channels, each with its
  // exclusive buffers.
  const {url, rpc} = await t.startCluster(['--taskmanagers', '1', '--slots', String(SLOTS),
    '-D', 'taskmanager.memory.network.size=256mb', '-D', 'taskmanager.memory.segment-size=4kb']);
  t.log(`cluster in ${t.clusterDir}: dashboard ${url}, JobManager ${rpc}`);

  const wide = await t.submit(rpc, LEDGER, ['--parallelism', String(WIDE), '--arg', 'transactions=0',
    '--arg', 'rate=100', '--arg', `splits=${WIDE}`]);
  const small = await inBatches([...Array(SMALL_JOBS).keys()], 4, () => t.submit(rpc, LEDGER, [
    '--parallelism', '1', '--arg', 'transactions=0', '--arg', 'rate=5', '--arg', 'splits=1']));
  t.log(`submitted the parallelism-${WIDE} job ${wide} and ${small.length} small jobs`);

  await t.waitFor(`${SMALL_JOBS + 1} running jobs`, async () => {
    const o = await rest(url, '/jobs/overview');
    const running = o.jobs.filter((j) => j.state === 'RUNNING' && j.tasks.running === j.tasks.total);
    return running.length === SMALL_JOBS + 1 ? running : {ok: false, running: running.length};
  }, 120_000);
  const wideDetails = await timed(t, `GET /jobs/${wide}`, () => rest(url, `/jobs/${wide}`));
  await timed(t, 'GET /jobs/overview', () => rest(url, '/jobs/overview'));

  const {page, errors, text} = await openPage(browser);

  await t.check(`overview counts ${SMALL_JOBS + 1} running jobs and ${SLOTS - WIDE - SMALL_JOBS} free slots`, async () => {
    await page.goto(`${url}/#/overview`);
    await timed(t, 'overview shown', () => t.waitFor('the overview\'s counts', async () => {
      const shown = {running: await text('[data-test=jobs-running]'),
        total: await text('[data-test=slots-total]'), available: await text('[data-test=slots-available]')};
      return shown.running === String(SMALL_JOBS + 1) && shown.total === String(SLOTS) &&
        shown.available === String(SLOTS - WIDE - SMALL_JOBS) ? shown : {ok: false, shown};
    }));
    await t.screenshot(page, 'scale-overview');
  });

  await t.check(`the job list shows all ${SMALL_JOBS + 1} jobs`, async () => {
    await page.goto(`${url}/#/jobs`);
    await timed(t, 'job list shown', () => t.waitFor(`${SMALL_JOBS + 1} rows in the job list`, async () => {
      const keys = await page.$$eval('[data-test=job-list] tbody tr[data-key]', (els) => els.map((e) => e.dataset.key));
      return keys.length === SMALL_JOBS + 1 && keys.includes(wide) && small.every((id) => keys.includes(id))
        ? keys : {ok: false, rows: keys.length};
    }));
    const row = await page.locator(`[data-test=job-list] tr[data-key="${wide}"]`).textContent();
    if (!row.includes('RUNNING')) fail(`the wide job's row reads '${row}'`);
    await t.screenshot(page, 'scale-jobs');
  });

  await t.check(`the parallelism-${WIDE} job's graph and subtasks render`, async () => {
    await page.goto(`${url}/#/jobs/${wide}`);
    await timed(t, 'job graph shown', () => t.waitFor('one box per vertex', async () => {
      const n = await page.locator('[data-test=job-graph] [data-test=vertex]').count();
      return n === wideDetails.vertices.length ? n : {ok: false, n};
    }));
    await page.locator('nav.tabs a[data-tab=subtasks]').click();
    await page.waitForURL(`**/#/jobs/${wide}/subtasks`);
    await page.getByRole('button', {name: 'Expand all'}).click();
    await timed(t, 'subtasks tables shown', () => t.waitFor(`${WIDE} subtask rows with back pressure per vertex`, async () => {
      const perVertex = await page.$$eval('details.vertex-section', (sections) => sections.map((s) => ({
        rows: s.querySelectorAll('table tbody tr').length,
        running: [...s.querySelectorAll('table tbody tr')].filter((r) => r.textContent.includes('RUNNING')).length,
        chips: s.querySelectorAll('table tbody tr .bp-chip').length,
      })));
      return perVertex.length === wideDetails.vertices.length &&
        perVertex.every((v) => v.rows === WIDE && v.running === WIDE && v.chips === WIDE)
        ? perVertex : {ok: false, perVertex};
    }, 60_000));
    await t.screenshot(page, 'scale-subtasks');
  });

  await t.check('the TaskManager page shows the slots in use', async () => {
    await page.goto(`${url}/#/taskmanagers`);
    await t.waitFor('one TaskManager row', async () => {
      const rows = await page.$$eval('[data-test=taskmanager-table] tbody tr', (els) => els.map((e) => e.textContent));
      return rows.length === 1 && rows[0].includes(String(SLOTS)) ? rows : {ok: false, rows};
    });
  });

  await t.check('no script error on any page', async () => checkNoScriptErrors(errors));
}

new TestRun('dashboard scale test', 280_000).main(main);
