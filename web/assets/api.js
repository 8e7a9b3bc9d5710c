// The API as the page uses it: same-origin fetches (the session cookie goes
// along), the CSRF token on every state-changing request, and the API's own
// error message handed to the caller so the page can show it.

let csrf = null;

export function setCsrf(token) { csrf = token; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function fail(r) {
  let code = 'http_' + r.status, message = r.status + ' ' + r.statusText;
  try {
    const body = await r.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (e) { /* not JSON: keep the status line */ }
  throw new ApiError(r.status, code, message);
}

export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  const init = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (!r.ok) await fail(r);
  if (opts.raw) return r;
  if (r.status === 204) return null;
  const type = r.headers.get('Content-Type') || '';
  return type.startsWith('application/json') ? r.json() : r.text();
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
  }
  return parts.length ? '?' + parts.join('&') : '';
}

export const seg = (s) => encodeURIComponent(s);

// One EventSource per tab for everything the tab follows: views say what
// they want (runs, a project's new runs, every run, job logs), and the
// stream is reopened with a new URL when that set changes. A dropped
// connection is resumed by the browser itself with Last-Event-ID.
export class Events {
  constructor() {
    this.subs = new Set();
    this.es = null;
    this.url = null;
    this.timer = null;
    this.state = 'closed';
  }

  subscribe(sub) {
    // sub: {runs: [ids], project, all, logs: ['RUN:JOB'], on: {run, job, log, end}}
    this.subs.add(sub);
    this.schedule();
    return () => { this.subs.delete(sub); this.schedule(); };
  }

  schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.reopen(); }, 0);
  }

  wanted() {
    const runs = new Set(), logs = new Set(), projects = new Set();
    let all = false, any = false;
    for (const s of this.subs) {
      any = true;
      (s.runs || []).forEach((id) => runs.add(id));
      (s.logs || []).forEach((l) => logs.add(l));
      if (s.all) all = true;
      if (s.project) projects.add(s.project);
    }
    if (!any) return null;
    const params = {};
    if (runs.size) params.runs = [...runs].join(',');
    if (logs.size) params.logs = [...logs].join(',');
    // Two projects' new runs at once: every run's, filtered here.
    if (all || projects.size > 1) params.all = '1';
    else if (projects.size === 1) params.project = [...projects][0];
    return '/api/v1/events' + qs(params);
  }

  reopen() {
    const url = this.wanted();
    if (url === this.url && this.es) return;
    if (this.es) this.es.close();
    this.es = null;
    this.url = url;
    if (!url) { this.state = 'closed'; return; }
    const es = new EventSource(url);
    this.es = es;
    this.state = 'connecting';
    es.onopen = () => { this.state = 'open'; document.body.dataset.sse = 'open'; };
    es.onerror = () => { this.state = 'retrying'; document.body.dataset.sse = 'retrying'; };
    for (const kind of ['run', 'job', 'log', 'end']) {
      es.addEventListener(kind, (ev) => {
        let data;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        for (const s of [...this.subs]) {
          if (s.on && s.on[kind]) s.on[kind](data, ev);
        }
      });
    }
  }
}
