// Dataset pipeline at full scale: decode all the dog photos into a fresh cache, stream one epoch
// of shuffled batches, and report speed and peak memory. The student project this replaces ran
// out of RAM on this step; the goal is a peak RSS under 600 MB.
//
//   npx tsx bench/data-rss.ts [--size 64] [--batch 128] [--match 'dog.*'] [--data DIR] [--keep]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BatchLoader } from '../src/train/data/loader.ts';
import { prepareDataset } from '../src/node/data/index.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '128' },
    match: { type: 'string', default: 'dog.*' },
    data: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/data/dogs') },
    keep: { type: 'boolean', default: false }, // keep the cache folder (printed) instead of deleting it
  },
});
const imageSize = Number(values.size);
const batchSize = Number(values.batch);
const megabytes = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

// A fresh folder every run, so the build is always measured rather than reused.
const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'dcgan-data-bench-'));
try {
  const buildStarted = performance.now();
  const { cache, report } = await prepareDataset({ dataDir: values.data!, match: values.match, imageSize, cacheDir });
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  const rssAfterBuild = process.memoryUsage().rss;

  const loader = new BatchLoader(cache, { batchSize, seed: 1 });
  const epochStarted = performance.now();
  let batches = 0;
  let checksum = 0; // touch the data so the loop cannot be optimised into nothing
  for await (const batch of loader.epochBatches(0)) {
    batches++;
    checksum += batch[batches % batch.length];
  }
  const epochSeconds = (performance.now() - epochStarted) / 1000;
  await cache.close();

  const lines = [
    `photos: ${report.sourceCount} found, ${report.count} cached, ${report.skipped.length} skipped`,
    ...report.skipped.slice(0, 5).map((s) => `  skipped ${path.basename(s.file)}: ${s.reason}`),
    `cache build (${imageSize}px): ${buildSeconds.toFixed(1)} s, ${(report.sourceCount / buildSeconds).toFixed(0)} images/s`,
    `epoch stream: ${batches} batches of ${batchSize} in ${epochSeconds.toFixed(2)} s` +
      ` (${((batches * batchSize) / epochSeconds).toFixed(0)} images/s, checksum ${checksum.toFixed(3)})`,
    `RSS after build: ${megabytes(rssAfterBuild)} MB, peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    `CPU cores: ${os.availableParallelism()}, node ${process.version}`,
  ];
  console.log(lines.join('\n'));
} finally {
  if (values.keep) console.log(`cache kept in ${cacheDir}`);
  else await rm(cacheDir, { recursive: true, force: true });
}
