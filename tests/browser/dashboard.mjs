// The dashboard's browser tests (run by test_dashboard.py with a daemon).
import {
  cfg, check, done, expect, eq, launch, newPage, noProblems, goto, axe, api, trigger,
  waitRun, waitJob, waitUntil, open, signIn, DEADLINE,
} from './lib.mjs';

let n = 0;
const key = () => 'k' + (++n) + '-' + process.pid;

const browser = await launch();
try {
  // ---- each view: it renders, breaks no CSP rule, passes axe ----
  const k0 = key();
  open(k0 + '.compile');
  open(k0 + '.unit-pass');
  const r0 = await trigger('app', { KEY: k0 });
  await waitRun(r0.id, ['success']);

  const views = [
    ['projects', '/', 'section.card[data-project="app"] tbody tr'],
    ['runs', '/runs', `#runs tr[data-run="${r0.id}"]`],
    ['run', '/runs/' + r0.id, '.job[data-job="deploy"]'],
    ['log', `/runs/${r0.id}/jobs/compile`, '#log[data-ready="1"] .l'],
    ['queue', '/queue', '#health #paused'],
    ['durations', '/projects/app/durations', '#durations tr[data-job="compile"]'],
    ['sign-in', '/signin', '#token'],
  ];
  for (const [name, path, sel] of views) {
    await check(`the ${name} view renders, with no CSP violation and no serious axe finding`,
      async () => {
        const page = await newPage(browser);
        await goto(page, path);
        await page.waitForSelector(sel);
        await axe(page);
        noProblems(page);
        await page.context().close();
      });
  }

  await check('the run view draws the graph of needs and the manual job', async () => {
    const page = await newPage(browser);
    await goto(page, '/runs/' + r0.id);
    await page.waitForSelector('#graph svg.edges path', { state: 'attached' });
    // compile fans out to unit and lint, which fan in to deploy: 4 edges.
    eq(await page.locator('#graph svg.edges path').count(), 4, 'edges');
    eq(await page.locator('.stage').count(), 3, 'stages');
    eq(await page.getAttribute('.job[data-job="deploy"]', 'data-status'), 'waiting', 'deploy');
    await page.context().close();
  });

  // ---- live updates ----
  await check('the runs list updates live: queued, running, success', async () => {
    const page = await newPage(browser);
    await goto(page, '/runs');
    await page.waitForSelector('#runs-body tr');
    const k = key();
    open(k + '.unit-pass');
    eq((await api('POST', '/api/v1/queue/pause', undefined, 'admin')).status, 200, 'pause');
    let r, row;
    try {
      r = await trigger('app', { KEY: k });
      row = `#runs tr[data-run="${r.id}"]`;
      await page.waitForSelector(row + '[data-status="queued"]');
    } finally {
      eq((await api('POST', '/api/v1/queue/resume', undefined, 'admin')).status, 200, 'resume');
    }
    await page.waitForSelector(row + '[data-status="running"]');
    open(k + '.compile');
    await page.waitForSelector(row + '[data-status="success"]');
    noProblems(page);
    await page.context().close();
  });

  await check("a job's log streams lines as the job prints them", async () => {
    const k = key();
    const r = await trigger('app', { KEY: k });
    await waitJob(r.id, 'compile', ['running']);
    const page = await newPage(browser);
    await goto(page, `/runs/${r.id}/jobs/compile`);
    await page.waitForSelector(`#log .l:has-text("compiling ${k}")`);
    expect(!(await page.locator('#log .l:has-text("compiled")').count()), 'not yet compiled');
    open(k + '.compile');
    await page.waitForSelector('#log .l:has-text("compiled with no warnings")');
    // ANSI colours became classes.
    await page.waitForSelector('#log .l span.f2:has-text("compiled")');
    await page.waitForSelector('#log .l span.f3.ab:has-text("no warnings")');
    // What was read before the stream opened is not shown twice.
    eq(await page.locator(`#log .l .t:text-is("compiling ${k}")`).count(), 1,
      'lines "compiling"');
    noProblems(page);
    await page.context().close();
  });

  await check('a permalink scrolls to its line and highlights it', async () => {
    const page = await newPage(browser);
    await goto(page, `/runs/${r0.id}/jobs/compile#L2`);
    await page.waitForSelector('#log .l.hl[data-line="2"]');
    expect((await page.textContent('#log .l.hl')).includes('compiling ' + k0), 'line 2');
    await page.click('#log .l[data-line="4"] a.ln');
    await page.waitForSelector('#log .l.hl[data-line="4"]');
    expect(page.url().endsWith('#L4'), 'the URL names the line: ' + page.url());
    await page.context().close();
  });

  await check('sections fold, search finds, raw download names the log', async () => {
    const page = await newPage(browser);
    await goto(page, `/runs/${r0.id}/jobs/compile`);
    await page.waitForSelector('#log .l.sec');
    // Each script line's section says how long it took.
    await page.waitForSelector('#log .l.sec[data-line="3"] .dur');
    const before = await page.locator('#log .l').count();
    await page.click('#log .l.sec >> nth=0 >> button.tog');
    await page.waitForFunction((b) => document.querySelectorAll('#log .l').length < b, before);
    await page.fill('#search', 'compiled with');
    await page.press('#search', 'Enter');
    await page.waitForSelector('#log .l.cur:has-text("compiled with")');
    eq(await page.textContent('#found'), '1 of 1', 'matches');
    const href = await page.getAttribute('#raw', 'href');
    const r = await api('GET', href, undefined, 'reader');
    expect(r.text.includes('compiling ' + k0), 'the raw log');
    await page.context().close();
  });

  // ---- sessions and actions ----
  await check('signed in with an operate token: rerun failed jobs, approve, cancel', async () => {
    const page = await newPage(browser);
    await signIn(page, 'operator');
    eq(await page.textContent('#whoami'), 'operator · operate', 'who');
    // A failed run: unit fails until its file exists.
    const k = key();
    open(k + '.compile');
    const r = await trigger('app', { KEY: k });
    await waitRun(r.id, ['failed']);
    await goto(page, '/runs/' + r.id);
    open(k + '.unit-pass'); // the rerun passes
    await page.click('#rerun-failed');
    await page.click('#confirm-ok');
    await page.waitForSelector('h1 .status[data-status="success"]');
    const run = await waitRun(r.id, ['success']);
    eq(run.jobs.find((j) => j.name === 'unit').attempts.length, 2, 'unit attempts');
    // Approve the manual job.
    await page.click('button.approve[data-job="deploy"]');
    await page.click('#confirm-ok');
    await page.waitForSelector('.job[data-job="deploy"][data-status="success"]');
    // Cancel a running run.
    const k2 = key();
    const r2 = await trigger('app', { KEY: k2 });
    await waitJob(r2.id, 'compile', ['running']);
    await goto(page, '/runs/' + r2.id);
    await page.click('#cancel');
    await page.click('#confirm-ok');
    await page.waitForSelector('h1 .status[data-status="canceled"]');
    noProblems(page);
    await page.context().close();
  });

  await check('trigger a run with a branch and parameters from the projects page', async () => {
    const page = await newPage(browser);
    await signIn(page, 'operator');
    await goto(page, '/');
    const card = 'section.card[data-project="app"]';
    await page.click(card + ' details.trigger summary');
    const k = key();
    await page.fill(card + ' input[name=ref]', 'release/1.2');
    await page.fill(card + ' textarea[name=env]', `KEY=${k}\nGATE=${cfg.gate}`);
    await page.click(card + ' button[type=submit]');
    await page.waitForURL(/\/runs\/\d+$/);
    const id = Number(page.url().match(/(\d+)$/)[1]);
    const run = (await api('GET', '/api/v1/runs/' + id, undefined, 'reader')).json;
    eq(run.branch, 'release/1.2', 'branch');
    await waitJob(id, 'compile', ['running']);
    await waitUntil(async () => (await api('GET', `/api/v1/runs/${id}/jobs/compile/log`,
      undefined, 'reader')).text.includes('compiling ' + k), 'the parameter in the job\'s log');
    open(k + '.compile');
    await page.context().close();
  });

  await check('an admin pauses and resumes the queue from the queue page', async () => {
    const page = await newPage(browser);
    await signIn(page, 'admin');
    await goto(page, '/queue');
    await page.click('#pause');
    await page.click('#confirm-ok');
    await page.waitForSelector('#paused:has-text("paused")');
    eq((await api('GET', '/api/v1/queue', undefined, 'reader')).json.paused, true, 'paused');
    await page.click('#resume');
    await page.waitForSelector('#paused:has-text("running")');
    eq((await api('GET', '/api/v1/queue', undefined, 'reader')).json.paused, false, 'resumed');
    // An operator sees no such button.
    const op = await newPage(browser);
    await signIn(op, 'operator');
    await goto(op, '/queue');
    await op.waitForSelector('#paused');
    eq(await op.locator('#queue-actions button').count(), 0, "an operator's queue buttons");
    await op.context().close();
    await page.context().close();
  });

  await check('an action the API refuses shows its message', async () => {
    const page = await newPage(browser);
    await signIn(page, 'operator');
    // A page that missed the news (its event stream cut off, as by a
    // network drop): its cancel comes after someone else's.
    await page.route('**/api/v1/events*', (route) => route.abort());
    const k = key();
    const r = await trigger('app', { KEY: k });
    await waitJob(r.id, 'compile', ['running']);
    await goto(page, '/runs/' + r.id);
    await page.waitForSelector('#cancel');
    eq((await api('POST', `/api/v1/runs/${r.id}/cancel`, undefined, 'operator')).status, 200,
      'cancel');
    await waitRun(r.id, ['canceled']);
    await page.click('#cancel');
    await page.click('#confirm-ok');
    await page.waitForSelector('#alert:not([hidden])');
    expect(/already finished/.test(await page.textContent('#alert')), 'the API message');
    await page.context().close();
  });

  await check('a read token sees no action buttons, and a forged POST is refused', async () => {
    const page = await newPage(browser);
    await signIn(page, 'reader');
    const k = key();
    const r = await trigger('app', { KEY: k });
    await waitJob(r.id, 'compile', ['running']);
    await goto(page, '/runs/' + r.id);
    await page.waitForSelector('.job[data-job="compile"]');
    eq(await page.locator('#run-actions button').count(), 0, 'action buttons');
    await goto(page, '/queue');
    await page.waitForSelector('#paused');
    eq(await page.locator('#queue-actions button').count(), 0, 'queue buttons');
    // With the session's cookie and its CSRF token: 403 for the scope.
    const withCsrf = await page.evaluate(async (id) => {
      const s = await (await fetch('/api/v1/session')).json();
      const res = await fetch(`/api/v1/runs/${id}/cancel`,
        { method: 'POST', headers: { 'X-CSRF-Token': s.csrf } });
      return res.status;
    }, r.id);
    eq(withCsrf, 403, 'a read session cancelling');
    open(k + '.compile');
    await page.context().close();
    // An operate session's cookie without the CSRF token: 403 too.
    const op = await newPage(browser);
    await signIn(op, 'operator');
    const k2 = key();
    const r2 = await trigger('app', { KEY: k2 });
    const forged = await op.evaluate(async (id) => (await fetch(`/api/v1/runs/${id}/cancel`,
      { method: 'POST' })).status, r2.id);
    eq(forged, 403, 'a POST without the CSRF token');
    open(k2 + '.compile');
    open(k2 + '.unit-pass');
    const after = await waitRun(r2.id, ['success', 'failed', 'canceled']);
    eq(after.status, 'success', 'the forged cancel did nothing');
    await op.context().close();
  });

  await check('without anonymous_read the page asks to sign in, then shows the views',
    async () => {
      const page = await newPage(browser);
      await page.goto(cfg.private.url + '/runs');
      await page.waitForSelector('h1:has-text("Sign in needed")');
      await page.goto(cfg.private.url + '/signin');
      await page.fill('#token', cfg.private.tokens.reader);
      await page.click('#signin-form button[type=submit]');
      await page.waitForSelector('section.card[data-project="app"]');
      eq(await page.textContent('#whoami'), 'reader · read', 'who');
      noProblems(page);
      await page.context().close();
    });

  await check('signing out ends the session on the server', async () => {
    const page = await newPage(browser);
    await signIn(page, 'operator');
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.httpOnly);
    expect(c, 'an HttpOnly session cookie: ' + JSON.stringify(cookies));
    eq(c.sameSite, 'Strict', 'SameSite');
    await page.click('#signout');
    await page.waitForSelector('#signin');
    const r = await fetch(cfg.url + '/api/v1/session',
      { headers: { Cookie: `${c.name}=${c.value}` } });
    eq(r.status, 401, 'the old cookie after sign-out');
    await page.context().close();
  });

  // ---- a 50 MB log ----
  await check('a 50 MB log opens at its end at once and stays responsive', async () => {
    const r = await trigger('big');
    await waitRun(r.id, ['success']);
    const page = await newPage(browser);
    const t0 = Date.now();
    await goto(page, `/runs/${r.id}/jobs/big`);
    await page.waitForSelector('#log .l:has-text("THE-END")');
    const first = await page.evaluate(() => {
      const m = performance.getEntriesByName('pw-log-first-lines')[0];
      return m ? m.startTime : null;
    });
    console.log(`# 50 MB log: first lines after ${Math.round(first)} ms (page), `
      + `${Date.now() - t0} ms (test)`);
    const box = await page.$('#log');
    const lo = Number(await box.getAttribute('data-lo'));
    const size = Number(await box.getAttribute('data-size'));
    expect(size > 50e6, 'size ' + size);
    expect(lo > size - 2e6, 'only the tail was fetched: from byte ' + lo);
    // Line numbers arrive once the bytes before are counted.
    await page.waitForSelector('#log .l[data-line="819202"]:has-text("THE-END")');
    // Scrolling up loads earlier parts; the page answers meanwhile.
    await page.focus('#log');
    for (let i = 0; i < 5; i++) await page.keyboard.press('Home');
    await page.waitForFunction((l) => Number(document.getElementById('log').dataset.lo) < l, lo);
    eq(await page.evaluate(() => 1 + 1), 2, 'the page answers');
    await page.context().close();
  });

  // ---- connections ----
  await check("two tabs following logs leave the daemon's API usable from a third", async () => {
    const context = await browser.newContext();
    const ka = key(), kb = key();
    const ra = await trigger('app', { KEY: ka });
    const rb = await trigger('app', { KEY: kb });
    await waitJob(ra.id, 'compile', ['running']);
    await waitJob(rb.id, 'compile', ['running']);
    const a = await newPage(browser, { context });
    const b = await newPage(browser, { context });
    await goto(a, `/runs/${ra.id}/jobs/compile`);
    await goto(b, `/runs/${rb.id}/jobs/compile`);
    await a.waitForSelector(`#log .l:has-text("compiling ${ka}")`);
    await b.waitForSelector(`#log .l:has-text("compiling ${kb}")`);
    const c = await newPage(browser, { context });
    await goto(c, '/runs');
    await c.waitForSelector(`#runs tr[data-run="${rb.id}"]`);
    const st = await c.evaluate(async () => (await fetch('/api/v1/queue')).status);
    eq(st, 200, 'the API from a third tab');
    open(ka + '.compile');
    open(kb + '.compile');
    await a.waitForSelector('#log .l:has-text("compiled")');
    await b.waitForSelector('#log .l:has-text("compiled")');
    await context.close();
  });

  // ---- keyboard ----
  await check('keyboard navigation: skip link, menu, a run, its log', async () => {
    const page = await newPage(browser);
    await goto(page, '/runs');
    await page.waitForSelector(`#runs tr[data-run="${r0.id}"]`);
    await page.keyboard.press('Tab');
    eq(await page.evaluate(() => document.activeElement.textContent), 'Skip to content',
      'first stop');
    await page.keyboard.press('Enter');
    eq(await page.evaluate(() => document.activeElement.id), 'main', 'focus after skipping');
    // Tab to the run's link and follow it.
    let found = false;
    for (let i = 0; i < 60 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(
        (id) => document.activeElement.getAttribute('href') === '/runs/' + id, r0.id);
    }
    expect(found, 'the run link is reachable by Tab');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.job[data-job="compile"] a.name');
    await page.focus('.job[data-job="compile"] a.name');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#log[data-ready="1"]');
    await page.keyboard.press('/');
    eq(await page.evaluate(() => document.activeElement.id), 'search', '/ focuses search');
    await page.context().close();
  });
} finally {
  await browser.close();
  done();
}
void DEADLINE;
