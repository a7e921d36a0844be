// The page's side of `npm run train:chrome`: batches from the Node cache, and the run folder as the
// store, over the API of src/train/protocol.ts. Batches arrive as the cache's uint8 bytes and are turned into
// floats by the loader's own hwcBytesToNchwFloats, so they equal `npm run train`'s bit for bit.
import { hwcBytesToNchwFloats } from '../src/train/data/loader.ts';
import type { RgbaImage } from '../src/train/images.ts';
import { API, type PageEvent, type RunDescription } from '../src/train/protocol.ts';
import { SwdEvaluator } from '../src/metrics/swd.ts';
import type { DataSource, RunStore } from './session.ts';

async function ok(response: Response, what: string): Promise<Response> {
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
  return response;
}

const postJson = (path: string, body: unknown) =>
  fetch(`${API}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Is this page served by train:chrome? (GET /api/run answers JSON there, Vite's 404 page elsewhere.) */
export async function describeRun(): Promise<RunDescription> {
  const response = await ok(await fetch(`${API}/run`), 'GET /api/run');
  return (await response.json()) as RunDescription;
}

export async function fetchCheckpoint(): Promise<Uint8Array> {
  const response = await ok(await fetch(`${API}/checkpoint`), 'GET /api/checkpoint');
  return new Uint8Array(await response.arrayBuffer());
}

export function serverData(run: RunDescription): DataSource {
  const { batchSize, model } = run.config;
  let evaluator: Promise<SwdEvaluator> | null = null;
  return {
    batchesPerEpoch: run.batchesPerEpoch,
    // the SWD against the run's held-out photos, fetched once
    evaluate: run.heldOut === 0 ? undefined : async (draw, nz) => {
      evaluator ??= (async () => {
        const response = await ok(await fetch(`${API}/heldout`), 'GET /api/heldout');
        return new SwdEvaluator(new Uint8Array(await response.arrayBuffer()), run.heldOut, model.imageSize);
      })();
      return (await evaluator).evaluate(draw, nz);
    },
    async batch(epoch, index, target) {
      const response = await ok(await fetch(`${API}/batch?epoch=${epoch}&index=${index}`), `batch ${index} of epoch ${epoch}`);
      const pixels = new Uint8Array(await response.arrayBuffer());
      if (pixels.length !== batchSize * model.imageSize ** 2 * 3) throw new Error(`batch ${index} of epoch ${epoch}: ${pixels.length} bytes`);
      hwcBytesToNchwFloats(pixels, batchSize, model.imageSize, target);
      return target;
    },
  };
}

export function serverStore(run: RunDescription): RunStore {
  let saved = run.resume;
  return {
    async log(entry) {
      await ok(await postJson('/log', entry), 'POST /api/log');
    },
    async saveSamples(name: string, grid: RgbaImage) {
      const url = `${API}/samples?name=${encodeURIComponent(name)}&width=${grid.width}&height=${grid.height}`;
      const response = await ok(await fetch(url, { method: 'POST', body: grid.data as Uint8Array<ArrayBuffer> }), `POST ${url}`);
      return ((await response.json()) as { file: string }).file;
    },
    async saveCheckpoint(bytes, _position, keepAs, best) {
      const query = [keepAs ? `keep=${encodeURIComponent(keepAs)}` : '', best ? 'best=1' : ''].filter(Boolean).join('&');
      const url = `${API}/checkpoint${query ? `?${query}` : ''}`;
      await ok(await fetch(url, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer> }), `POST ${url}`);
      saved = true;
    },
    keptCheckpoint: () => (saved ? run.checkpointFile : null),
  };
}

/** Progress and the end of the run, for the terminal; never throws (the terminal may be gone). */
export function sendEvent(event: PageEvent): Promise<void> {
  return postJson('/event', event).then(
    () => undefined,
    () => undefined,
  );
}
