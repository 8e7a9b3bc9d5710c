// Projects: each project's branches with their latest run, and its badge.
import { get, post, seg } from '../api.js';
import { h, statusPill, fmtDuration, runDuration, timeEl } from '../util.js';

export async function projectsView(app, main) {
  main.append(h('h1', null, 'Projects'));
  const { items } = await get('/api/v1/projects');
  if (!items.length) {
    main.append(h('p', { class: 'muted' }, 'No projects are configured.'));
    return;
  }
  for (const p of items) {
    const body = h('tbody');
    const badge = new URL('/badge/' + seg(p.name) + '.svg', location.origin).href;
    const input = h('input', {
      class: 'badge-url', readonly: true, value: badge, id: 'badge-' + p.name,
    });
    const copy = h('button', {
      type: 'button',
      onclick: async () => {
        input.select();
        try { await navigator.clipboard.writeText(badge); } catch (e) { /* selected */ }
        copy.textContent = 'Copied';
      },
    }, 'Copy');
    const card = h('section',
      { class: 'card', 'aria-labelledby': 'p-' + p.name, dataset: { project: p.name } },
      h('h2', { id: 'p-' + p.name }, p.name),
      h('div', { class: 'actions' },
        h('a', { href: '/runs?project=' + seg(p.name) }, 'Runs'),
        h('a', { href: '/projects/' + seg(p.name) + '/durations' }, 'Durations'),
        app.can('operate') ? triggerForm(app, p.name) : null),
      h('table', null,
        h('caption', { class: 'sr' }, 'Branches of ' + p.name),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Branch'),
          h('th', { scope: 'col' }, 'Latest run'), h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col', class: 'num' }, 'Duration'), h('th', { scope: 'col' }, 'Age'))),
        body),
      h('p', { class: 'badge' }, h('label', { for: 'badge-' + p.name }, 'Badge'), input, copy));
    main.append(card);
    // Each branch's newest run, from the API (null: the store could not say).
    if (!Array.isArray(p.branches)) {
      body.append(h('tr', null, h('td', { colspan: 5, class: 'muted' },
        'The branches could not be read.')));
      continue;
    }
    if (!p.branches.length) {
      body.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No runs yet.')));
    }
    for (const { branch, run: r } of p.branches) {
      body.append(h('tr', null,
        h('td', null, branch),
        h('td', null, h('a', { href: '/runs/' + r.id }, '#' + r.id)),
        h('td', null, statusPill(r.status)),
        h('td', { class: 'num' }, fmtDuration(runDuration(r))),
        h('td', null, timeEl(r.created_at))));
    }
  }
}

// Trigger a run: a branch and parameters (NAME=value, one a line).
export function triggerForm(app, project) {
  const details = h('details', { class: 'trigger' });
  const ref = h('input', { name: 'ref', placeholder: 'default branch' });
  const env = h('textarea', { name: 'env', rows: 3, cols: 30, placeholder: 'NAME=value' });
  const form = h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      app.act(async () => {
        const body = {};
        if (ref.value.trim()) body.ref = ref.value.trim();
        const vars = {};
        for (const line of env.value.split('\n')) {
          if (!line.trim()) continue;
          const i = line.indexOf('=');
          if (i <= 0) throw new Error('parameter "' + line + '": expected NAME=value');
          vars[line.slice(0, i).trim()] = line.slice(i + 1);
        }
        if (Object.keys(vars).length) body.env = vars;
        const run = await post('/api/v1/projects/' + seg(project) + '/runs', body);
        app.go('/runs/' + run.id);
      });
    },
  },
  h('div', { class: 'filters' },
    h('label', null, 'Branch', ref),
    h('label', null, 'Parameters', env),
    h('button', { type: 'submit', class: 'primary' }, 'Trigger')));
  details.append(h('summary', null, 'Trigger a run'), form);
  return details;
}
