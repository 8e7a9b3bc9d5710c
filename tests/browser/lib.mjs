// What the dashboard's browser scripts share: Debian's chromium driven by
// playwright-core, axe-core injected into pages, the daemon's API over
// real sockets with bearer tokens, named checks that count.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

export const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
export const DEADLINE = (cfg.slow || 1) * 20000;

let passed = 0, failed = 0;

// PW_BROWSER_ONLY=REGEX runs only the checks whose names match (when
// working on one); the others are not counted.
const only = process.env.PW_BROWSER_ONLY ? new RegExp(process.env.PW_BROWSER_ONLY) : null;

export async function check(name, fn) {
  if (only && !only.test(name)) return;
  try {
    await fn();
    passed++;
    console.log('ok: ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL: ' + name + ': ' + (e && e.stack ? e.stack : e));
  }
}

export function done() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

export function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

export function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

export async function launch() {
  return chromium.launch({
    executablePath: cfg.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

// A page that remembers what it logged: a violation of the
// Content-Security-Policy (an inline style or script slipped in) or an
// uncaught error fails the check that looks at it.
export async function newPage(browser, opts = {}) {
  const context = opts.context
    || await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) {
      page.problems.push('console: ' + m.text());
    }
  });
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.setDefaultTimeout(DEADLINE);
  return page;
}

export function noProblems(page) {
  expect(!page.problems.length, 'the page reported: ' + page.problems.join('; '));
}

export async function goto(page, p) {
  await page.goto(cfg.url + p);
}

const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// Serious or critical accessibility violations of the page as it is now.
// axe's source is evaluated through the DevTools protocol, which the
// page's CSP does not govern (a <script> tag would be refused).
export async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const v = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((x) => ({
      id: x.id, impact: x.impact, help: x.help,
      nodes: x.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  const bad = v.filter((x) => x.impact === 'serious' || x.impact === 'critical');
  expect(!bad.length, 'axe: ' + JSON.stringify(bad, null, 1));
}

export async function api(method, p, body, token) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + (cfg.tokens[token] || token);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(cfg.url + p, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, json, text, headers: r.headers };
}

export async function trigger(project, env = {}) {
  const r = await api('POST', `/api/v1/projects/${project}/runs`,
    { env: { GATE: cfg.gate, ...env } }, 'operator');
  eq(r.status, 201, 'trigger ' + project + ': ' + r.text);
  return r.json;
}

// Polls the API with a deadline: for what the test sets up, not for what
// it checks in the page.
export async function waitUntil(fn, what) {
  const end = Date.now() + DEADLINE;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitRun(id, statuses) {
  return waitUntil(async () => {
    const r = (await api('GET', '/api/v1/runs/' + id, undefined, 'operator')).json;
    return statuses.includes(r.status) ? r : null;
  }, `run ${id} to be ${statuses}`);
}

export async function waitJob(id, job, statuses) {
  return waitUntil(async () => {
    const r = (await api('GET', '/api/v1/runs/' + id, undefined, 'operator')).json;
    const j = r.jobs.find((x) => x.name === job);
    return j && statuses.includes(j.status) ? j : null;
  }, `job ${job} of run ${id} to be ${statuses}`);
}

// Jobs wait for a file of this name in the gate directory.
export function open(name) {
  fs.writeFileSync(path.join(cfg.gate, name), '');
}

export async function signIn(page, token) {
  await goto(page, '/signin');
  await page.fill('#token', cfg.tokens[token]);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#whoami');
}
