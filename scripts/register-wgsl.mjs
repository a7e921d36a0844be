// `node --import ./scripts/register-wgsl.mjs`: lets Node (with tsx) import WGSL files with `?raw`.
import { register } from 'node:module';
register('./wgsl-hooks.mjs', import.meta.url);
