// One-file build of `npm run bench` for a GPU machine with no node_modules (scripts/device/pack.sh):
// WGSL files inlined, TF.js (the peer), puppeteer (--browser) and sharp left out, since the GPU run
// times our own kernels in Node. The `webgpu` package is bundled; it loads dist/linux-x64/dawn.node
// beside the bundle, where pack.sh puts it.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const [entry, outfile] = process.argv.slice(2);
// the peer (TF.js) and --browser (puppeteer) modules stay out: loading them would need node_modules
const leaveOut = { name: 'leave-out', setup(b) { b.onResolve({ filter: /(peer-tfjs|node\/browser)\.ts$/ }, (args) => ({ path: args.path, external: true })); } };
const inlineWgsl = {
  name: 'wgsl-raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['@tensorflow/*', 'puppeteer-core', 'sharp', 'vite'],
  plugins: [leaveOut, inlineWgsl],
  // the bundled CommonJS parts still call require(): give the ES module one
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
