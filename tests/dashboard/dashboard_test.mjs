// Browser test of the Sluice web dashboard: starts a real local cluster with the built binaries,
// submits the back-pressured ledger job (slow sink, checkpoints every second), drives Debian's
// Chromium through playwright-core and checks what a person would see:
//   overview (running job, slot counts), job page (one graph box per vertex, the source coloured
//   as back-pressured, "Why is this slow?" naming the sink), checkpoints (completed ones in the
//   history), a savepoint triggered from the page (click, confirm, COMPLETED with a location),
//   the TaskManagers page, a log file, and the banner once the JobManager is gone.
//
// Environment: SLUICE_BUILD_DIR (default: <repository>/build), SLUICE_SCREENSHOT_DIR (screenshots
// of each page; none when unset), SLUICE_WEB_DIR (serve the dashboard from this folder instead of
// <build>/web, for development), SLUICE_CHROMIUM (default /usr/bin/chromium).
// Exit status 0 when every check passed.

import fs from 'node:fs';
import path from 'node:path';

import {BUILD, TestRun, checkNoScriptErrors, fail, openPage, rest} from './harness.mjs';

const LEDGER = path.join(BUILD, 'examples', 'ledger.so');

async function submitLedger(t, rpc) {
  return t.submit(rpc, LEDGER, ['--parallelism', '2',
    '--arg', 'transactions=0', '--arg', 'rate=0', '--arg', 'sink_delay_us=1000',
    '--arg', `output=${path.join(t.clusterDir, 'out')}`,
    '-D', 'execution.checkpointing.interval=1s',
    '-D', `state.checkpoints.dir=${path.join(t.clusterDir, 'chk')}`,
    '-D', `state.savepoints.dir=${path.join(t.clusterDir, 'sp')}`]);
}

async function main(t) {
  const {url, rpc} = await t.startCluster(['--taskmanagers', '2', '--slots', '2',
    '-D', 'heartbeat.interval=500ms', '-D', 'heartbeat.timeout=3s']);
  t.log(`cluster in ${t.clusterDir}: dashboard ${url}, JobManager ${rpc}`);
  const jobId = await submitLedger(t, rpc);
  t.log(`ledger job ${jobId} submitted`);

  const details = await t.waitFor('the job to run', async () => {
    const d = await rest(url, `/jobs/${jobId}`);
    return d.state === 'RUNNING' && d.vertices.every((v) => v.status === 'RUNNING') ? d : null;
  });
  const nodes = details.plan.nodes;
  const hasConsumer = new Set(nodes.flatMap((n) => (n.inputs ?? []).map((i) => i.id)));
  const source = details.vertices.find((v) => !nodes.find((n) => n.id === v.id)?.inputs?.length);
  const sink = details.vertices.find((v) => !hasConsumer.has(v.id));
  if (!source || !sink || source.id === sink.id) fail('cannot tell the source and the sink apart');
  t.log(`vertices: ${details.vertices.map((v) => `'${v.name}'`).join(', ')}; source '${source.name}', sink '${sink.name}'`);

  const {page, errors, text} = await openPage(await t.launchBrowser([[LEDGER, 'build the examples']]));

  await t.check('overview shows the running job and the slot counts', async () => {
    await page.goto(`${url}/#/overview`);
    await t.waitFor('the overview to match /overview', async () => {
      const o = await rest(url, '/overview');
      const shown = {
        total: await text('[data-test=slots-total]'),
        available: await text('[data-test=slots-available]'),
        taskmanagers: await text('[data-test=taskmanagers]'),
        running: await text('[data-test=jobs-running]'),
      };
      return {ok: shown.total === '4' && shown.total === String(o['slots-total']) &&
        shown.available === String(o['slots-available']) && shown.taskmanagers === '2' &&
        shown.running === '1', shown, rest: o};
    });
    const row = page.locator(`[data-test=running-jobs] tr[data-key="${jobId}"]`);
    await row.waitFor();
    const rowText = await row.textContent();
    if (!rowText.includes(details.name) || !rowText.includes('RUNNING')) {
      fail(`the running-jobs row reads '${rowText}'`);
    }
    await t.screenshot(page, 'overview');
  });

  await t.check('job page: one box per vertex, back-pressured source, bottleneck sink', async () => {
    await page.locator(`[data-test=running-jobs] tr[data-key="${jobId}"] a.job-link`).click();
    await page.waitForURL(`**/#/jobs/${jobId}`);
    await t.waitFor(`${details.vertices.length} vertex boxes`, async () => {
      const n = await page.locator('[data-test=job-graph] [data-test=vertex]').count();
      return n === details.vertices.length ? n : {ok: false, n};
    });
    const ids = await page.$$eval('[data-test=vertex]', (els) => els.map((e) => e.dataset.vertexId));
    for (const v of details.vertices) {
      if (!ids.includes(v.id)) fail(`no box for vertex '${v.name}' (${v.id}); boxes: ${ids}`);
    }
    const edges = await page.locator('[data-test=edge]').count();
    if (edges !== nodes.reduce((n, node) => n + (node.inputs?.length ?? 0), 0)) {
      fail(`${edges} edge labels for the plan's inputs`);
    }
    const sourceBox = page.locator(`[data-test=vertex][data-vertex-id="${source.id}"]`);
    const bp = await t.waitFor(`the source box '${source.name}' coloured as back-pressured`, async () => {
      const level = await sourceBox.getAttribute('data-bp');
      const fill = await sourceBox.locator('rect.box').evaluate((r) => getComputedStyle(r).fill);
      return ['high', 'low'].includes(level) ? {level, fill} : {ok: false, level, fill};
    }, 120_000);
    const okFill = await page.evaluate(() => getComputedStyle(document.documentElement)
      .getPropertyValue('--ok-soft').trim());
    if (!/^rgb/.test(bp.fill) || bp.fill === 'rgb(255, 255, 255)') fail(`source box fill is ${bp.fill}`);
    t.log(`source box: back pressure ${bp.level}, fill ${bp.fill} (ok fill would be ${okFill})`);
    const verdict = await t.waitFor(`"Why is this slow?" to name '${sink.name}'`, async () => {
      const panel = page.locator('[data-test=why-slow]').first();
      const kind = await panel.getAttribute('data-kind');
      const bottleneck = await panel.getAttribute('data-bottleneck');
      const message = await panel.locator('[data-test=why-slow-message]').textContent();
      return kind === 'bottleneck' && bottleneck === sink.name &&
        message.includes(`'${sink.name}' is the bottleneck`)
        ? message : {ok: false, kind, bottleneck, message};
    }, 120_000);
    t.log(`verdict: ${verdict}`);
    const flow = await t.waitFor('the edge label to show the records flowing (averaged)', async () => {
      const edge = page.locator('[data-test=edge]').first();
      const averaged = await edge.getAttribute('data-averaged');
      const label = (await edge.locator('text.rate').allTextContents()).join(' · ');
      return averaged === '1' && /^[0-9.]+[kMG]? rec\/s · [0-9.]+ [KMG]?i?B\/s$/.test(label) &&
        parseFloat(label) > 0 ? label : {ok: false, averaged, label};
    }, 60_000);
    t.log(`edge: ${flow}`);
    const sinkTag = await page.locator(`[data-test=vertex][data-vertex-id="${sink.id}"]`).getAttribute('class');
    if (!sinkTag.includes('bottleneck')) fail(`the sink's box is not marked as the bottleneck (${sinkTag})`);
    await t.screenshot(page, 'job');
    await page.locator('nav.tabs a[data-tab=why-slow]').click();
    await page.locator('[data-test=why-slow] tr.row-bottleneck').waitFor();
    await t.screenshot(page, 'why-slow');
  });

  await t.check('checkpoints tab lists completed checkpoints', async () => {
    await page.locator('nav.tabs a[data-tab=checkpoints]').click();
    await page.waitForURL(`**/#/jobs/${jobId}/checkpoints`);
    const n = await t.waitFor('a COMPLETED checkpoint in the history', async () => {
      const statuses = await page.$$eval('[data-test=checkpoint-history] tbody tr .badge',
        (els) => els.map((e) => e.textContent));
      const completed = statuses.filter((s) => s === 'COMPLETED').length;
      return completed >= 2 ? completed : {ok: false, statuses};
    }, 150_000);
    t.log(`${n} completed checkpoints shown`);
    // A flat series has no height: "attached", not "visible".
    await page.locator('[data-test=chart-duration] svg .series').waitFor({state: 'attached'});
    await page.locator('[data-test=chart-size] svg .series').waitFor({state: 'attached'});
    await t.screenshot(page, 'checkpoints');
  });

  await t.check('a savepoint triggered from the page completes with a location', async () => {
    await page.locator('button[data-action=savepoint]').click();
    const dialog = page.locator('.modal[role=dialog]');
    await dialog.waitFor();
    await dialog.locator('[data-action=confirm]').click();
    await dialog.waitFor({state: 'detached'});
    const op = page.locator('[data-test=operation][data-kind=savepoint]').first();
    await op.waitFor();
    const status = await t.waitFor('the savepoint to end', async () => {
      const s = await op.getAttribute('data-status');
      return s !== 'IN_PROGRESS' ? s : null;
    }, 150_000);
    const detail = (await op.locator('[data-test=operation-detail]').textContent()).trim();
    if (status !== 'COMPLETED') fail(`the savepoint ended ${status}: ${detail}`);
    if (!detail.includes('/')) fail(`the savepoint's location reads '${detail}'`);
    const location = detail.replace(/^file:\/\//, '');
    if (path.isAbsolute(location) && !fs.existsSync(location)) {
      fail(`the savepoint's location ${location} does not exist`);
    }
    t.log(`savepoint at ${detail}`);
    await t.screenshot(page, 'savepoint');
  });

  await t.check('TaskManagers page lists both TaskManagers with their metrics', async () => {
    await page.locator('nav.mainnav a[data-nav=taskmanagers]').click();
    await t.waitFor('2 TaskManager rows with memory and network buffers', async () => {
      const rows = await page.$$eval('[data-test=taskmanager-table] tbody tr',
        (els) => els.map((e) => e.textContent));
      return rows.length === 2 && rows.every((r) => /MiB|GiB|KiB/.test(r) && /buffers/.test(r))
        ? rows : {ok: false, rows};
    });
    await t.screenshot(page, 'taskmanagers');
    await page.locator('[data-test=taskmanager-table] tbody tr a').first().click();
    await page.locator('[data-test=log-link]').first().waitFor();
    await t.screenshot(page, 'taskmanager');
  });

  await t.check('a log file opens as text', async () => {
    await page.locator('nav.mainnav a[data-nav=logs]').click();
    const link = page.locator('[data-test=jobmanager-logs] [data-test=log-link]', {hasText: 'jobmanager'}).first();
    await link.waitFor();
    await t.screenshot(page, 'logs-list');
    await link.click();
    await t.waitFor('the log text to show the job id', async () => {
      const shown = await text('[data-test=log-text]');
      return shown && shown.includes(jobId) ? true : {ok: false, length: shown?.length};
    });
    const inPre = await page.locator('pre[data-test=log-text]').count();
    if (inPre !== 1) fail('the log text is not in a <pre>');
    await t.screenshot(page, 'logs');
  });

  await t.check('no script error on any page', async () => {
    checkNoScriptErrors(errors);
    if (errors.console.length > 0) t.log(`(failed resource loads, expected: ${errors.console.length})`);
  });

  await t.check('a banner says when the JobManager cannot be reached', async () => {
    await page.locator('nav.mainnav a[data-nav=overview]').click();
    await page.locator('[data-test=slots-total]').waitFor();
    t.stopClusterSync();
    await t.waitFor('the unreachable banner', async () => {
      const visible = await page.locator('#banner').isVisible();
      const shown = await text('#banner');
      return visible && shown.includes('Cannot reach the JobManager') ? shown : {ok: false, visible, shown};
    }, 60_000);
    await t.screenshot(page, 'unreachable');
    if (errors.page.length > 0) fail(`uncaught errors once unreachable: ${errors.page.join(' | ')}`);
  });
}

new TestRun('dashboard browser test', 280_000).main(main);
