// Per-vertex live figures of a running job, gathered from the REST API: back pressure, busy time,
// rates and the input watermark. Used by the graph, the vertex table and "Why is this slow?".

import {api, vertexMetrics} from './api.js';

export const VERTEX_METRICS = [
  'numRecordsInPerSecond', 'numRecordsOutPerSecond', 'numBytesInPerSecond',
  'numBytesOutPerSecond', 'busyTimeMsPerSecond', 'backPressuredTimeMsPerSecond',
  'idleTimeMsPerSecond', 'currentInputWatermark', 'numRecordsOut', 'numBytesOut',
];

//! The rates on the graph's edges are averaged over this window: a per-second rate of one report
//! interval jumps between 0 and many thousands when a back-pressured producer sends in bursts.
export const RATE_WINDOW_MS = 30000;

//! Keeps the counter samples of the last RATE_WINDOW_MS (a counter that went down, after a
//! restart, starts the window anew) and gives the rates over them: {records, bytes} per second,
//! null while the window spans less than 2.5 s.
export function windowRates(samples, sample) {
  const kept = samples.filter((s) => sample.at - s.at <= RATE_WINDOW_MS && s.at < sample.at &&
    s.records <= sample.records && s.bytes <= sample.bytes);
  kept.push(sample);
  const first = kept[0];
  const span = sample.at - first.at;
  const rates = span >= 2500
    ? {records: ((sample.records - first.records) * 1000) / span,
      bytes: ((sample.bytes - first.bytes) * 1000) / span}
    : null;
  return {samples: kept, rates};
}

/**
 * Figures of every vertex of `details` (GET /jobs/:id), keyed by vertex id. `previous` is the
 * result of the last call for the same job: records/s and bytes/s sent are averaged over the
 * counters (numRecordsOut, numBytesOut, else write-records and write-bytes) of the last
 * RATE_WINDOW_MS; until two samples exist, numRecordsOutPerSecond and numBytesOutPerSecond
 * (sums over the subtasks) as reported.
 *
 * Each entry: {backPressureLevel, backPressureRatio, busyMsPerSecond (max over subtasks),
 * busyAvgMsPerSecond, idleMsPerSecond (max), recordsInPerSecond, recordsOutPerSecond,
 * bytesOutPerSecond (sums; null when unknown), ratesAveraged (whether those two come from the
 * window), instantRecordsOutPerSecond and instantBytesOutPerSecond (as reported),
 * watermark (min over subtasks; null: none yet), samples, at (server time ms), error (text,
 * when the vertex's figures could not be read)}.
 */
export async function gatherVertexFigures(details, previous) {
  const jobId = details.jid;
  const now = Number(details.now) || Date.now();
  const out = {};
  await Promise.all((details.vertices ?? []).map(async (v) => {
    const base = `/jobs/${encodeURIComponent(jobId)}/vertices/${encodeURIComponent(v.id)}`;
    const entry = {at: now, samples: []};
    out[v.id] = entry;
    const [bp, m] = await Promise.allSettled([
      api.get(`${base}/backpressure`),
      vertexMetrics(jobId, v.id, VERTEX_METRICS),
    ]);
    const mm = m.status === 'fulfilled' ? m.value : {};
    if (bp.status === 'fulfilled') {
      const subtasks = Array.isArray(bp.value.subtasks) ? bp.value.subtasks : [];
      // Until the first report every ratio is 0: no level yet rather than a false "ok".
      if (subtasks.length > 0 && mm.backPressuredTimeMsPerSecond) {
        entry.backPressureLevel = bp.value['backpressure-level'];
        entry.backPressureRatio = Math.max(0, ...subtasks.map((s) => Number(s.ratio) || 0));
      }
    } else {
      entry.error = bp.reason?.message ?? String(bp.reason);
    }
    if (m.status === 'rejected' && !entry.error) entry.error = m.reason?.message ?? String(m.reason);
    if (mm.busyTimeMsPerSecond) {
      entry.busyMsPerSecond = mm.busyTimeMsPerSecond.max;
      entry.busyAvgMsPerSecond = mm.busyTimeMsPerSecond.avg;
    }
    if (mm.idleTimeMsPerSecond) entry.idleMsPerSecond = mm.idleTimeMsPerSecond.max;
    if (mm.currentInputWatermark) entry.watermark = mm.currentInputWatermark.min;
    entry.recordsInPerSecond = mm.numRecordsInPerSecond ? mm.numRecordsInPerSecond.sum : null;
    entry.instantRecordsOutPerSecond = mm.numRecordsOutPerSecond ? mm.numRecordsOutPerSecond.sum : null;
    entry.instantBytesOutPerSecond = mm.numBytesOutPerSecond ? mm.numBytesOutPerSecond.sum : null;

    const records = mm.numRecordsOut ? mm.numRecordsOut.sum : Number(v.metrics?.['write-records']);
    const bytes = mm.numBytesOut ? mm.numBytesOut.sum : Number(v.metrics?.['write-bytes']);
    let rates = null;
    if (Number.isFinite(records) && Number.isFinite(bytes)) {
      const w = windowRates(previous?.[v.id]?.samples ?? [], {at: now, records, bytes});
      entry.samples = w.samples;
      rates = w.rates;
    }
    entry.ratesAveraged = !!rates;
    entry.recordsOutPerSecond = rates ? rates.records : entry.instantRecordsOutPerSecond;
    entry.bytesOutPerSecond = rates ? rates.bytes : entry.instantBytesOutPerSecond;
  }));
  return out;
}

//! The input of whySlow() from job details and gathered figures.
export function whySlowInput(details, figures) {
  const inputsOf = new Map();
  for (const node of details.plan?.nodes ?? []) {
    inputsOf.set(node.id, (node.inputs ?? []).map((i) => i.id));
  }
  return {
    state: details.state,
    vertices: (details.vertices ?? []).map((v) => ({
      id: v.id, name: v.name, parallelism: v.parallelism, inputs: inputsOf.get(v.id) ?? [],
    })),
    metrics: figures ?? {},
  };
}
