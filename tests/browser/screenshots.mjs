// Takes docs/dashboard/*.png (run by screenshots.py, which made the runs).
import path from 'node:path';
import { cfg, launch, newPage, goto, signIn } from './lib.mjs';

const browser = await launch();
const shot = async (page, name) => {
  await page.screenshot({ path: path.join(cfg.out, name + '.png'), fullPage: false });
  console.log('wrote docs/dashboard/' + name + '.png');
};
try {
  const page = await newPage(browser);
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page, 'admin');
  const failed = cfg.runs[8];
  const last = cfg.runs[cfg.runs.length - 1];
  await goto(page, '/');
  await page.waitForSelector('section.card[data-project="demo"] tbody tr');
  await shot(page, 'projects');
  await goto(page, '/runs');
  await page.waitForSelector(`#runs tr[data-run="${cfg.running}"]`);
  await shot(page, 'runs');
  await goto(page, '/runs/' + failed);
  await page.waitForSelector('#graph .job');
  await page.waitForSelector('#graph svg.edges path', { state: 'attached' });
  await shot(page, 'run');
  await goto(page, `/runs/${failed}/jobs/unit#L4`);
  await page.waitForSelector('#log[data-ready="1"] .l');
  await shot(page, 'log');
  await goto(page, '/queue');
  await page.waitForSelector('#paused');
  await shot(page, 'queue');
  await goto(page, '/projects/demo/durations');
  await page.waitForSelector('#durations svg.chart');
  await shot(page, 'durations');
  const anon = await newPage(browser);
  await anon.setViewportSize({ width: 1280, height: 500 });
  await goto(anon, '/signin');
  await anon.waitForSelector('#token');
  await shot(anon, 'signin');
  void last;
} finally {
  await browser.close();
}
