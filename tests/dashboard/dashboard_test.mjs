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

import {execFile, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const BUILD = path.resolve(process.env.SLUICE_BUILD_DIR || path.join(here, '..', '..', 'build'));
const SLUICE = path.join(BUILD, 'bin', 'sluice');
const LEDGER = path.join(BUILD, 'examples', 'ledger.so');
const WEB_DIR = process.env.SLUICE_WEB_DIR ? path.resolve(process.env.SLUICE_WEB_DIR) : '';
const SHOTS = process.env.SLUICE_SCREENSHOT_DIR ? path.resolve(process.env.SLUICE_SCREENSHOT_DIR) : '';
const CHROMIUM = process.env.SLUICE_CHROMIUM || '/usr/bin/chromium';
const TOTAL_BUDGET_MS = 280_000; // below ctest's TIMEOUT of 300 s
const started = Date.now();

let clusterDir = '';
let clusterRunning = false;
let browser = null;
let cleanedUp = false;
const results = [];

function log(message) {
  console.log(`[dashboard-test ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function remaining() {
  return TOTAL_BUDGET_MS - (Date.now() - started);
}

class TestFailure extends Error {}

function fail(message) {
  throw new TestFailure(message);
}

// ---------------------------------------------------------------- cluster

function readPids(dir) {
  const pids = [];
  let names = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return pids;
  }
  for (const name of names) {
    if (!name.endsWith('.pid')) continue;
    const pid = Number(fs.readFileSync(path.join(dir, name), 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) pids.push(pid);
  }
  return pids;
}

//! Whether `pid` is a live (not zombie) Sluice daemon: never signal a reused pid.
function liveDaemon(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return state !== 'Z' && path.basename(argv0).startsWith('sluice-');
  } catch {
    return false; // gone
  }
}

//! Stops the cluster (synchronously, so it also works from a signal handler); kills its daemons
//! by pid when the stop fails or leaves one behind.
function stopClusterSync() {
  if (!clusterDir || !clusterRunning) return;
  const pids = readPids(clusterDir);
  try {
    execFileSync(SLUICE, ['cluster', 'stop', '--dir', clusterDir], {timeout: 60_000, stdio: 'pipe'});
    log('cluster stopped');
  } catch (e) {
    log(`'sluice cluster stop' failed (${e.message.split('\n')[0]}): killing the daemons by pid`);
  }
  for (const pid of pids) {
    if (liveDaemon(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
        log(`killed leftover daemon ${pid}`);
      } catch {
        // already gone
      }
    }
  }
  clusterRunning = false;
}

function cleanupSync() {
  if (cleanedUp) return;
  cleanedUp = true;
  stopClusterSync();
  if (clusterDir) {
    try {
      fs.rmSync(clusterDir, {recursive: true, force: true});
    } catch (e) {
      log(`cannot remove ${clusterDir}: ${e.message}`);
    }
  }
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping the cluster`);
    try {
      if (browser) browser.process()?.kill('SIGKILL');
    } catch {
      // the browser goes with us anyway
    }
    cleanupSync();
    process.exit(1);
  });
}

async function startCluster() {
  clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-dashboard-'));
  const args = ['cluster', 'start', '--dir', clusterDir, '--taskmanagers', '2', '--slots', '2',
    '-D', 'jobmanager.rpc.port=0', '-D', 'rest.port=0',
    '-D', 'heartbeat.interval=500ms', '-D', 'heartbeat.timeout=3s'];
  if (WEB_DIR) args.push('-D', `web.dashboard.dir=${WEB_DIR}`);
  clusterRunning = true; // from here on, cleanup stops it (even if start fails half-way)
  let out;
  try {
    out = await run(SLUICE, args, {timeout: 90_000});
  } catch (e) {
    fail(`'sluice cluster start' failed: ${e.stderr || e.message}`);
  }
  const text = `${out.stdout}\n${out.stderr}`;
  const url = /REST API and dashboard: (http:\/\/\S+?)\/?\s*$/m.exec(text)?.[1];
  const lines = out.stdout.trim().split('\n');
  const rpc = lines[lines.length - 1].trim();
  if (!url || !/^[\w.-]+:\d+$/.test(rpc)) fail(`cannot read the cluster's addresses from:\n${text}`);
  return {url, rpc};
}

async function submitLedger(rpc) {
  const out = path.join(clusterDir, 'out');
  const args = ['run', LEDGER, '--jobmanager', rpc, '--detached', '--parallelism', '2',
    '--arg', 'transactions=0', '--arg', 'rate=0', '--arg', 'sink_delay_us=1000',
    '--arg', `output=${out}`,
    '-D', 'execution.checkpointing.interval=1s',
    '-D', `state.checkpoints.dir=${path.join(clusterDir, 'chk')}`,
    '-D', `state.savepoints.dir=${path.join(clusterDir, 'sp')}`];
  let r;
  try {
    r = await run(SLUICE, args, {timeout: 90_000});
  } catch (e) {
    fail(`'sluice run' of the ledger failed: ${e.stderr || e.message}`);
  }
  const jobId = /Job ([0-9a-f]{32})/.exec(r.stdout)?.[1];
  if (!jobId) fail(`cannot read the job id from:\n${r.stdout}`);
  return jobId;
}

async function rest(base, p) {
  const response = await fetch(`${base}${p}`);
  if (!response.ok) fail(`GET ${p}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

// ---------------------------------------------------------------- browser helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

//! Polls `probe` until it returns a truthy value; fails after `timeoutMs` naming `what` and the
//! last value seen.
async function waitFor(what, probe, timeoutMs = 90_000) {
  const deadline = Date.now() + Math.min(timeoutMs, Math.max(1000, remaining()));
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last && last.ok !== false) return last;
    } catch (e) {
      last = `error: ${e.message}`;
    }
    if (Date.now() > deadline) {
      fail(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}` +
        ` (last seen: ${JSON.stringify(last)?.slice(0, 600)})`);
    }
    await sleep(500);
  }
}

async function screenshot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, {recursive: true});
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({path: file});
  log(`screenshot ${file}`);
}

async function check(name, fn) {
  const t0 = Date.now();
  await fn();
  results.push(name);
  log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

// ---------------------------------------------------------------- the test

async function main() {
  for (const [file, hint] of [
    [SLUICE, 'build the project (make build)'],
    [LEDGER, 'build the examples'],
    [CHROMIUM, 'install Debian\'s chromium: scripts/install-dashboard-deps.sh'],
  ]) {
    if (!fs.existsSync(file)) fail(`${file} is missing: ${hint}`);
  }
  const webIndex = path.join(WEB_DIR || path.join(BUILD, 'web'), 'index.html');
  if (!fs.existsSync(webIndex)) {
    fail(`${webIndex} is missing: the build copies web/ into <build>/web (target sluice_web)`);
  }
  let chromium;
  try {
    ({chromium} = await import('playwright-core'));
  } catch {
    fail('playwright-core is not installed in tests/dashboard: run scripts/install-dashboard-deps.sh');
  }

  const {url, rpc} = await startCluster();
  log(`cluster in ${clusterDir}: dashboard ${url}, JobManager ${rpc}`);
  const jobId = await submitLedger(rpc);
  log(`ledger job ${jobId} submitted`);

  const details = await waitFor('the job to run', async () => {
    const d = await rest(url, `/jobs/${jobId}`);
    return d.state === 'RUNNING' && d.vertices.every((v) => v.status === 'RUNNING') ? d : null;
  });
  const nodes = details.plan.nodes;
  const hasConsumer = new Set(nodes.flatMap((n) => (n.inputs ?? []).map((i) => i.id)));
  const source = details.vertices.find((v) => !nodes.find((n) => n.id === v.id)?.inputs?.length);
  const sink = details.vertices.find((v) => !hasConsumer.has(v.id));
  if (!source || !sink || source.id === sink.id) fail('cannot tell the source and the sink apart');
  log(`vertices: ${details.vertices.map((v) => `'${v.name}'`).join(', ')}; source '${source.name}', sink '${sink.name}'`);

  browser = await chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'],
    timeout: 60_000});
  const page = await browser.newPage({viewport: {width: 1400, height: 900}});
  page.setDefaultTimeout(60_000);
  const pageErrors = [];
  const consoleErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  const text = (selector) => page.evaluate((s) => document.querySelector(s)?.textContent?.trim() ?? null, selector);

  await check('overview shows the running job and the slot counts', async () => {
    await page.goto(`${url}/#/overview`);
    await waitFor('the overview to match /overview', async () => {
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
    await screenshot(page, 'overview');
  });

  await check('job page: one box per vertex, back-pressured source, bottleneck sink', async () => {
    await page.locator(`[data-test=running-jobs] tr[data-key="${jobId}"] a.job-link`).click();
    await page.waitForURL(`**/#/jobs/${jobId}`);
    await waitFor(`${details.vertices.length} vertex boxes`, async () => {
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
    const bp = await waitFor(`the source box '${source.name}' coloured as back-pressured`, async () => {
      const level = await sourceBox.getAttribute('data-bp');
      const fill = await sourceBox.locator('rect.box').evaluate((r) => getComputedStyle(r).fill);
      return ['high', 'low'].includes(level) ? {level, fill} : {ok: false, level, fill};
    }, 120_000);
    const okFill = await page.evaluate(() => getComputedStyle(document.documentElement)
      .getPropertyValue('--ok-soft').trim());
    if (!/^rgb/.test(bp.fill) || bp.fill === 'rgb(255, 255, 255)') fail(`source box fill is ${bp.fill}`);
    log(`source box: back pressure ${bp.level}, fill ${bp.fill} (ok fill would be ${okFill})`);
    const verdict = await waitFor(`"Why is this slow?" to name '${sink.name}'`, async () => {
      const panel = page.locator('[data-test=why-slow]').first();
      const kind = await panel.getAttribute('data-kind');
      const bottleneck = await panel.getAttribute('data-bottleneck');
      const message = await panel.locator('[data-test=why-slow-message]').textContent();
      return kind === 'bottleneck' && bottleneck === sink.name &&
        message.includes(`'${sink.name}' is the bottleneck`)
        ? message : {ok: false, kind, bottleneck, message};
    }, 120_000);
    log(`verdict: ${verdict}`);
    const flow = await waitFor('the edge label to show the records flowing (averaged)', async () => {
      const edge = page.locator('[data-test=edge]').first();
      const averaged = await edge.getAttribute('data-averaged');
      const label = (await edge.locator('text.rate').allTextContents()).join(' · ');
      return averaged === '1' && /^[0-9.]+[kMG]? rec\/s · [0-9.]+ [KMG]?i?B\/s$/.test(label) &&
        parseFloat(label) > 0 ? label : {ok: false, averaged, label};
    }, 60_000);
    log(`edge: ${flow}`);
    const sinkTag = await page.locator(`[data-test=vertex][data-vertex-id="${sink.id}"]`).getAttribute('class');
    if (!sinkTag.includes('bottleneck')) fail(`the sink's box is not marked as the bottleneck (${sinkTag})`);
    await screenshot(page, 'job');
    await page.locator('nav.tabs a[data-tab=why-slow]').click();
    await page.locator('[data-test=why-slow] tr.row-bottleneck').waitFor();
    await screenshot(page, 'why-slow');
  });

  await check('checkpoints tab lists completed checkpoints', async () => {
    await page.locator('nav.tabs a[data-tab=checkpoints]').click();
    await page.waitForURL(`**/#/jobs/${jobId}/checkpoints`);
    const n = await waitFor('a COMPLETED checkpoint in the history', async () => {
      const statuses = await page.$$eval('[data-test=checkpoint-history] tbody tr .badge',
        (els) => els.map((e) => e.textContent));
      const completed = statuses.filter((s) => s === 'COMPLETED').length;
      return completed >= 2 ? completed : {ok: false, statuses};
    }, 150_000);
    log(`${n} completed checkpoints shown`);
    // A flat series has no height: "attached", not "visible".
    await page.locator('[data-test=chart-duration] svg .series').waitFor({state: 'attached'});
    await page.locator('[data-test=chart-size] svg .series').waitFor({state: 'attached'});
    await screenshot(page, 'checkpoints');
  });

  await check('a savepoint triggered from the page completes with a location', async () => {
    await page.locator('button[data-action=savepoint]').click();
    const dialog = page.locator('.modal[role=dialog]');
    await dialog.waitFor();
    await dialog.locator('[data-action=confirm]').click();
    await dialog.waitFor({state: 'detached'});
    const op = page.locator('[data-test=operation][data-kind=savepoint]').first();
    await op.waitFor();
    const status = await waitFor('the savepoint to end', async () => {
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
    log(`savepoint at ${detail}`);
    await screenshot(page, 'savepoint');
  });

  await check('TaskManagers page lists both TaskManagers with their metrics', async () => {
    await page.locator('nav.mainnav a[data-nav=taskmanagers]').click();
    await waitFor('2 TaskManager rows with memory and network buffers', async () => {
      const rows = await page.$$eval('[data-test=taskmanager-table] tbody tr',
        (els) => els.map((e) => e.textContent));
      return rows.length === 2 && rows.every((r) => /MiB|GiB|KiB/.test(r) && /buffers/.test(r))
        ? rows : {ok: false, rows};
    });
    await screenshot(page, 'taskmanagers');
    await page.locator('[data-test=taskmanager-table] tbody tr a').first().click();
    await page.locator('[data-test=log-link]').first().waitFor();
    await screenshot(page, 'taskmanager');
  });

  await check('a log file opens as text', async () => {
    await page.locator('nav.mainnav a[data-nav=logs]').click();
    const link = page.locator('[data-test=jobmanager-logs] [data-test=log-link]', {hasText: 'jobmanager'}).first();
    await link.waitFor();
    await screenshot(page, 'logs-list');
    await link.click();
    await waitFor('the log text to show the job id', async () => {
      const t = await text('[data-test=log-text]');
      return t && t.includes(jobId) ? true : {ok: false, length: t?.length};
    });
    const inPre = await page.locator('pre[data-test=log-text]').count();
    if (inPre !== 1) fail('the log text is not in a <pre>');
    await screenshot(page, 'logs');
  });

  await check('no script error on any page', async () => {
    if (pageErrors.length > 0) fail(`uncaught errors in the page: ${pageErrors.join(' | ')}`);
    const unexpected = consoleErrors.filter((m) => !m.startsWith('Failed to load resource'));
    if (unexpected.length > 0) fail(`console errors: ${unexpected.join(' | ')}`);
    if (consoleErrors.length > 0) log(`(failed resource loads, expected: ${consoleErrors.length})`);
  });

  await check('a banner says when the JobManager cannot be reached', async () => {
    await page.locator('nav.mainnav a[data-nav=overview]').click();
    await page.locator('[data-test=slots-total]').waitFor();
    stopClusterSync();
    await waitFor('the unreachable banner', async () => {
      const visible = await page.locator('#banner').isVisible();
      const t = await text('#banner');
      return visible && t.includes('Cannot reach the JobManager') ? t : {ok: false, visible, t};
    }, 60_000);
    await screenshot(page, 'unreachable');
    if (pageErrors.length > 0) fail(`uncaught errors once unreachable: ${pageErrors.join(' | ')}`);
  });
}

// Last resort: never outlive ctest's time-out with the cluster still running.
setTimeout(() => {
  console.error(`FAIL: the test ran longer than ${TOTAL_BUDGET_MS / 1000 + 10} s`);
  try {
    if (browser) browser.process()?.kill('SIGKILL');
  } catch {
    // going anyway
  }
  cleanupSync();
  process.exit(1);
}, TOTAL_BUDGET_MS + 10_000).unref();

let exitCode = 0;
try {
  await main();
  console.log(`dashboard browser test: ${results.length} passed, 0 failed`);
} catch (e) {
  exitCode = 1;
  const message = e instanceof TestFailure ? e.message : (e.stack || String(e));
  console.error(`FAIL: ${message}`);
  console.log(`dashboard browser test: ${results.length} passed, 1 failed`);
  if (browser && SHOTS) {
    try {
      const pages = browser.contexts().flatMap((c) => c.pages());
      if (pages[0]) await screenshot(pages[0], 'failure');
    } catch {
      // best effort
    }
  }
} finally {
  try {
    if (browser) await browser.close();
  } catch {
    // closing a dead browser
  }
  cleanupSync();
}
process.exit(exitCode);
