// Shared by the command-line entry points: open the GPU, run, print errors as one line, close cleanly.
import { closeDevice } from '../webgpu.ts';
import { quittingWith } from './stop-signals.ts';

export async function runMain(main: () => Promise<number | void>): Promise<void> {
  let code = 0;
  try {
    code = (await main()) ?? 0;
  } catch (e) {
    if (quittingWith !== null) return; // a second stop signal: stop-signals.ts exits with its code
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message}`);
    if (process.env.DEBUG) console.error(e);
    code = 1;
  }
  await closeDevice();
  process.exit(quittingWith ?? code);
}
