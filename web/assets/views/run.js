// A run: its jobs by stage, drawn as the graph of `needs`, each with its
// status, attempts, duration and progress against its usual duration; what
// triggered it; the pipeline it ran; its artifacts; the actions the
// signed-in scope allows.
import { get, post, seg } from '../api.js';
import {
  h, clear, statusPill, fmtDuration, runDuration, timeEl, refLabel, ms, fmtBytes, FINISHED,
} from '../util.js';

const SVG = 'http://www.w3.org/2000/svg';

function jobDuration(job) {
  const a = job.attempts && job.attempts[job.attempts.length - 1];
  if (!a || !a.started_at) return null;
  return (ms(a.finished_at) || Date.now()) - ms(a.started_at);
}

function commitLink(run, url) {
  if (!run.commit) return '—';
  const short = h('code', null, run.commit.slice(0, 12));
  return url ? h('a', { href: url }, short) : short;
}

export async function runView(app, main, id) {
  const heading = h('h1', null, 'Run #' + id);
  const alertBox = h('div');
  const info = h('div');
  const graph = h('div', { class: 'graph', id: 'graph' });
  const actions = h('div', { class: 'actions', id: 'run-actions' });
  main.append(heading, actions, alertBox, info, h('h2', null, 'Jobs'), graph);
  let usual = new Map();
  let run = null;

  const extra = h('div');
  main.append(extra);

  // What has the focus, said so that it can be found again in what a
  // render draws anew: keyboard users keep their place when events come.
  const focusKey = () => {
    const el = document.activeElement;
    if (!el || !main.contains(el)) return null;
    if (el.id) return '#' + CSS.escape(el.id);
    const box = el.closest('.job');
    if (box) {
      return `.job[data-job="${CSS.escape(box.dataset.job)}"] `
        + (el.classList.contains('approve') ? 'button.approve' : 'a.name');
    }
    return null;
  };

  const render = () => {
    const key = focusKey();
    draw();
    if (key) {
      const again = main.querySelector(key);
      if (again) again.focus();
    }
  };

  const draw = () => {
    heading.textContent = 'Run #' + run.id + ' · ' + run.project;
    heading.append(' ', statusPill(run.status));
    clear(info).append(h('dl', { class: 'kv card' },
      h('dt', null, 'Project'),
      h('dd', null, h('a', { href: '/runs?project=' + seg(run.project) }, run.project)),
      h('dt', null, 'Branch'), h('dd', null, refLabel(run)),
      h('dt', null, 'Commit'), h('dd', null, commitLink(run, run.commit_url)),
      h('dt', null, 'Trigger'), h('dd', null, run.trigger),
      h('dt', null, 'Triggered by'), h('dd', null, run.actor || '—'),
      h('dt', null, 'Created'), h('dd', null, timeEl(run.created_at)),
      h('dt', null, 'Duration'), h('dd', null, fmtDuration(runDuration(run)))));
    if (run.problems && run.problems.length) {
      info.append(h('div', { class: 'notice' }, h('h2', null, 'Pipeline problems'),
        h('ul', null, run.problems.map((p) => h('li', null,
          `${p.file}:${p.line}:${p.column}: ${p.message}`)))));
    }
    renderActions();
    renderGraph();
  };

  const doAct = (what, fn, confirmText) => async () => {
    if (confirmText && !(await app.confirm(confirmText, what))) return;
    const r = await app.act(fn);
    if (r && r.id) { run = await get('/api/v1/runs/' + id); render(); }
  };

  const renderActions = () => {
    clear(actions);
    if (!app.can('operate')) return;
    const finished = FINISHED.includes(run.status);
    if (!finished) {
      actions.append(h('button', {
        type: 'button', class: 'danger', id: 'cancel',
        onclick: doAct('Cancel run', () => post('/api/v1/runs/' + id + '/cancel'),
          `Cancel run #${id}? Its running jobs are killed.`),
      }, 'Cancel run'));
    } else {
      const failed = run.jobs.some((j) => ['failed', 'timed_out', 'canceled', 'lost']
        .includes(j.status));
      if (failed) {
        actions.append(h('button', {
          type: 'button', class: 'primary', id: 'rerun-failed',
          onclick: doAct('Rerun failed jobs',
            () => post('/api/v1/runs/' + id + '/rerun', { jobs: 'failed' }),
            `Rerun the failed jobs of run #${id} and everything after them?`),
        }, 'Rerun failed jobs'));
      }
      actions.append(h('button', {
        type: 'button', id: 'rerun',
        onclick: doAct('Rerun all', () => post('/api/v1/runs/' + id + '/rerun',
          { jobs: run.jobs.map((j) => j.name) }), `Rerun every job of run #${id}?`),
      }, 'Rerun all'));
    }
  };

  const jobBox = (j) => {
    const d = jobDuration(j);
    const u = usual.get(j.name) || usual.get(j.name.replace(/ \(.*\)$/, ''));
    const last = j.attempts[j.attempts.length - 1];
    const box = h('div', { class: 'job', dataset: { job: j.name, status: j.status } },
      last ? h('a', { class: 'name', href: '/runs/' + id + '/jobs/' + seg(j.name) }, j.name)
        : h('span', { class: 'name' }, j.name),
      h('div', { class: 'meta' }, statusPill(j.status),
        h('span', null, j.attempts.length + (j.attempts.length === 1 ? ' attempt' : ' attempts')),
        h('span', { class: 'jdur' }, fmtDuration(d)),
        u ? h('span', null, 'usually ' + fmtDuration(u)) : null));
    if (last && !last.finished_at && u) {
      box.append(h('progress', {
        max: u,
        value: Math.min(d, u),
        'aria-label': `${j.name}: ${fmtDuration(d)} of usually ${fmtDuration(u)}`,
      }));
    }
    if (j.status === 'waiting' && app.can('operate')) {
      box.append(h('div', { class: 'jactions' }, h('button', {
        type: 'button', class: 'primary approve', dataset: { job: j.name },
        onclick: doAct('Approve',
          () => post('/api/v1/runs/' + id + '/jobs/' + seg(j.name) + '/approve'),
          `Approve ${j.name}? It starts when its turn comes.`),
      }, 'Approve')));
    }
    return box;
  };

  const renderGraph = () => {
    clear(graph);
    const stages = [];
    const byStage = new Map();
    for (const j of run.jobs) {
      if (!byStage.has(j.stage)) { byStage.set(j.stage, []); stages.push(j.stage); }
      byStage.get(j.stage).push(j);
    }
    if (!run.jobs.length) { graph.append(h('p', { class: 'muted' }, 'No jobs.')); return; }
    const boxes = new Map();
    const cols = h('div', { class: 'stages' });
    for (const s of stages) {
      const col = h('section', { class: 'stage', 'aria-label': 'Stage ' + s }, h('h3', null, s));
      for (const j of byStage.get(s)) {
        const b = jobBox(j);
        boxes.set(j.name, b);
        col.append(b);
      }
      cols.append(col);
    }
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'edges');
    svg.setAttribute('aria-hidden', 'true');
    graph.append(svg, cols);
    // Edges of `needs` (fan-out and fan-in); without `needs`, each stage
    // waits for the one before.
    requestAnimationFrame(() => {
      const base = graph.getBoundingClientRect();
      svg.setAttribute('width', graph.scrollWidth);
      svg.setAttribute('height', graph.scrollHeight);
      const edge = (from, to) => {
        const a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
        const x1 = a.right - base.left + graph.scrollLeft, y1 = a.top + a.height / 2 - base.top;
        const x2 = b.left - base.left + graph.scrollLeft, y2 = b.top + b.height / 2 - base.top;
        const p = document.createElementNS(SVG, 'path');
        const mx = (x1 + x2) / 2;
        p.setAttribute('d', `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
        svg.append(p);
      };
      for (const j of run.jobs) {
        const needs = j.needs || [];
        for (const n of needs) {
          for (const [name, b] of boxes) {
            if (name === n || name.startsWith(n + ' (')) edge(b, boxes.get(j.name));
          }
        }
      }
    });
  };

  run = await get('/api/v1/runs/' + id);
  try {
    const d = await get('/api/v1/projects/' + seg(run.project) + '/durations?last=20');
    usual = new Map((d.items || []).map((x) => [x.job, x.p50_ms]));
  } catch (e) { /* no history: no progress bars */ }
  render();

  // The pipeline it ran, and its artifacts.
  const snap = h('pre', { class: 'snapshot', id: 'snapshot' }, 'Loading…');
  const pipe = h('details', {
    ontoggle: () => {
      if (!pipe.open || snap.dataset.loaded) return;
      snap.dataset.loaded = '1';
      get('/api/v1/runs/' + id + '/pipeline').then((t) => { snap.textContent = t; },
        (e) => { snap.textContent = 'Not available: ' + e.message; });
    },
  }, h('summary', null, 'The pipeline this run ran'), snap);
  extra.append(h('h2', null, 'Pipeline'), pipe);
  const arts = h('div', { id: 'artifacts' });
  extra.append(h('h2', null, 'Artifacts'), arts);
  const loadArtifacts = () => get('/api/v1/runs/' + id + '/artifacts').then((a) => {
    clear(arts);
    if (!a.items.length) { arts.append(h('p', { class: 'muted' }, 'None.')); return; }
    arts.append(h('ul', null, a.items.map((x) => h('li', null,
      h('a', {
        href: '/api/v1/runs/' + id + '/artifacts/' + seg(x.name), download: x.name + '.tar.zst',
      }, x.name),
      ` (${x.job}, ${x.files} files, ${fmtBytes(x.size)})`))));
  }, (e) => { arts.textContent = e.message; });
  loadArtifacts();
  extra.append(h('h2', null, 'History'));
  const ev = h('ol', { class: 'events' });
  extra.append(ev);
  get('/api/v1/runs/' + id + '/events').then((e) => {
    for (const x of e.items) {
      ev.append(h('li', null, timeEl(x.time), ` ${x.actor}: ${x.action}`,
        x.detail ? ` (${x.detail})` : ''));
    }
  }, () => {});

  // Live: any change of the run or its jobs fetches it again (coalesced).
  let pending = null;
  const refresh = () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      try {
        const fresh = await get('/api/v1/runs/' + id);
        if (JSON.stringify(fresh) === JSON.stringify(run)) return;
        run = fresh;
        render();
        if (FINISHED.includes(run.status)) loadArtifacts();
      } catch (e) { /* the stream retries */ }
    }, 100);
  };
  const nid = Number(id);
  app.onCleanup(app.events.subscribe({
    runs: [nid],
    on: {
      run: (r) => { if (r.id === nid) refresh(); },
      job: (j) => { if (j.run === nid) refresh(); },
    },
  }));
  // Durations and progress bars of running jobs move on without events.
  // Only their text and value change: focus stays where it is.
  const tick = setInterval(() => {
    if (FINISHED.includes(run.status)) return;
    for (const j of run.jobs) {
      const last = j.attempts[j.attempts.length - 1];
      if (!last || last.finished_at) continue;
      const box = graph.querySelector(`.job[data-job="${CSS.escape(j.name)}"]`);
      if (!box) continue;
      const d = jobDuration(j);
      box.querySelector('.jdur').textContent = fmtDuration(d);
      const bar = box.querySelector('progress');
      if (bar) bar.value = Math.min(d, Number(bar.max));
    }
  }, 1000);
  app.onCleanup(() => { clearInterval(tick); if (pending) clearTimeout(pending); });
}
