// Where the page keeps the conv tuner's choices (src/train/tune.ts): under `npm run train:chrome`, in Node's
// cache folder through the API (each run starts Chromium with a fresh profile, so browser storage would
// be empty every time); in a dashboard opened by hand, in the browser's localStorage.
import { API } from '../src/train/protocol.ts';
import type { TuningStore } from '../src/train/tune.ts';

export function serverTuningStore(adapter: string): TuningStore {
  const url = `${API}/tuning?adapter=${encodeURIComponent(adapter)}`;
  return {
    where: "Node's cache folder",
    read: async () => {
      const response = await fetch(url);
      const text = response.ok ? await response.text() : '';
      return text || null;  // empty: nothing kept yet
    },
    write: async (text) => {
      const response = await fetch(url, { method: 'POST', body: text });
      if (!response.ok) console.warn(`the conv tuning was not kept: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
    },
  };
}

export function browserTuningStore(adapter: string): TuningStore {
  const key = `webgpu-dcgan/conv-tuning/${adapter}`;
  return {
    where: `browser storage (${key})`,
    read: async () => {
      try {
        return localStorage.getItem(key);
      } catch {
        return null;  // storage disabled: tune every time
      }
    },
    write: async (text) => {
      try {
        localStorage.setItem(key, text);
      } catch (e) {
        console.warn(`the conv tuning was not kept in browser storage: ${(e as Error).message}`);
      }
    },
  };
}
