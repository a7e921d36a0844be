// The float64 reference model of a GPU Sequential: each layer's own reference (Layer.reference), given
// that layer's weights and buffers as downloaded. No table of layer kinds here: a new layer brings its own.
import type { Sequential } from '../../src/model/layers.ts';
import { ReferenceSequential, type ReferenceTensors } from '../../src/reference/dcgan.ts';
import { download } from './check.ts';

export async function referenceOf(model: Sequential): Promise<ReferenceSequential> {
  const layers = [];
  for (const layer of model.layers) {
    const tensors: ReferenceTensors = {};
    for (const [name, t] of Object.entries({ ...layer.parameters(), ...layer.buffers() })) {
      tensors[name] = { data: await download(t), shape: [...t.shape] };
    }
    layers.push(layer.reference(tensors));
  }
  return new ReferenceSequential(layers);
}
