// Queue and health: the daemon's readiness, the queue's pause, slots in
// use, the store's size, and the runs queued and running.
import { get, post, qs } from '../api.js';
import {
  h, clear, statusPill, fmtBytes, fmtDuration, runDuration, timeEl, refLabel,
} from '../util.js';

export async function queueView(app, main) {
  main.append(h('h1', null, 'Queue and health'));
  const health = h('dl', { class: 'kv card', id: 'health' });
  const actions = h('div', { class: 'actions', id: 'queue-actions' });
  const lists = h('div');
  main.append(health, actions, lists);

  const load = async () => {
    let st;
    try {
      st = await get('/api/v1/status');
    } catch (e) {
      if (e.status !== 404) throw e;
      st = await get('/api/v1/queue'); // an older daemon
    }
    clear(health).append(
      h('dt', null, 'Ready'), h('dd', { id: 'ready' }, st.ready === undefined ? '—'
        : st.ready ? 'yes' : 'no' + (st.reason ? ' (' + st.reason + ')' : '')),
      h('dt', null, 'Queue'), h('dd', { id: 'paused' }, st.paused ? 'paused' : 'running'),
      h('dt', null, 'Runs queued'), h('dd', null, String(st.queued)),
      h('dt', null, 'Runs running'), h('dd', null, String(st.running)),
      h('dt', null, 'Job slots in use'), h('dd', { id: 'slots' },
        st.slots !== undefined ? `${st.slots_used ?? '—'} of ${st.slots}` : '—'),
      h('dt', null, 'Store size'), h('dd', { id: 'store' }, fmtBytes(st.store_bytes)));
    clear(actions);
    if (app.can('admin')) {
      actions.append(st.paused
        ? h('button', {
          type: 'button', class: 'primary', id: 'resume',
          onclick: () => app.act(async () => { await post('/api/v1/queue/resume'); await load(); }),
        }, 'Resume the queue')
        : h('button', {
          type: 'button', class: 'danger', id: 'pause',
          onclick: async () => {
            if (!(await app.confirm('Pause the queue? Queued runs wait until it is resumed; '
              + 'running ones go on.', 'Pause'))) return;
            await app.act(async () => { await post('/api/v1/queue/pause'); await load(); });
          },
        }, 'Pause the queue'));
    }
    clear(lists);
    for (const s of ['running', 'queued']) {
      const page = await get('/api/v1/runs' + qs({ status: s, limit: 100 }));
      lists.append(h('h2', null, s === 'running' ? 'Running' : 'Queued'));
      if (!page.items.length) { lists.append(h('p', { class: 'muted' }, 'None.')); continue; }
      lists.append(h('table', { dataset: { list: s } },
        h('thead', null, h('tr', null, ['Run', 'Project', 'Branch', 'Status', 'Duration', 'Created']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, page.items.map((r) => h('tr', { dataset: { run: r.id } },
          h('td', null, h('a', { href: '/runs/' + r.id }, '#' + r.id)),
          h('td', null, r.project), h('td', null, refLabel(r)),
          h('td', null, statusPill(r.status)),
          h('td', null, fmtDuration(runDuration(r))), h('td', null, timeEl(r.created_at)))))));
    }
  };
  await load();
  let pending = null;
  app.onCleanup(app.events.subscribe({
    all: true,
    on: {
      run: () => {
        if (pending) return;
        pending = setTimeout(() => { pending = null; load().catch(() => {}); }, 300);
      },
    },
  }));
  app.onCleanup(() => { if (pending) clearTimeout(pending); });
}
