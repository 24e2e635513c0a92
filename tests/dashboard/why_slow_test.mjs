// Unit tests of the dashboard's "Why is this slow?" logic (web/js/why_slow_logic.js) and of the
// pure helpers next to it: node --test why_slow_test.mjs
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {whySlow} from '../../web/js/why_slow_logic.js';
import {layoutGraph} from '../../web/js/graph_layout.js';
import {parseHash} from '../../web/js/router.js';

// Source -> Map -> Sink, a chain.
const CHAIN = [
  {id: 'src', name: 'Source: Transactions', inputs: []},
  {id: 'map', name: 'Enrich', inputs: ['src']},
  {id: 'sink', name: 'Sink: Ledger', inputs: ['map']},
];

function metrics(level, ratio, busyMs, busyAvgMs = busyMs) {
  return {backPressureLevel: level, backPressureRatio: ratio, busyMsPerSecond: busyMs,
    busyAvgMsPerSecond: busyAvgMs};
}

test('the busy sink downstream of back-pressured vertices is the bottleneck', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {
      src: metrics('high', 0.85, 20),
      map: metrics('high', 0.85, 140),
      sink: metrics('ok', 0, 980),
    },
  });
  assert.equal(v.kind, 'bottleneck');
  assert.equal(v.bottleneck.id, 'sink');
  assert.equal(v.message,
    "'Sink: Ledger' is the bottleneck: its subtasks are busy 98% of the time, and the 2 " +
    "vertices upstream of it ('Source: Transactions', 'Enrich') wait for it 85% of the time. " +
    'Raise its parallelism or make it faster.');
  assert.deepEqual(v.waiting.map((w) => w.id), ['src', 'map']);
});

test('one waiting vertex is named in the singular, with its own ratio', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: [
      {id: 'a', name: 'Transactions', inputs: []},
      {id: 'b', name: 'Apply -> Ledger file sink', inputs: ['a']},
    ],
    metrics: {a: metrics('high', 1, 0), b: metrics('ok', 0, 1000)},
  });
  assert.equal(v.kind, 'bottleneck');
  assert.equal(v.bottleneck.name, 'Apply -> Ledger file sink');
  assert.match(v.message, /'Transactions', upstream of it, waits for it 100% of the time\./);
});

test('different waiting ratios are reported as "up to" the highest', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {src: metrics('low', 0.3, 10), map: metrics('high', 0.9, 50), sink: metrics('ok', 0, 990)},
  });
  assert.match(v.message, /wait for it up to 90% of the time/);
});

test('the bottleneck is the busiest downstream vertex, not the first one', () => {
  // src -> a -> b -> sink; a and b both downstream, b busier.
  const v = whySlow({
    state: 'RUNNING',
    vertices: [
      {id: 'src', name: 'src', inputs: []},
      {id: 'a', name: 'a', inputs: ['src']},
      {id: 'b', name: 'b', inputs: ['a']},
      {id: 'sink', name: 'sink', inputs: ['b']},
    ],
    metrics: {
      src: metrics('high', 0.95, 5),
      a: metrics('ok', 0.05, 300),
      b: metrics('ok', 0, 970),
      sink: metrics('ok', 0, 100),
    },
  });
  assert.equal(v.bottleneck.id, 'b');
  assert.deepEqual(v.waiting.map((w) => w.id), ['src']);
});

test('upstream vertices are never the bottleneck, however busy', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {src: metrics('ok', 0, 1000), map: metrics('high', 0.7, 300), sink: metrics('ok', 0, 600)},
  });
  assert.equal(v.bottleneck.id, 'sink');
});

test('no back pressure: every vertex keeps up', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {src: metrics('ok', 0, 100), map: metrics('ok', 0.02, 200), sink: metrics('ok', 0, 300)},
  });
  assert.equal(v.kind, 'ok');
  assert.equal(v.bottleneck, null);
  assert.equal(v.message, 'No back pressure: every vertex keeps up.');
});

test('no back pressure but a vertex near its limit is named', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {src: metrics('ok', 0, 100), map: metrics('ok', 0, 900), sink: metrics('ok', 0, 300)},
  });
  assert.equal(v.kind, 'ok');
  assert.match(v.message, /^No back pressure: every vertex keeps up\. The busiest, 'Enrich', is busy 90%/);
});

test('a job that does not run has no verdict on its speed', () => {
  for (const state of ['FINISHED', 'CANCELED', 'FAILED']) {
    const v = whySlow({state, vertices: CHAIN, metrics: {}});
    assert.equal(v.kind, 'not-running');
    assert.match(v.message, new RegExp(`The job is ${state}: it no longer runs`));
  }
  const restarting = whySlow({state: 'RESTARTING', vertices: CHAIN, metrics: {}});
  assert.equal(restarting.kind, 'not-running');
  assert.match(restarting.message, /RESTARTING, not RUNNING/);
});

test('a running job without metrics yet waits for them', () => {
  const v = whySlow({state: 'RUNNING', vertices: CHAIN, metrics: {}});
  assert.equal(v.kind, 'no-metrics');
  assert.match(v.message, /Waiting for the first metrics/);
  const partial = whySlow({state: 'RUNNING', vertices: CHAIN, metrics: {src: {}}});
  assert.equal(partial.kind, 'no-metrics');
});

test('back pressure whose downstream has no busy time yet is unclear, not a crash', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {src: {backPressureLevel: 'high', backPressureRatio: 0.9, busyMsPerSecond: 10}},
  });
  assert.equal(v.kind, 'unclear');
  assert.equal(v.bottleneck, null);
});

test('skewed subtasks are called out instead of asking for more parallelism', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: CHAIN,
    metrics: {src: metrics('high', 0.8, 10), map: metrics('high', 0.8, 10),
      sink: metrics('ok', 0, 990, 300)},
  });
  assert.equal(v.bottleneck.id, 'sink');
  assert.match(v.message, /unevenly loaded \(average 30%\)/);
  assert.doesNotMatch(v.message, /Raise its parallelism/);
});

test('two branches with their own bottlenecks are both reported', () => {
  // s1 -> k1 and s2 -> k2, independent.
  const v = whySlow({
    state: 'RUNNING',
    vertices: [
      {id: 's1', name: 'S1', inputs: []},
      {id: 'k1', name: 'K1', inputs: ['s1']},
      {id: 's2', name: 'S2', inputs: []},
      {id: 'k2', name: 'K2', inputs: ['s2']},
    ],
    metrics: {s1: metrics('high', 0.9, 5), k1: metrics('ok', 0, 995),
      s2: metrics('low', 0.4, 5), k2: metrics('ok', 0, 700)},
  });
  assert.equal(v.bottleneck.id, 'k1');
  assert.deepEqual(v.others, ["'K2' also holds back 'S2': busy 70% of the time."]);
});

test('a join: both inputs wait for the busy join', () => {
  const v = whySlow({
    state: 'RUNNING',
    vertices: [
      {id: 'a', name: 'Orders', inputs: []},
      {id: 'b', name: 'Payments', inputs: []},
      {id: 'j', name: 'Join', inputs: ['a', 'b']},
      {id: 'k', name: 'Sink', inputs: ['j']},
    ],
    metrics: {a: metrics('high', 0.7, 30), b: metrics('high', 0.7, 30), j: metrics('ok', 0, 960),
      k: metrics('ok', 0, 50)},
  });
  assert.equal(v.bottleneck.id, 'j');
  assert.match(v.message, /the 2 vertices upstream of it \('Orders', 'Payments'\) wait for it 70%/);
});

test('malformed input never throws', () => {
  assert.equal(whySlow(undefined).kind, 'not-running');
  assert.equal(whySlow({state: 'RUNNING'}).kind, 'no-metrics');
  const v = whySlow({state: 'RUNNING', vertices: [{id: 'x', name: 'X', inputs: ['missing']}],
    metrics: {x: metrics('high', 0.9, 10)}});
  assert.equal(v.kind, 'unclear');
});

test('the graph layout puts each vertex one level right of its inputs', () => {
  const layout = layoutGraph([
    {id: 'a', inputs: []},
    {id: 'b', inputs: [{id: 'a', ship_strategy: 'HASH'}]},
    {id: 'c', inputs: [{id: 'a', ship_strategy: 'FORWARD'}, {id: 'b', ship_strategy: 'REBALANCE'}]},
  ]);
  assert.equal(layout.boxes.get('a').level, 0);
  assert.equal(layout.boxes.get('b').level, 1);
  assert.equal(layout.boxes.get('c').level, 2);
  assert.ok(layout.boxes.get('a').x < layout.boxes.get('b').x);
  assert.ok(layout.boxes.get('b').x < layout.boxes.get('c').x);
  assert.deepEqual(layout.edges.map((e) => `${e.from}>${e.to}:${e.ship}`),
    ['a>b:HASH', 'a>c:FORWARD', 'b>c:REBALANCE']);
});

test('hash routes', () => {
  assert.deepEqual(parseHash(''), {page: 'overview', params: {}});
  assert.deepEqual(parseHash('#/jobs/abc'), {page: 'job', params: {jobId: 'abc', tab: 'overview'}});
  assert.deepEqual(parseHash('#/jobs/abc/checkpoints'),
    {page: 'job', params: {jobId: 'abc', tab: 'checkpoints'}});
  assert.equal(parseHash('#/jobs/abc/nope').page, 'not-found');
  assert.deepEqual(parseHash('#/logs/taskmanagers/tm-1/a%20b.log'),
    {page: 'log', params: {tmId: 'tm-1', name: 'a b.log', source: 'taskmanager'}});
  assert.equal(parseHash('#/logs/jobmanager/jobmanager.log').params.source, 'jobmanager');
});

test('edge rates are averaged over the counters of a 30 s window', async () => {
  const {windowRates, RATE_WINDOW_MS} = await import('../../web/js/job_metrics.js');
  let w = windowRates([], {at: 0, records: 0, bytes: 0});
  assert.equal(w.rates, null); // one sample: no rate yet
  // A bursty producer: 14000 records in one interval, none in the next two.
  w = windowRates(w.samples, {at: 3000, records: 14000, bytes: 28000});
  w = windowRates(w.samples, {at: 6000, records: 14000, bytes: 28000});
  w = windowRates(w.samples, {at: 9000, records: 18000, bytes: 36000});
  assert.equal(w.rates.records, 2000);
  assert.equal(w.rates.bytes, 4000);
  // Old samples leave the window.
  w = windowRates(w.samples, {at: 9000 + RATE_WINDOW_MS, records: 78000, bytes: 156000});
  assert.equal(w.samples[0].at, 9000);
  assert.equal(w.rates.records, 2000);
  // A counter that went down (the job restarted) starts the window anew.
  w = windowRates(w.samples, {at: 50000, records: 10, bytes: 20});
  assert.equal(w.samples.length, 1);
  assert.equal(w.rates, null);
});
