#!/usr/bin/env node
// `npx webgpu-dcgan <command> [flags]`: the package's command line, from any folder. Each command is one of
// the scripts `npm run <command> -- [flags]` runs inside this repository, run in this process (so Ctrl-C
// and `kill` reach the trainer itself, as they do under npm). The package ships its TypeScript source: this
// file registers tsx and the WGSL hook (scripts/register.mjs) and then imports the command's file, found
// relative to this file, never to the current folder. Paths in the flags are the user's, relative to the
// current folder, as under npm run.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

/** command → [its script, relative to the package, what it does] */
const COMMANDS = {
  train: ['src/node/cli/train.ts', 'train the DCGAN on a folder of photos (or --resume RUN)'],
  generate: ['src/node/cli/generate.ts', 'draw images from a checkpoint'],
  'train-chrome': ['src/node/cli/train-chrome.ts', 'train in headless Chromium (the page of web/)'],
  bench: ['bench/bench.ts', 'profile the kernels and a training iteration on this adapter'],
  export: ['src/node/cli/export.ts', 'write a checkpoint as a plain PyTorch state_dict'],
};

const available = Object.entries(COMMANDS).filter(([, [script]]) => existsSync(PACKAGE + script));
const USAGE = `usage: webgpu-dcgan <command> [flags]   (webgpu-dcgan <command> --help lists a command's flags)
${available.map(([name, [, what]]) => `  ${name.padEnd(13)}${what}`).join('\n')}`;

const [command, ...flags] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE);
  process.exit(command === undefined ? 1 : 0);
}
const entry = available.find(([name]) => name === command);
if (!entry) {
  console.error(`error: unknown command '${command}': use one of ${available.map(([name]) => name).join(', ')}`);
  process.exit(1);
}
// the commands read their flags from process.argv.slice(2), as under `node script.ts flags…`
process.argv.splice(2, process.argv.length - 2, ...flags);
await import('../scripts/register.mjs');
await import(pathToFileURL(PACKAGE + entry[1][0]).href);
