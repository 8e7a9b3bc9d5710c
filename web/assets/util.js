// DOM helpers: elements are built with h(), text is always set as text.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, v);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function statusPill(status) {
  return h('span', { class: 'status st-' + status, dataset: { status } }, status);
}

export function ms(t) { return t ? Date.parse(t) : null; }

export function fmtDuration(msec) {
  if (msec === null || msec === undefined || Number.isNaN(msec)) return '—';
  if (msec < 1000) return msec + ' ms';
  let s = Math.round(msec / 1000);
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return m + ' min ' + s + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

export function runDuration(run) {
  const a = ms(run.started_at);
  if (!a) return null;
  const b = ms(run.finished_at) || Date.now();
  return Math.max(0, b - a);
}

export function fmtAge(t) {
  const v = ms(t);
  if (!v) return '—';
  const s = Math.max(0, Math.round((Date.now() - v) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

export function timeEl(t) {
  if (!t) return '—';
  return h('time', { datetime: t, title: t }, fmtAge(t));
}

export function refLabel(run) {
  if (run.pr) return 'PR #' + run.pr;
  if (run.tag) return run.tag;
  return run.branch || run.ref || '—';
}

export const FINISHED = ['success', 'failed', 'canceled', 'error'];
