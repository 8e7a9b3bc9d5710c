// bench/run B10's browser half (bench/b10.py starts the daemons): the runs
// list's first render, a 50 MB log's first visible lines, and the daemon's
// CPU while a tab idles on a running job. Prints one JSON object.
import fs from 'node:fs';
import { cfg, launch, newPage } from './lib.mjs';

const browser = await launch();
const median = (a) => { const s = a.slice().sort((x, y) => x - y); return s[s.length >> 1]; };

// ms from the navigation's start to the mark, the page loaded afresh
// each time (a new context: nothing cached).
async function measure(url, sel, mark, times) {
  const out = [];
  for (let i = 0; i < times; i++) {
    const page = await newPage(browser);
    await page.goto(url);
    await page.waitForSelector(sel);
    out.push(await page.evaluate((m) => performance.getEntriesByName(m)[0].startTime, mark));
    await page.context().close();
  }
  return out.map((x) => Math.round(x * 10) / 10);
}

function ticks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(v[11]) + Number(v[12]); // utime + stime
}

const res = {};
try {
  const op = cfg.op;
  if (op === 'runs') {
    const t = await measure(cfg.url + '/runs', '#runs-body tr', 'pw-runs-first-render', cfg.times);
    res.ms = t; res.median_ms = median(t);
  } else if (op === 'log') {
    const t = await measure(cfg.url + cfg.path, '#log[data-ready="1"] .l',
      'pw-log-first-lines', cfg.times);
    res.ms = t; res.median_ms = median(t);
  } else if (op === 'idle') {
    const page = await newPage(browser);
    await page.goto(cfg.url + cfg.path);
    await page.waitForSelector('#log[data-ready="1"] .l');
    const hz = 100; // USER_HZ on Linux
    const t0 = ticks(cfg.pid);
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, cfg.seconds * 1000)); // the idle period measured
    const t1 = ticks(cfg.pid);
    const wall = (Date.now() - w0) / 1000;
    res.seconds = wall;
    res.cpu_s = (t1 - t0) / hz;
    res.cpu_percent = Math.round(((t1 - t0) / hz / wall) * 100 * 1000) / 1000;
    res.sse = await page.evaluate(() => window.pipewright.events.state);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(res));
