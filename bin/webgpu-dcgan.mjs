#!/usr/bin/env node
// `npx webgpu-dcgan <command> [flags]`: the package's command line, from any folder; the npm scripts of
// this repository (`npm run train -- …`) run through it too. Each command is a script of the package,
// found relative to this file, never to the current folder (paths in the flags are the user's, relative
// to the current folder). The package ships TypeScript: the command runs under scripts/register.mjs
// (tsx and the WGSL hook).
//
// Why a second process: Dawn prints two warnings from C++ straight to file descriptor 2 whenever it opens
// an adapter whose driver reports more dynamic buffers per pipeline layout than Dawn supports (lavapipe
// reports 1,000,000; Dawn clamps to 16 while it reads the adapter's limits, before anything can be
// requested, so no requiredLimits avoids them):
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
// They mean nothing to a user, and JavaScript cannot reach a native write to fd 2. So the command runs in
// a child whose fd 2 is a pipe to this process, which drops those two lines and passes every other byte
// on; the child's own JavaScript stderr goes straight to our stderr, handed over as its fd 3
// (scripts/js-stderr.mjs), so a terminal stays a terminal for the progress bar and nothing we print
// waits on the filter.
//
// Signals: the child has a process group of its own, so a terminal's Ctrl-C reaches it once, from here
// (the terminal sends SIGINT to our group, and `npm run` passes it on as well: the same keypress arrives
// here twice, within milliseconds, and is passed on once). SIGINT, SIGTERM and SIGHUP are passed on; the
// child's exit code is ours. If our parent goes (npm after SIGHUP, a closed terminal's shell), we exit,
// and the child, whose parent we are, stops the way src/node/cli/stop-signals.ts stops an orphan.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

/** command → [its script, relative to the package, what it does] */
const COMMANDS = {
  train: ['src/node/cli/train.ts', 'train the DCGAN on a folder of photos (or --resume RUN)'],
  generate: ['src/node/cli/generate.ts', 'draw images from a checkpoint'],
  'train-chrome': ['src/node/cli/train-chrome.ts', 'train in headless Chromium (the page of web/)'],
  bench: ['bench/bench.ts', 'profile the kernels and a training iteration on this adapter'],
  export: ['src/node/cli/export.ts', 'write a checkpoint as a plain PyTorch state_dict'],
  eval: ['src/node/cli/eval.ts', "a checkpoint's SWD against the photos its run held out"],
  'tune-lr': ['src/node/cli/tune-lr.ts', 'short runs per learning rate, ranked by SWD'],
};

/** The lines Dawn writes to fd 2 that a user has no use for (see above). */
const DAWN_LIMIT_WARNING = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const WARNING_PREFIX = 'Warning: maxDynamic';
/** Two deliveries of one signal closer than this are one keypress (the terminal's and npm's copy). */
const SAME_SIGNAL_MS = 300;

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

/** Started by this repository's own `npm run train` (…), whose lines say `npm run train --`. */
function underOurNpmScript() {
  const script = process.env.npm_lifecycle_event ?? '';
  return process.env.npm_package_name === 'webgpu-dcgan' && ['train', 'train:chrome', 'generate', 'bench', 'export', 'eval', 'tune-lr'].includes(script);
}

const child = spawn(
  process.execPath,
  [...process.execArgv, '--import', new URL('../scripts/js-stderr.mjs', import.meta.url).href,
    '--import', new URL('../scripts/register.mjs', import.meta.url).href, PACKAGE + entry[1][0], ...flags],
  {
    stdio: ['ignore', 'inherit', 'pipe', 2], // fd 3 of the child: our stderr, for its JavaScript
    detached: true, // a process group of its own: signals reach it from here only
    // WEBGPU_DCGAN_COMMAND: how usage and retry lines name the command (src/node/cli/args.ts: commandLine)
    env: { ...process.env, WEBGPU_DCGAN_STDERR_FD: '3', WEBGPU_DCGAN_COMMAND: underOurNpmScript() ? '' : 'webgpu-dcgan' },
  },
);

// ---- fd 2 of the child → our stderr, without Dawn's limit warnings. A line is held back only while it
// may still become one of them, so a progress bar's `\r` redraws pass at once.
let pending = '';
child.stderr.setEncoding('utf8');
child.stderr.on('data', (text) => {
  pending += text;
  let out = '';
  for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    if (!DAWN_LIMIT_WARNING.test(line)) out += `${line}\n`;
  }
  if (pending && !(WARNING_PREFIX.startsWith(pending) || pending.startsWith(WARNING_PREFIX))) {
    out += pending;
    pending = '';
  }
  if (out) process.stderr.write(out);
});
child.stderr.on('end', () => {
  if (pending && !DAWN_LIMIT_WARNING.test(pending)) process.stderr.write(pending);
});

// ---- signals and exit
const lastSent = new Map();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    const now = Date.now();
    if (now - (lastSent.get(signal) ?? -Infinity) < SAME_SIGNAL_MS) return;
    lastSent.set(signal, now);
    try {
      child.kill(signal);
    } catch {
      // already gone: its exit is on its way
    }
  });
}
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(129); // the child notices we are gone, and stops as an orphan does
}, 1000).unref();

child.on('error', (e) => {
  console.error(`error: could not start ${entry[1][0]}: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  // let the filter drain what the child wrote last, then leave with its code (128 + n for a signal n)
  const exitCode = code ?? 128 + (constants.signals[signal] ?? 0);
  if (child.stderr.readableEnded) process.exit(exitCode);
  child.stderr.on('end', () => process.exit(exitCode));
  setTimeout(() => process.exit(exitCode), 2000).unref();
});
