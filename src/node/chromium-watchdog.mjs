// Chromium's watchdog: `node chromium-watchdog.mjs DIR`, started by launchChromium (src/node/browser.ts)
// before Chromium, in a process group of its own, with a pipe on stdin whose other end only the trainer
// holds. When the trainer is gone, however it went (SIGKILL included: the kernel closes its end of the
// pipe, and EOF arrives here), this SIGKILLs every process started with --user-data-dir=DIR, removes the
// temporary profile DIR, and exits.
//
// Why a process of its own: nothing runs inside a process after SIGKILL, and prctl(PR_SET_PDEATHSIG) is
// not reachable from Node. Why find Chromium by its profile flag rather than by PID or process group: every
// Chromium process (browser, zygotes, GPU, renderers, utilities) carries the flag in its argv, the flag
// names a directory made for this one browser, and the watchdog can start before there is a PID to give it.
// Plain JavaScript, not TypeScript: it runs in a bare `node`, without the tsx loader's startup.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node chromium-watchdog.mjs USER_DATA_DIR');
  process.exit(2);
}
const flag = `--user-data-dir=${dir}`;

/**
 * The PIDs whose command line holds `flag` as a word (Linux only). A word, not an argv element: Chromium's
 * child processes rewrite their title, leaving all their arguments in argv[0], joined by spaces. A zombie's
 * cmdline is empty, so the dead never match.
 */
function chromiumPids() {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1');
    } catch {
      continue; // it exited while we looked
    }
    if (` ${cmdline.replace(/\0/g, ' ')} `.includes(` ${flag} `)) pids.push(Number(name));
  }
  return pids;
}

let cleaning = false;
async function cleanUp() {
  if (cleaning) return;
  cleaning = true;
  // The profile is thrown away, so a graceful shutdown would buy nothing: SIGKILL at once. More rounds
  // because the browser may fork a process between our scan and its death.
  for (let round = 0; round < 50; round++) {
    const pids = chromiumPids();
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(100);
  }
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

// launchChromium never writes to the pipe: EOF comes when the trainer dies, or from its close() (same clean-up).
process.stdin.on('end', cleanUp);
process.stdin.on('close', cleanUp);
process.stdin.on('error', cleanUp);
process.stdin.resume();
