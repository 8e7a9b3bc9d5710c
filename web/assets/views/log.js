// A job's log. Opens at its end whatever its size: the tail is fetched
// first, earlier parts as the reader scrolls up (by byte ranges), and only
// the lines in view are in the DOM, so a 50 MB log costs what a screenful
// does. Line numbers of a tail are known once the bytes before it are
// counted, in the background, chunk by chunk. Live lines come from the
// tab's one event stream; gaps are filled with range reads.
import { get, seg, request } from '../api.js';
import { h, clear, statusPill, fmtDuration, fmtBytes, FINISHED } from '../util.js';
import { renderLine, plainText, advance, newState } from '../ansi.js';

const LH = 18; // px, as --lh in style.css
const TAIL = 256 * 1024; // bytes fetched first
const CHUNK = 512 * 1024; // bytes fetched per step when scrolling
const COUNT_CHUNK = 4 * 1024 * 1024; // bytes per request when counting lines
const OVERSCAN = 20;
const CHECKPOINT = 256; // lines between saved ANSI states

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8');

function countNewlines(u8) {
  let n = 0;
  for (let i = 0; i < u8.length; i++) if (u8[i] === 10) n++;
  return n;
}

class Log {
  constructor(base, attempt) {
    this.base = base; // /api/v1/runs/ID/jobs/JOB/log
    this.attempt = attempt;
    this.lines = []; // complete lines of [lo, hi - partial bytes)
    this.partial = ''; // text after the last newline
    this.partialBytes = 0;
    this.lo = 0;
    this.hi = 0; // byte just past what is loaded (partial included)
    this.size = 0;
    this.firstLine = null; // line number of lines[0]
    this.counts = null; // [{start, end, newlines}] for [0, initial lo)
    this.checkpoints = [];
    this.prepended = 0; // lines put in front so far
  }

  url(params) {
    const p = new URLSearchParams(params);
    if (this.attempt) p.set('attempt', this.attempt);
    return this.base + '?' + p.toString();
  }

  async range(start, end) {
    const r = await request('GET', this.url({ start, end }), undefined, { raw: true });
    const size = Number(r.headers.get('X-Log-Size'));
    if (!Number.isNaN(size) && size > this.size) this.size = size;
    return new Uint8Array(await r.arrayBuffer());
  }

  async openTail() {
    const r = await request('GET', this.url({ tail_bytes: TAIL }), undefined, { raw: true });
    const u8 = new Uint8Array(await r.arrayBuffer());
    this.size = Number(r.headers.get('X-Log-Size')) || u8.length;
    let start = Number(r.headers.get('X-Log-Start'));
    if (Number.isNaN(start) || r.headers.get('X-Log-Start') === null) start = this.size - u8.length;
    let skip = 0;
    if (start > 0) { // begin at a whole line
      const nl = u8.indexOf(10);
      skip = nl < 0 ? u8.length : nl + 1;
    }
    this.lo = start + skip;
    this.hi = this.lo;
    this.appendBytes(u8.subarray(skip));
    if (this.lo === 0) this.firstLine = 1;
  }

  appendBytes(u8) {
    this.appendText(dec.decode(u8), u8.length);
  }

  appendText(text, nbytes) {
    this.hi += nbytes;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop();
    this.partialBytes = enc.encode(this.partial).length;
    for (const p of parts) this.lines.push(p);
    return parts.length;
  }

  // Earlier bytes [start, lo): returns how many lines were put in front.
  async prepend() {
    if (this.lo === 0) return 0;
    const start = Math.max(0, this.lo - CHUNK);
    const u8 = await this.range(start, this.lo);
    let skip = 0;
    if (start > 0) {
      const nl = u8.indexOf(10);
      if (nl < 0 || nl === u8.length - 1) return 0; // a line longer than a chunk
      skip = nl + 1;
    }
    const text = dec.decode(u8.subarray(skip));
    const add = text.split('\n');
    add.pop(); // the bytes end with the newline before lo
    this.lines = add.concat(this.lines);
    this.lo = start + skip;
    this.prepended += add.length;
    if (this.firstLine !== null) this.firstLine -= add.length;
    if (this.lo === 0) this.firstLine = 1;
    this.checkpoints = [];
    return add.length;
  }

  // The line number of lines[0] when reading started at a tail: the
  // newlines before lo, counted without keeping the text.
  async countBefore(shouldStop) {
    const end = this.lo;
    const p0 = this.prepended;
    const counts = [];
    let total = 0;
    for (let s = 0; s < end; s += COUNT_CHUNK) {
      if (shouldStop()) return;
      const e = Math.min(end, s + COUNT_CHUNK);
      const n = countNewlines(await this.range(s, e));
      counts.push({ start: s, end: e, newlines: n });
      total += n;
      await new Promise((r) => setTimeout(r, 0)); // let input through
    }
    this.counts = counts;
    // Lines put in front meanwhile were among those counted.
    this.firstLine = total + 1 - (this.prepended - p0);
  }

  total() { return this.lines.length + (this.partial ? 1 : 0); }
  line(i) { return i < this.lines.length ? this.lines[i] : this.partial; }

  stateAt(i) {
    const k = Math.floor(i / CHECKPOINT);
    while (this.checkpoints.length <= k) {
      const j = this.checkpoints.length;
      const st = j === 0 ? newState() : { ...this.checkpoints[j - 1] };
      if (j > 0) {
        for (let x = (j - 1) * CHECKPOINT; x < j * CHECKPOINT; x++) advance(this.line(x), st);
      }
      this.checkpoints.push(st);
    }
    const st = { ...this.checkpoints[k] };
    for (let x = k * CHECKPOINT; x < i; x++) advance(this.line(x), st);
    return st;
  }
}

export async function logView(app, main, id, job) {
  const params = new URLSearchParams(location.search);
  const attempt = params.get('attempt') ? Number(params.get('attempt')) : null;
  const base = '/api/v1/runs/' + id + '/jobs/' + seg(job) + '/log';
  // The tail is asked for at once, beside the run: it is what the reader
  // waits for.
  const log = new Log(base, attempt);
  const tail = log.openTail().then(() => null, (e) => e);
  const run = await get('/api/v1/runs/' + id);
  const jobObj = run.jobs.find((j) => j.name === job);
  const attempts = jobObj ? jobObj.attempts : [];
  const att = attempt ? attempts.find((a) => a.number === attempt) : attempts[attempts.length - 1];
  const status = h('span', { id: 'job-status' }, statusPill(jobObj ? jobObj.status : 'pending'));
  main.append(
    h('p', null, h('a', { href: '/runs/' + id }, '← Run #' + id + ' · ' + run.project)),
    h('h1', null, job, ' ', status));
  if (attempts.length > 1) {
    main.append(h('p', null, 'Attempts: ', attempts.map((a) => [h('a', {
      href: '/runs/' + id + '/jobs/' + seg(job) + '?attempt=' + a.number,
      'aria-current': att && a.number === att.number ? 'page' : null,
    }, '#' + a.number + ' ' + a.status), ' '])));
  }
  if (!att) {
    main.append(h('p', { class: 'notice' }, 'This job has not started.'));
    // Shown as soon as it starts.
    app.onCleanup(app.events.subscribe({
      runs: [Number(id)],
      on: { job: (j) => { if (j.run === Number(id) && (j.job || j.name) === job) app.route(); } },
    }));
    return;
  }
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: !att.finished_at });
  const search = h('input', { type: 'search', id: 'search', 'aria-label': 'Search in the log',
    placeholder: 'Search (/)' });
  const found = h('span', { class: 'muted', id: 'found', 'aria-live': 'polite' });
  const info = h('span', { class: 'muted', id: 'log-info' });
  const raw = h('a', {
    class: 'button', id: 'raw', download: `run-${id}-${job}-${att.number}.log`,
    href: base + '?attempt=' + att.number + '&download=1',
  }, 'Raw log');
  const box = h('div', {
    class: 'log', id: 'log', tabindex: '0', role: 'log', 'aria-label': 'Log of ' + job,
  });
  const spacer = h('div', { class: 'spacer' });
  const rows = h('div', { class: 'lines' });
  spacer.append(rows);
  box.append(spacer);
  const prev = h('button', { type: 'button', id: 'search-prev' }, 'Previous');
  const next = h('button', { type: 'button', id: 'search-next' }, 'Next');
  main.append(h('div', { class: 'logbar' },
    h('label', { class: 'inline' }, h('span', null, follow, ' Follow the end')),
    search, prev, next, found, h('span', { class: 'grow' }), info, raw), box);

  let stopped = false;
  app.onCleanup(() => { stopped = true; });
  let vis = null; // indexes of lines shown when sections are folded; null: all
  const folded = new Set(); // indexes of folded section headers
  let hl = null; // highlighted line index (permalink)
  let matches = [], cur = -1;
  let programmatic = false;
  let durations = new Map(); // line number -> duration_ms
  const isSection = (i) => log.line(i).startsWith('$ ');

  const rebuildVis = () => {
    if (!folded.size) { vis = null; return; }
    vis = [];
    let hide = false;
    for (let i = 0; i < log.total(); i++) {
      if (isSection(i)) { vis.push(i); hide = folded.has(i); continue; }
      if (!hide) vis.push(i);
    }
  };
  const count = () => (vis ? vis.length : log.total());
  const at = (k) => (vis ? vis[k] : k);
  const posOf = (i) => {
    if (!vis) return i;
    let a = 0, b = vis.length - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (vis[m] === i) return m;
      if (vis[m] < i) a = m + 1; else b = m - 1;
    }
    return a;
  };
  const lineNo = (i) => (log.firstLine === null ? null : log.firstLine + i);

  let frame = 0;
  const draw = () => {
    frame = 0;
    spacer.style.height = count() * LH + 'px';
    const first = Math.max(0, Math.floor(box.scrollTop / LH) - OVERSCAN);
    const last = Math.min(count(), Math.ceil((box.scrollTop + box.clientHeight) / LH) + OVERSCAN);
    rows.style.transform = `translateY(${first * LH}px)`;
    const frag = document.createDocumentFragment();
    const st = first < last ? log.stateAt(at(first)) : null;
    let prevIdx = first < last ? at(first) : 0;
    for (let k = first; k < last; k++) {
      const i = at(k);
      for (let x = prevIdx; x < i; x++) advance(log.line(x), st); // folded lines
      const n = lineNo(i);
      const row = h('div', { class: 'l', dataset: { i } });
      if (n !== null) {
        row.dataset.line = n;
        row.append(h('a', { class: 'ln', href: '#L' + n, 'aria-label': 'line ' + n }, String(n)));
      } else {
        row.append(h('span', { class: 'ln' }, ''));
      }
      const t = h('span', { class: 't' });
      renderLine(t, log.line(i), st);
      prevIdx = i + 1;
      if (isSection(i)) {
        row.classList.add('sec');
        const tog = h('button', {
          class: 'tog', type: 'button', 'aria-expanded': String(!folded.has(i)),
          'aria-label': (folded.has(i) ? 'Expand ' : 'Collapse ') + 'section',
          dataset: { i },
        }, folded.has(i) ? '▸' : '▾');
        row.insertBefore(tog, row.firstChild.nextSibling);
        const d = n !== null ? durations.get(n) : undefined;
        if (d !== undefined && d !== null) t.append(h('span', { class: 'dur' }, fmtDuration(d)));
      } else {
        row.insertBefore(h('span', { class: 'tog' }), row.firstChild.nextSibling);
      }
      if (i === hl) row.classList.add('hl');
      if (matches.length && matches.includes(i)) {
        row.classList.add('match');
        if (matches[cur] === i) row.classList.add('cur');
      }
      row.append(t);
      frag.append(row);
    }
    clear(rows).append(frag);
    box.dataset.lo = log.lo;
    box.dataset.hi = log.hi;
    box.dataset.size = log.size;
    box.dataset.lines = log.total();
    box.dataset.firstLine = log.firstLine === null ? '' : log.firstLine;
    info.textContent = `${log.total()} lines loaded · ${fmtBytes(log.size)}`;
  };
  const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };

  const scrollToEnd = () => {
    programmatic = true;
    spacer.style.height = count() * LH + 'px';
    box.scrollTop = box.scrollHeight;
    draw();
  };
  const scrollToIndex = (i) => {
    programmatic = true;
    spacer.style.height = count() * LH + 'px';
    box.scrollTop = Math.max(0, posOf(i) * LH - box.clientHeight / 3);
    draw();
  };

  box.addEventListener('click', (ev) => {
    const tog = ev.target.closest('button.tog');
    if (!tog) return;
    const i = Number(tog.dataset.i);
    if (folded.has(i)) folded.delete(i); else folded.add(i);
    rebuildVis();
    draw();
    const again = rows.querySelector(`button.tog[data-i="${i}"]`);
    if (again) again.focus();
  });

  let busy = false;
  box.addEventListener('scroll', async () => {
    if (!programmatic && follow.checked
        && box.scrollTop + box.clientHeight < box.scrollHeight - 2 * LH) {
      follow.checked = false;
    }
    programmatic = false;
    redraw();
    if (busy) return;
    if (box.scrollTop < OVERSCAN * LH && log.lo > 0) {
      busy = true;
      try {
        const added = await log.prepend();
        if (added) {
          if (hl !== null) hl += added;
          matches = matches.map((m) => m + added);
          shiftSet(folded, added);
          rebuildVis();
          // The spacer grows first, or the new scrollTop would be clamped.
          spacer.style.height = count() * LH + 'px';
          programmatic = true;
          box.scrollTop += (vis ? posOf(added) : added) * LH;
          draw();
        }
      } catch (e) {
        app.showError(e);
      } finally {
        busy = false;
      }
    }
  });
  follow.addEventListener('change', () => { if (follow.checked) scrollToEnd(); });

  // Permalinks: #L120 scrolls to line 120 and highlights it.
  const goHash = async () => {
    const m = location.hash.match(/^#L(\d+)$/);
    if (!m) return;
    const n = Number(m[1]);
    while (log.firstLine === null && !stopped) await waitCounted();
    while (n < log.firstLine && log.lo > 0 && !stopped) {
      const added = await log.prepend();
      if (!added) break;
      shiftSet(folded, added);
      rebuildVis();
    }
    const i = n - log.firstLine;
    if (i < 0 || i >= log.total()) return;
    follow.checked = false;
    hl = i;
    folded.forEach((f) => { if (f < i) folded.delete(f); });
    rebuildVis();
    scrollToIndex(i);
  };
  const countedWaiters = [];
  const waitCounted = () => new Promise((r) => countedWaiters.push(r));
  window.addEventListener('hashchange', goHash);
  app.onCleanup(() => window.removeEventListener('hashchange', goHash));

  // Search within the loaded part (the whole log once scrolled to its start).
  const doSearch = (dir) => {
    const q = search.value.toLowerCase();
    if (!q) { matches = []; cur = -1; found.textContent = ''; redraw(); return; }
    matches = [];
    for (let i = 0; i < log.total(); i++) {
      if (plainText(log.line(i)).toLowerCase().includes(q)) matches.push(i);
    }
    if (!matches.length) {
      cur = -1;
      found.textContent = 'No match' + (log.lo > 0 ? ' in the loaded part' : '');
      redraw();
      return;
    }
    cur = cur < 0 ? (dir > 0 ? 0 : matches.length - 1)
      : (cur + dir + matches.length) % matches.length;
    found.textContent = `${cur + 1} of ${matches.length}` + (log.lo > 0 ? ' (loaded part)' : '');
    follow.checked = false;
    folded.clear();
    rebuildVis();
    scrollToIndex(matches[cur]);
  };
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); doSearch(ev.shiftKey ? -1 : 1); }
    if (ev.key === 'Escape') { search.value = ''; doSearch(1); box.focus(); }
  });
  search.addEventListener('input', () => { cur = -1; });
  prev.addEventListener('click', () => doSearch(-1));
  next.addEventListener('click', () => doSearch(1));
  const slash = (ev) => {
    if (ev.key === '/' && document.activeElement.tagName !== 'INPUT'
        && document.activeElement.tagName !== 'TEXTAREA') {
      ev.preventDefault();
      search.focus();
    }
  };
  document.addEventListener('keydown', slash);
  app.onCleanup(() => document.removeEventListener('keydown', slash));

  // Keyboard scrolling of the focused log.
  box.addEventListener('keydown', (ev) => {
    const page = box.clientHeight - LH;
    const keys = { ArrowDown: LH, ArrowUp: -LH, PageDown: page, PageUp: -page };
    if (ev.key in keys) { ev.preventDefault(); box.scrollTop += keys[ev.key]; }
    if (ev.key === 'End') { ev.preventDefault(); scrollToEnd(); }
    if (ev.key === 'Home') { ev.preventDefault(); box.scrollTop = 0; }
  });

  const loadSections = async () => {
    try {
      const s = await get(base.replace(/\/log$/, '/sections')
        + (attempt ? '?attempt=' + attempt : ''));
      const items = s.items || [];
      durations = new Map(items.map((x) => [x.line, x.duration_ms]));
      redraw();
    } catch (e) { /* sections are a help, the log is the thing */ }
  };

  // Open at the end.
  const failed = await tail;
  if (failed) throw failed;
  performance.mark('pw-log-first-lines');
  scrollToEnd();
  box.dataset.ready = '1';
  loadSections();
  if (log.firstLine === null) {
    log.countBefore(() => stopped).then(() => {
      redraw();
      countedWaiters.splice(0).forEach((r) => r());
    }, (e) => app.showError(e));
  }
  goHash();

  // Live lines.
  let queue = Promise.resolve();
  let sectionTimer = null;
  const onLog = (ev) => {
    if (ev.run !== Number(id) || ev.job !== job) return;
    if (attempt && ev.attempt && ev.attempt !== attempt) return;
    queue = queue.then(async () => {
      const bytes = enc.encode(ev.text);
      const end = ev.offset + bytes.length;
      if (end > log.size) log.size = end;
      if (log.hi < log.size && log.hi < ev.offset) {
        // A gap (or a window away from the end): fill it by a range read.
        if (log.hi + CHUNK < ev.offset) return;
        const u8 = await log.range(log.hi, end);
        log.appendBytes(u8);
      } else if (end > log.hi) {
        log.appendBytes(bytes.subarray(log.hi - ev.offset));
      } else {
        return;
      }
      if (folded.size) rebuildVis();
      if (follow.checked) scrollToEnd(); else redraw();
      if (/(^|\n)\$ /.test(ev.text) && !sectionTimer) {
        sectionTimer = setTimeout(() => { sectionTimer = null; loadSections(); }, 500);
      }
    });
  };
  const onEnd = (ev) => {
    if (ev.run !== Number(id) || ev.job !== job) return;
    clear(status).append(statusPill(ev.status));
    loadSections();
  };
  if (!att.finished_at) {
    app.onCleanup(app.events.subscribe({
      runs: [Number(id)],
      // From the end already read: a long log is not sent again.
      logs: [id + ':' + job + '@' + log.hi],
      on: {
        log: onLog,
        end: onEnd,
        job: (j) => {
          if (j.run === Number(id) && (j.job === job || j.name === job)
              && FINISHED.concat(['timed_out', 'lost']).includes(j.status)) {
            clear(status).append(statusPill(j.status));
          }
        },
      },
    }));
  }
  app.onCleanup(() => { if (sectionTimer) clearTimeout(sectionTimer); });
}

function shiftSet(set, by) {
  const v = [...set];
  set.clear();
  v.forEach((x) => set.add(x + by));
}
