// Copies a GPU Sequential into the float64 reference model: the same layers, the same weights.
import type { Sequential } from '../../src/model/layers.ts';
import { ReferenceSequential, type ReferenceLayerSpec } from '../../src/reference/dcgan.ts';
import { download } from './check.ts';

export async function referenceOf(model: Sequential): Promise<ReferenceSequential> {
  const specs: ReferenceLayerSpec[] = [];
  for (const layer of model.layers) {
    const l = layer as unknown as { options?: ReferenceLayerSpec['options']; slope?: number; momentum?: number; eps?: number };
    const tensors: ReferenceLayerSpec['tensors'] = {};
    for (const [name, t] of Object.entries({ ...layer.parameters(), ...layer.buffers() })) {
      tensors[name] = { data: await download(t), shape: [...t.shape] };
    }
    specs.push({ kind: layer.kind, options: l.options, slope: l.slope, momentum: l.momentum, eps: l.eps, tensors });
  }
  return new ReferenceSequential(specs);
}
