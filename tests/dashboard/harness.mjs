// What the dashboard's browser tests share: a local cluster started with the built `sluice` and
// stopped (or its daemons killed by pid) whatever happens, polling with a deadline, named checks,
// screenshots and the run loop with its time budget. No test logic here.

import {execFile, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

export const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const BUILD = path.resolve(process.env.SLUICE_BUILD_DIR || path.join(here, '..', '..', 'build'));
export const SLUICE = path.join(BUILD, 'bin', 'sluice');
export const WEB_DIR = process.env.SLUICE_WEB_DIR ? path.resolve(process.env.SLUICE_WEB_DIR) : '';
export const SHOTS = process.env.SLUICE_SCREENSHOT_DIR
  ? path.resolve(process.env.SLUICE_SCREENSHOT_DIR) : '';
export const CHROMIUM = process.env.SLUICE_CHROMIUM || '/usr/bin/chromium';

export class TestFailure extends Error {}

export function fail(message) {
  throw new TestFailure(message);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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

//! One test run: its log, its time budget, its local cluster and its browser, cleaned up on every
//! way out (normal end, failure, signal, overrun).
export class TestRun {
  constructor(name, budgetMs) {
    this.name = name;
    this.budgetMs = budgetMs;
    this.started = Date.now();
    this.results = [];
    this.clusterDir = '';
    this.clusterRunning = false;
    this.browser = null;
    this.cleanedUp = false;
  }

  log(message) {
    console.log(`[${this.name} ${((Date.now() - this.started) / 1000).toFixed(1)}s] ${message}`);
  }

  remaining() {
    return this.budgetMs - (Date.now() - this.started);
  }

  //! Starts `sluice cluster start --dir <tmp> ...args` with a free RPC and REST port; returns the
  //! dashboard's URL and the JobManager's RPC address.
  async startCluster(args) {
    this.clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-dashboard-'));
    const all = ['cluster', 'start', '--dir', this.clusterDir, ...args,
      '-D', 'jobmanager.rpc.port=0', '-D', 'rest.port=0', '-D', 'metrics.reporter.prom.port=0'];
    if (WEB_DIR) all.push('-D', `web.dashboard.dir=${WEB_DIR}`);
    this.clusterRunning = true; // from here on, cleanup stops it (even if start fails half-way)
    let out;
    try {
      out = await run(SLUICE, all, {timeout: 90_000});
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

  //! `sluice run PACKAGE --detached --jobmanager RPC ...args`; returns the job id.
  async submit(rpc, pkg, args) {
    let r;
    try {
      r = await run(SLUICE, ['run', pkg, '--jobmanager', rpc, '--detached', ...args], {timeout: 90_000});
    } catch (e) {
      fail(`'sluice run ${path.basename(pkg)}' failed: ${e.stderr || e.message}`);
    }
    const jobId = /Job ([0-9a-f]{32})/.exec(r.stdout)?.[1];
    if (!jobId) fail(`cannot read the job id from:\n${r.stdout}`);
    return jobId;
  }

  //! Stops the cluster (synchronously, so it also works from a signal handler); kills its daemons
  //! by pid when the stop fails or leaves one behind.
  stopClusterSync() {
    if (!this.clusterDir || !this.clusterRunning) return;
    const pids = readPids(this.clusterDir);
    try {
      execFileSync(SLUICE, ['cluster', 'stop', '--dir', this.clusterDir], {timeout: 60_000, stdio: 'pipe'});
      this.log('cluster stopped');
    } catch (e) {
      this.log(`'sluice cluster stop' failed (${e.message.split('\n')[0]}): killing the daemons by pid`);
    }
    for (const pid of pids) {
      if (liveDaemon(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
          this.log(`killed leftover daemon ${pid}`);
        } catch {
          // already gone
        }
      }
    }
    this.clusterRunning = false;
  }

  cleanupSync() {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    try {
      if (this.browser) this.browser.process()?.kill('SIGKILL');
    } catch {
      // the browser goes with us anyway
    }
    this.stopClusterSync();
    if (this.clusterDir) {
      try {
        fs.rmSync(this.clusterDir, {recursive: true, force: true});
      } catch (e) {
        this.log(`cannot remove ${this.clusterDir}: ${e.message}`);
      }
    }
  }

  //! Polls `probe` until it returns a truthy value (and not {ok: false, ...}); fails after
  //! `timeoutMs` naming `what` and the last value seen.
  async waitFor(what, probe, timeoutMs = 90_000) {
    const deadline = Date.now() + Math.min(timeoutMs, Math.max(1000, this.remaining()));
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

  async check(name, fn) {
    const t0 = Date.now();
    await fn();
    this.results.push(name);
    this.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  async screenshot(page, name) {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, {recursive: true});
    const file = path.join(SHOTS, `${name}.png`);
    await page.screenshot({path: file});
    this.log(`screenshot ${file}`);
  }

  //! Checks that the built binaries, `files` ([path, hint]) and the dashboard are there, then
  //! launches Chromium; returns playwright's browser.
  async launchBrowser(files = []) {
    for (const [file, hint] of [
      [SLUICE, 'build the project (make build)'],
      [CHROMIUM, 'install Debian\'s chromium: scripts/install-dashboard-deps.sh'],
      ...files,
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
    this.browser = await chromium.launch({executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless=new'], timeout: 60_000});
    return this.browser;
  }

  //! Runs `main(this)` within the budget and exits the process: 0 when every check passed.
  async main(main) {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
      process.on(signal, () => {
        this.log(`${signal}: stopping the cluster`);
        this.cleanupSync();
        process.exit(1);
      });
    }
    // Last resort: never outlive ctest's time-out with the cluster still running.
    setTimeout(() => {
      console.error(`FAIL: the test ran longer than ${this.budgetMs / 1000 + 10} s`);
      this.cleanupSync();
      process.exit(1);
    }, this.budgetMs + 10_000).unref();

    let exitCode = 0;
    try {
      await main(this);
      console.log(`${this.name}: ${this.results.length} passed, 0 failed`);
    } catch (e) {
      exitCode = 1;
      const message = e instanceof TestFailure ? e.message : (e.stack || String(e));
      console.error(`FAIL: ${message}`);
      console.log(`${this.name}: ${this.results.length} passed, 1 failed`);
      if (this.browser && SHOTS) {
        try {
          const pages = this.browser.contexts().flatMap((c) => c.pages());
          if (pages[0]) await this.screenshot(pages[0], 'failure');
        } catch {
          // best effort
        }
      }
    } finally {
      try {
        if (this.browser) await this.browser.close();
      } catch {
        // closing a dead browser
      }
      this.cleanupSync();
    }
    process.exit(exitCode);
  }
}

//! A page that records uncaught errors and console errors, and reads an element's text.
export async function openPage(browser) {
  const page = await browser.newPage({viewport: {width: 1400, height: 900}});
  page.setDefaultTimeout(60_000);
  const errors = {page: [], console: []};
  page.on('pageerror', (e) => errors.page.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.console.push(m.text());
  });
  const text = (selector) => page.evaluate((s) => document.querySelector(s)?.textContent?.trim() ?? null, selector);
  return {page, errors, text};
}

//! Fails when the page had an uncaught error or a console error other than a failed resource load.
export function checkNoScriptErrors(errors) {
  if (errors.page.length > 0) fail(`uncaught errors in the page: ${errors.page.join(' | ')}`);
  const unexpected = errors.console.filter((m) => !m.startsWith('Failed to load resource'));
  if (unexpected.length > 0) fail(`console errors: ${unexpected.join(' | ')}`);
}

export async function rest(base, p) {
  const response = await fetch(`${base}${p}`);
  if (!response.ok) fail(`GET ${p}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}
