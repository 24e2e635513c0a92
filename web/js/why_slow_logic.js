// "Why is this slow?": the verdict from a job graph and per-vertex metrics. Pure logic, no DOM,
// so that node can test it (tests/dashboard/why_slow_test.mjs).
//
// A back-pressured vertex (level low or high) waits for its output buffers: something downstream
// of it cannot keep up. Among the vertices downstream of back-pressured ones, the busiest
// (busyTimeMsPerSecond, max over its subtasks) is the root of the back pressure: the bottleneck.

//! Below this busy ratio a bottleneck may not be its own work: its output or an outside system.
export const LOW_BUSY = 0.5;
//! Above this busy ratio a vertex that causes no back pressure yet is worth naming.
export const HIGH_BUSY = 0.8;

const ENDED = new Set(['FINISHED', 'FAILED', 'CANCELED']);

function quoted(v) {
  return `'${v.name}'`;
}

function pct(ratio) {
  return `${Math.round(Math.max(0, Math.min(1, ratio)) * 100)}%`;
}

function isBackPressured(m) {
  return !!m && (m.backPressureLevel === 'high' || m.backPressureLevel === 'low');
}

function busyOf(m) {
  return m && Number.isFinite(m.busyMsPerSecond) ? m.busyMsPerSecond / 1000 : null;
}

//! The vertices reachable from `start` by following `next` (start excluded).
function reachable(start, next) {
  const seen = new Set();
  const stack = [...(next.get(start) ?? [])];
  while (stack.length > 0) {
    const id = stack.pop();
    if (seen.has(id) || id === start) continue;
    seen.add(id);
    for (const n of next.get(id) ?? []) stack.push(n);
  }
  return seen;
}

function joinNames(vertices, max = 3) {
  const names = vertices.slice(0, max).map(quoted);
  if (vertices.length > max) names.push('...');
  return names.join(', ');
}

/**
 * The verdict for one job.
 *
 * @param {object} job
 * @param {string} job.state the job's state (RUNNING, FINISHED, ...)
 * @param {Array<{id: string, name: string, parallelism?: number, inputs?: string[]}>} job.vertices
 *     the job graph: each vertex with the ids of the vertices it reads from
 * @param {Object<string, {backPressureLevel?: string, backPressureRatio?: number,
 *     busyMsPerSecond?: number, busyAvgMsPerSecond?: number}>} job.metrics per vertex id:
 *     the back pressure level and max ratio (0..1) of the backpressure endpoint, and the max (and
 *     average) of busyTimeMsPerSecond over the vertex's subtasks; a vertex without metrics yet is
 *     absent or has undefined fields
 * @returns {{kind: string, severity: string, message: string, bottleneck: object|null,
 *     waiting: object[], backPressured: object[], others: string[]}}
 *     kind: 'not-running' | 'no-metrics' | 'ok' | 'bottleneck' | 'unclear';
 *     severity: 'info' | 'ok' | 'warn' | 'bad' (for the panel's colour)
 */
export function whySlow(job) {
  const state = String(job?.state ?? 'UNKNOWN');
  const vertices = Array.isArray(job?.vertices) ? job.vertices : [];
  const metrics = job?.metrics ?? {};
  const result = {
    kind: 'ok', severity: 'ok', message: '', bottleneck: null, waiting: [], backPressured: [],
    others: [],
  };

  if (state !== 'RUNNING') {
    result.kind = 'not-running';
    result.severity = 'info';
    result.message = ENDED.has(state)
      ? `The job is ${state}: it no longer runs, so nothing is slow now.`
      : `The job is ${state}, not RUNNING: its speed can be judged once it runs.`;
    return result;
  }
  if (vertices.length === 0) {
    result.kind = 'no-metrics';
    result.severity = 'info';
    result.message = 'The job has no vertices to look at.';
    return result;
  }

  const byId = new Map(vertices.map((v) => [v.id, v]));
  const order = new Map(vertices.map((v, i) => [v.id, i]));
  const downstream = new Map(vertices.map((v) => [v.id, []]));
  const upstream = new Map(vertices.map((v) => [v.id, []]));
  for (const v of vertices) {
    for (const input of v.inputs ?? []) {
      if (!byId.has(input)) continue;
      downstream.get(input).push(v.id);
      upstream.get(v.id).push(input);
    }
  }

  const withMetrics = vertices.filter((v) => {
    const m = metrics[v.id];
    return m && (m.backPressureLevel !== undefined || busyOf(m) !== null);
  });
  if (withMetrics.length === 0) {
    result.kind = 'no-metrics';
    result.severity = 'info';
    result.message = 'Waiting for the first metrics from the TaskManagers.';
    return result;
  }

  const ratioOf = (v) => metrics[v.id]?.backPressureRatio ?? 0;
  const backPressured = vertices.filter((v) => isBackPressured(metrics[v.id]));
  result.backPressured = backPressured.map((v) => ({
    id: v.id, name: v.name, level: metrics[v.id].backPressureLevel, ratio: ratioOf(v),
  }));

  if (backPressured.length === 0) {
    result.kind = 'ok';
    result.severity = 'ok';
    result.message = 'No back pressure: every vertex keeps up.';
    const busiest = busiestOf(withMetrics, metrics, order);
    if (busiest && busyOf(metrics[busiest.id]) >= HIGH_BUSY) {
      result.message += ` The busiest, ${quoted(busiest)}, is busy ` +
        `${pct(busyOf(metrics[busiest.id]))} of the time: it would be the first to fall behind ` +
        'if the input grew.';
    }
    return result;
  }

  // Candidates: every vertex downstream of a back-pressured one, with a busy time.
  const bpIds = new Set(backPressured.map((v) => v.id));
  const candidateIds = new Set();
  for (const v of backPressured) {
    for (const id of reachable(v.id, downstream)) candidateIds.add(id);
  }
  const candidates = [...candidateIds].map((id) => byId.get(id))
    .filter((v) => busyOf(metrics[v.id]) !== null);
  const best = pickBottleneck(candidates, metrics, bpIds, order);

  if (!best) {
    result.kind = 'unclear';
    result.severity = 'warn';
    const names = joinNames(backPressured);
    const noDownstream = backPressured.every((v) => downstream.get(v.id).length === 0);
    result.message = noDownstream
      ? `${names} ${backPressured.length === 1 ? 'is' : 'are'} back-pressured but ` +
        'nothing in this job reads from them: an outside system they write to is slow.'
      : `${names} ${backPressured.length === 1 ? 'is' : 'are'} back-pressured, but the ` +
        'vertices downstream have sent no busy time yet: wait for their metrics.';
    return result;
  }

  const ancestors = reachable(best.id, upstream);
  const waiting = backPressured.filter((v) => ancestors.has(v.id));
  result.kind = 'bottleneck';
  result.severity = 'bad';
  result.bottleneck = {
    id: best.id, name: best.name, busy: busyOf(metrics[best.id]),
    busyAvg: Number.isFinite(metrics[best.id].busyAvgMsPerSecond)
      ? metrics[best.id].busyAvgMsPerSecond / 1000 : null,
    parallelism: best.parallelism ?? null,
  };
  result.waiting = waiting.map((v) => ({id: v.id, name: v.name, ratio: ratioOf(v)}));
  result.message = bottleneckSentence(result.bottleneck, waiting, ratioOf);

  // Back pressure that the bottleneck does not explain (another branch of the graph).
  const explained = new Set(waiting.map((v) => v.id));
  const rest = backPressured.filter((v) => !explained.has(v.id) && v.id !== best.id);
  const seenOthers = new Set([best.id]);
  for (const v of rest) {
    const own = pickBottleneck(
      [...reachable(v.id, downstream)].map((id) => byId.get(id))
        .filter((c) => busyOf(metrics[c.id]) !== null),
      metrics, bpIds, order);
    if (!own || seenOthers.has(own.id)) continue;
    seenOthers.add(own.id);
    result.others.push(`${quoted(own)} also holds back ${quoted(v)}: busy ` +
      `${pct(busyOf(metrics[own.id]))} of the time.`);
  }
  return result;
}

function busiestOf(vertices, metrics, order) {
  let best = null;
  for (const v of vertices) {
    const busy = busyOf(metrics[v.id]);
    if (busy === null) continue;
    if (!best || busy > busyOf(metrics[best.id]) ||
        (busy === busyOf(metrics[best.id]) && order.get(v.id) < order.get(best.id))) {
      best = v;
    }
  }
  return best;
}

//! The busiest candidate; on a tie one that is not back-pressured itself, then the most upstream.
function pickBottleneck(candidates, metrics, bpIds, order) {
  let best = null;
  const better = (a, b) => {
    const ba = busyOf(metrics[a.id]);
    const bb = busyOf(metrics[b.id]);
    if (Math.abs(ba - bb) > 1e-9) return ba > bb;
    const pa = bpIds.has(a.id) ? 1 : 0;
    const pb = bpIds.has(b.id) ? 1 : 0;
    if (pa !== pb) return pa < pb;
    return order.get(a.id) < order.get(b.id);
  };
  for (const c of candidates) {
    if (!best || better(c, best)) best = c;
  }
  return best;
}

function bottleneckSentence(bottleneck, waiting, ratioOf) {
  let s = `${quoted(bottleneck)} is the bottleneck: its subtasks are busy ` +
    `${pct(bottleneck.busy)} of the time`;
  if (waiting.length === 1) {
    s += `, and ${quoted(waiting[0])}, upstream of it, waits for it ` +
      `${pct(ratioOf(waiting[0]))} of the time.`;
  } else if (waiting.length > 1) {
    const ratios = waiting.map(ratioOf);
    const lo = Math.min(...ratios);
    const hi = Math.max(...ratios);
    const howMuch = Math.round(lo * 100) === Math.round(hi * 100) ? pct(hi) : `up to ${pct(hi)}`;
    s += `, and the ${waiting.length} vertices upstream of it (${joinNames(waiting)}) wait ` +
      `for it ${howMuch} of the time.`;
  } else {
    s += '.';
  }
  if (bottleneck.busy < LOW_BUSY) {
    s += ' It is not busy most of the time, so it may itself wait: for the network, for its ' +
      'output, or for an outside system it writes to.';
  } else if (bottleneck.busyAvg !== null && bottleneck.busy >= LOW_BUSY &&
             bottleneck.busyAvg < 0.6 * bottleneck.busy) {
    s += ` Its subtasks are unevenly loaded (average ${pct(bottleneck.busyAvg)}): the data ` +
      'is skewed, so spread the keys better; more parallelism helps little.';
  } else {
    s += ' Raise its parallelism or make it faster.';
  }
  return s;
}
