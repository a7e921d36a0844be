// npm run screenshot:dashboard -- [--out docs/dashboard.png] [--iters 150]
// The README's picture of the dashboard, made by the project itself: headless Chromium trains a small
// DCGAN on the page's synthetic pictures (coloured discs on gradients, no photos) and the page is
// captured once the run ends.
import { launchChromium, startServer } from '../browser.ts';
import { numberFlag, parseFlags } from './args.ts';
import { runMain } from './main.ts';

const USAGE = 'usage: npm run screenshot:dashboard -- [--out docs/dashboard.png] [--iters 150] [--chromium PATH]';

async function main(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { out: { type: 'string' }, iters: { type: 'string' }, chromium: { type: 'string' } }, USAGE);
  const iters = numberFlag(flags, 'iters', 150, { min: 1 });
  const out = String(flags.out ?? 'docs/dashboard.png') as `${string}.png`;
  const served = await startServer(['web/index.html']);
  const browser = await launchChromium({ chromium: flags.chromium as string | undefined });
  try {
    const page = await browser.browser.newPage();
    await page.setViewport({ width: 1240, height: 900 });
    const query = `data=synthetic&images=512&image-size=16&ngf=16&ndf=16&nz=32&batch-size=32&sample-every=10&max-iters=${iters}&autostart`;
    await page.goto(`${served.origin}/web/index.html?${query}`, { waitUntil: 'load', timeout: 120_000 });
    let last = -1;
    for (;;) {
      const s = await page.evaluate(() => ({ iteration: window.__dcgan?.iteration ?? 0, done: !!window.__dcgan?.outcome, error: window.__dcgan?.error ?? null }));
      if (s.error) throw new Error(s.error);
      if (s.done) break;
      if (s.iteration !== last && s.iteration % 10 === 0) console.error(`iteration ${s.iteration}/${iters}`);
      last = s.iteration;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await page.$eval('#walk', (el) => {
      (el as HTMLInputElement).value = '0.4';
      el.dispatchEvent(new Event('input'));
    });
    await new Promise((r) => setTimeout(r, 1500));
    await page.screenshot({ path: out, fullPage: true });
    console.error(`wrote ${out}`);
    return 0;
  } finally {
    await browser.close();
    await served.close();
  }
}

runMain(() => main(process.argv.slice(2)));
