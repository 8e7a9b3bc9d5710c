// Durations: per job, the last N runs' durations with p50 and p95 and a
// small bar chart, so a job that grew slower shows.
import { get, qs, seg } from '../api.js';
import { h, fmtDuration } from '../util.js';

const SVG = 'http://www.w3.org/2000/svg';

function chart(durs, p50, p95) {
  const W = 240, H = 40;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('width', W);
  svg.setAttribute('height', H);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `durations of the last ${durs.length} runs, oldest first`);
  const max = Math.max(1, p95 || 0, ...durs.map((d) => d.ms));
  const bw = W / Math.max(durs.length, 1);
  durs.forEach((d, k) => {
    const r = document.createElementNS(SVG, 'rect');
    const bh = Math.max(1, (d.ms / max) * (H - 2));
    r.setAttribute('x', (k * bw + 1).toFixed(1));
    r.setAttribute('y', (H - bh).toFixed(1));
    r.setAttribute('width', Math.max(1, bw - 2).toFixed(1));
    r.setAttribute('height', bh.toFixed(1));
    if (p95 && d.ms > p95) r.setAttribute('class', 'slow');
    const t = document.createElementNS(SVG, 'title');
    t.textContent = `run #${d.run}: ${fmtDuration(d.ms)}`;
    r.append(t);
    svg.append(r);
  });
  for (const [v, cls] of [[p50, 'p50'], [p95, 'p95']]) {
    if (!v) continue;
    const l = document.createElementNS(SVG, 'line');
    const y = (H - (v / max) * (H - 2)).toFixed(1);
    l.setAttribute('x1', 0); l.setAttribute('x2', W);
    l.setAttribute('y1', y); l.setAttribute('y2', y);
    l.setAttribute('class', cls);
    svg.append(l);
  }
  return svg;
}

export async function durationsView(app, main, project) {
  const last = Number(new URLSearchParams(location.search).get('last')) || 30;
  main.append(h('h1', null, 'Durations · ' + project),
    h('p', null, h('a', { href: '/runs?project=' + seg(project) }, 'Runs of ' + project)));
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    app.go('/projects/' + seg(project) + '/durations' + qs({ last: form.last.value }));
  } }, h('label', null, 'Last runs',
    h('input', { name: 'last', type: 'number', min: 1, max: 1000, value: last })),
  h('button', { type: 'submit' }, 'Show'));
  main.append(form);
  const d = await get('/api/v1/projects/' + seg(project) + '/durations' + qs({ last }));
  const items = d.items || [];
  if (!items.length) { main.append(h('p', { class: 'muted' }, 'No finished jobs yet.')); return; }
  main.append(h('table', { id: 'durations' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Job'),
      h('th', { scope: 'col', class: 'num' }, 'p50'),
      h('th', { scope: 'col', class: 'num' }, 'p95'),
      h('th', { scope: 'col', class: 'num' }, 'Runs'),
      h('th', { scope: 'col' }, 'Last runs, oldest first'))),
    h('tbody', null, items.map((x) => {
      // Samples come newest first; the chart reads oldest first.
      const durs = (x.samples || x.durations || [])
        .map((s) => ({ run: s.run, ms: s.duration_ms ?? s.ms })).reverse();
      return h('tr', { dataset: { job: x.job } }, h('td', null, x.job),
        h('td', { class: 'num' }, fmtDuration(x.p50_ms)),
        h('td', { class: 'num' }, fmtDuration(x.p95_ms)),
        h('td', { class: 'num' }, String(durs.length)),
        h('td', null, chart(durs, x.p50_ms, x.p95_ms)));
    }))));
}
