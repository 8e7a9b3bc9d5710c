// Runs across projects, newest first: filters, keyset pages loaded as the
// list is scrolled, statuses updated live from the tab's event stream.
import { get, qs } from '../api.js';
import { h, clear, statusPill, fmtDuration, runDuration, timeEl, refLabel } from '../util.js';

const STATUSES = ['', 'queued', 'running', 'success', 'failed', 'canceled', 'error'];
const TRIGGERS = ['', 'api', 'webhook', 'schedule'];

export async function runsView(app, main) {
  const params = new URLSearchParams(location.search);
  const f = {
    project: params.get('project') || '', branch: params.get('branch') || '',
    status: params.get('status') || '', trigger: params.get('trigger') || '',
  };
  main.append(h('h1', null, 'Runs'));
  const projects = (await get('/api/v1/projects')).items.map((p) => p.name);
  const sel = (name, values, label) => h('label', null, label,
    h('select', { name }, values.map((v) => h('option', { value: v, selected: f[name] === v },
      v || 'all'))));
  const form = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter runs',
    onsubmit: (ev) => {
      ev.preventDefault();
      const fd = new FormData(form);
      const q = {};
      for (const k of ['project', 'branch', 'status', 'trigger']) q[k] = fd.get(k);
      app.go('/runs' + qs(q));
    },
  },
  sel('project', [''].concat(projects), 'Project'),
  h('label', null, 'Branch', h('input', { name: 'branch', value: f.branch })),
  sel('status', STATUSES, 'Status'),
  sel('trigger', TRIGGERS, 'Trigger'),
  h('button', { type: 'submit' }, 'Filter'));
  main.append(form);

  const body = h('tbody', { id: 'runs-body' });
  main.append(h('table', { id: 'runs' },
    h('caption', { class: 'sr' }, 'Runs, newest first'),
    h('thead', null, h('tr', null,
      ['Run', 'Project', 'Branch', 'Status', 'Trigger', 'Commit', 'Duration', 'Created']
        .map((t) => h('th', { scope: 'col', class: t === 'Duration' ? 'num' : null }, t)))),
    body));
  const more = h('p', { class: 'more' });
  main.append(more);

  const rows = new Map();
  const data = new Map();
  const row = (r) => {
    data.set(r.id, r);
    const tr = h('tr', { dataset: { run: r.id, status: r.status } },
      h('td', null, h('a', { href: '/runs/' + r.id }, '#' + r.id)),
      h('td', null, r.project),
      h('td', null, refLabel(r)),
      h('td', { class: 'st' }, statusPill(r.status)),
      h('td', null, r.trigger),
      h('td', { class: 'mono' }, r.commit ? r.commit.slice(0, 10) : '—'),
      h('td', { class: 'num' }, fmtDuration(runDuration(r))),
      h('td', null, timeEl(r.created_at)));
    const old = rows.get(r.id);
    rows.set(r.id, tr);
    if (old) old.replaceWith(tr);
    return tr;
  };
  const matches = (r) => (!f.project || r.project === f.project)
    && (!f.branch || r.branch === f.branch)
    && (!f.status || f.status.split(',').includes(r.status))
    && (!f.trigger || r.trigger === f.trigger);

  let cursor = null, loading = false, done = false, newest = 0;
  const load = async () => {
    if (loading || done) return;
    loading = true;
    try {
      const page = await get('/api/v1/runs' + qs({ ...f, limit: 50, cursor }));
      const frag = document.createDocumentFragment();
      for (const r of page.items) {
        if (rows.has(r.id)) continue;
        newest = Math.max(newest, r.id);
        frag.append(row(r));
      }
      body.append(frag);
      cursor = page.next_cursor;
      done = !cursor;
      clear(more).append(done
        ? h('span', { class: 'muted' }, rows.size ? 'No more runs.' : 'No runs match.')
        : h('button', { type: 'button', onclick: load }, 'Load more'));
    } finally {
      loading = false;
    }
  };
  await load();
  performance.mark('pw-runs-first-render');
  // The next page is fetched before the end of the list comes into view.
  const io = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) load(); },
    { rootMargin: '600px' });
  io.observe(more);
  app.onCleanup(() => io.disconnect());

  app.onCleanup(app.events.subscribe({
    all: !f.project, project: f.project || null,
    on: {
      run: (r) => {
        if (rows.has(r.id)) {
          row({ ...data.get(r.id), ...r });
        } else if (matches(r) && r.id > newest) {
          newest = r.id;
          body.prepend(row(r));
        }
      },
    },
  }));
}
