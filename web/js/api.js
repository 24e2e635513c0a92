// The REST API client: JSON in and out, Flink's error shape ({"errors": [...]}) turned into an
// ApiError, and the JobManager's reachability tracked for the banner.

const TIMEOUT_MS = 10000;

export class ApiError extends Error {
  //! status 0: the JobManager could not be reached (network error or time-out).
  constructor(status, message, path) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.path = path;
  }
  get unreachable() {
    return this.status === 0;
  }
}

const listeners = new Set();
let reachable = true;
let lastError = '';
let lastContact = 0;

//! Calls `fn(reachable, lastError, lastContactMs)` whenever the reachability changes.
export function onReachability(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function isReachable() {
  return reachable;
}

function setReachable(ok, error = '') {
  if (ok) lastContact = Date.now();
  if (ok === reachable && error === lastError) return;
  reachable = ok;
  lastError = error;
  for (const fn of listeners) {
    try {
      fn(ok, error, lastContact);
    } catch (e) {
      console.warn('reachability listener failed', e);
    }
  }
}

async function errorMessage(response) {
  let text = '';
  try {
    text = await response.text();
    const body = JSON.parse(text);
    if (Array.isArray(body.errors) && body.errors.length > 0) return body.errors.join('; ');
  } catch {
    // not JSON: the text itself, below
  }
  return text ? text.slice(0, 500) : `HTTP ${response.status} ${response.statusText}`;
}

async function request(method, path, {body, headers, text = false, withHeaders = false,
  emptyBody = false} = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Accept: text ? 'text/plain' : 'application/json',
        ...(body !== undefined ? {'Content-Type': 'application/json'} : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : (emptyBody ? '' : undefined),
      signal: controller.signal,
      cache: 'no-store',
    });
  } catch (e) {
    const why = e && e.name === 'AbortError' ? 'no answer within 10 s' : 'connection failed';
    setReachable(false, why);
    throw new ApiError(0, `The JobManager cannot be reached (${why})`, path);
  } finally {
    clearTimeout(timer);
  }
  setReachable(true);
  if (!response.ok) {
    throw new ApiError(response.status, await errorMessage(response), path);
  }
  if (text) {
    const t = await response.text();
    return withHeaders ? {text: t, headers: response.headers} : t;
  }
  const raw = await response.text();
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(response.status, `invalid JSON from ${path}`, path);
  }
}

export const api = {
  get: (path, options) => request('GET', path, options),
  getText: (path, headers) => request('GET', path, {text: true, headers}),
  //! The last `bytes` of a text file: {text, start (its offset in the file), total (file size)}.
  getTail: async (path, bytes) => {
    const r = await request('GET', path, {text: true, withHeaders: true,
      headers: {Range: `bytes=-${bytes}`}});
    const m = /bytes (\d+)-(\d+)\/(\d+)/.exec(r.headers.get('Content-Range') ?? '');
    return m ? {text: r.text, start: Number(m[1]), total: Number(m[3])}
      : {text: r.text, start: 0, total: r.text.length};
  },
  post: (path, body) => request('POST', path, {body: body ?? {}}),
  // With an empty body (and so a Content-Length), as every HTTP client sends a PATCH.
  patch: (path) => request('PATCH', path, {emptyBody: true}),
};

//! GET `path`, or `fallback` when it answers 404 (e.g. checkpoints of a job without them).
export async function getOr404(path, fallback = null) {
  try {
    return await api.get(path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return fallback;
    throw e;
  }
}

//! The subtask metrics of a vertex aggregated over its subtasks, as {name: {min, max, avg, sum}}.
export async function vertexMetrics(jobId, vertexId, names) {
  const list = await api.get(
    `/jobs/${encodeURIComponent(jobId)}/vertices/${encodeURIComponent(vertexId)}` +
    `/subtasks/metrics?get=${names.join(',')}&agg=min,max,avg,sum`);
  const out = {};
  for (const m of Array.isArray(list) ? list : []) {
    out[m.id] = {min: Number(m.min), max: Number(m.max), avg: Number(m.avg), sum: Number(m.sum)};
  }
  return out;
}

//! A job's metrics (/jobs/:id/metrics) as {name: value}.
export async function jobMetrics(jobId, names) {
  const list = await api.get(`/jobs/${encodeURIComponent(jobId)}/metrics?get=${names.join(',')}`);
  const out = {};
  for (const m of Array.isArray(list) ? list : []) out[m.id] = m.value;
  return out;
}
