// Node module hooks for the TF.js peer (bench/peer-tfjs.ts) in Node. tfjs-core's CommonJS bundle, which
// Node picks, registers no gradients: those live only in its ES module build (dist/register_all_gradients),
// and that build uses directory imports Node refuses. So, for @tensorflow packages only: bare imports go to
// the ES module build ("module" in package.json), as a bundler would, and extensionless `./x` imports to `./x.js` or `./x/index.js`.
// Registered by bench/bench.ts before it loads the peer; the browser (Vite) needs none of this.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const esmEntry = (name) => {
  const manifest = require.resolve(`${name}/package.json`);
  const { module } = JSON.parse(readFileSync(manifest, 'utf8'));
  return pathToFileURL(manifest.replace(/package\.json$/, module)).href;
};

export async function resolve(specifier, context, nextResolve) {
  // `import * as seedrandom from 'seedrandom'` then `seedrandom.alea`: Node sees no named exports in that
  // CommonJS package, so hand TF.js a module that re-exports them
  if (specifier === 'seedrandom' && context.parentURL?.includes('/node_modules/@tensorflow/')) {
    const source =
      `import { createRequire } from 'node:module'; const s = createRequire(${JSON.stringify(context.parentURL)})('seedrandom');` +
      'export default s; export const alea = s.alea;';
    return { url: `data:text/javascript,${encodeURIComponent(source)}`, format: 'module', shortCircuit: true };
  }
  if (/^@tensorflow\/tfjs-(core|backend-webgpu)$/.test(specifier)) return { url: esmEntry(specifier), format: 'module', shortCircuit: true };
  if (context.parentURL?.includes('/node_modules/@tensorflow/') && specifier.startsWith('.')) {
    const target = new URL(specifier, context.parentURL);
    const path = fileURLToPath(target);
    // as bundlers do: `../gradients` is gradients.js when both it and a gradients/ folder exist
    if (!/\.js$/.test(path) && existsSync(`${path}.js`)) return { url: `${target.href}.js`, format: 'module', shortCircuit: true };
    if (existsSync(path) && statSync(path).isDirectory()) return { url: `${target.href}/index.js`, format: 'module', shortCircuit: true };
  }
  if (specifier === '@tensorflow/tfjs-core/dist/register_all_gradients') {
    return { url: esmEntry('@tensorflow/tfjs-core').replace(/index\.js$/, 'register_all_gradients.js'), format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
