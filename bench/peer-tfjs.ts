// The peer: the same DCGAN iteration in TF.js's WebGPU backend, on the same adapter, as a user of TF.js
// would write it. NHWC (TF.js's native layout), PyTorch's DCGAN layers and init:
//   G: ConvT(nz→8f, 4, s1 p0) BN ReLU, [ConvT(c→c/2, 4, s2 p1) BN ReLU]…, ConvT(f→3, 4, s2 p1) Tanh
//   D: Conv(3→f, 4, s2 p1) LeakyReLU(0.2), [Conv(c→2c, 4, s2 p1) BN LeakyReLU]…, Conv(8f→1, 4, s1 p0)
// With k=4, s=2, TF's 'same' padding is PyTorch's p=1 on every side, and 'valid' is p=0.
// One iteration: D step on BCE(D(x),1) + BCE(D(G(z)),0), then G step on BCE(D(G(z)),1), Adam lr 2e-4 β1 0.5.
// Two differences from ours, both in TF.js's favour or neutral: TF.js cannot keep a tape across the
// two steps, so G's forward runs twice (once without a tape for the D step); batchnorm running
// statistics are not updated (a few tiny ops per layer that training mode never reads).
// Needs navigator.gpu: the browser has it; bench/bench.ts gives Node one from the `webgpu` package.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone has no gradients registered (the @tensorflow/tfjs bundle imports this file)
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgpu';
import type { DcganConfig } from '../src/model/dcgan.ts';

type Padding = 'same' | 'valid';
/** variableGrads gives a NamedTensorMap keyed by variable name, which is what Adam applies */
type Gradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
interface ConvSpec { w: tf.Variable; stride: number; pad: Padding; outChannels: number; size: number }
interface Norm { gamma: tf.Variable; beta: tf.Variable }

const weight = (shape: number[]) => tf.variable(tf.randomNormal(shape, 0, 0.02));
const norm = (c: number): Norm => ({ gamma: tf.variable(tf.randomNormal([c], 1, 0.02)), beta: tf.variable(tf.zeros([c])) });

function batchNorm(x: tf.Tensor4D, n: Norm): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, n.beta, n.gamma, 1e-5) as tf.Tensor4D;
}

function buildModels(c: DcganConfig, batch: number) {
  const strided = Math.log2(c.imageSize / 4);
  // G: transposed-conv filters are [kh, kw, out, in] in TF.js
  const g: { conv: ConvSpec; norm: Norm | null }[] = [];
  let channels = c.ngf * 2 ** (strided - 1);
  g.push({ conv: { w: weight([4, 4, channels, c.nz]), stride: 1, pad: 'valid', outChannels: channels, size: 4 }, norm: norm(channels) });
  let size = 4;
  for (let i = 1; i < strided; i++) {
    size *= 2;
    g.push({ conv: { w: weight([4, 4, channels / 2, channels]), stride: 2, pad: 'same', outChannels: channels / 2, size }, norm: norm(channels / 2) });
    channels /= 2;
  }
  g.push({ conv: { w: weight([4, 4, c.nc, channels]), stride: 2, pad: 'same', outChannels: c.nc, size: size * 2 }, norm: null });
  // D: conv filters are [kh, kw, in, out]
  const d: { conv: ConvSpec; norm: Norm | null }[] = [];
  channels = c.ndf;
  d.push({ conv: { w: weight([4, 4, c.nc, channels]), stride: 2, pad: 'same', outChannels: channels, size: 0 }, norm: null });
  for (let i = 1; i < strided; i++) {
    d.push({ conv: { w: weight([4, 4, channels, channels * 2]), stride: 2, pad: 'same', outChannels: channels * 2, size: 0 }, norm: norm(channels * 2) });
    channels *= 2;
  }
  d.push({ conv: { w: weight([4, 4, channels, 1]), stride: 1, pad: 'valid', outChannels: 1, size: 0 }, norm: null });

  const generator = (z: tf.Tensor4D): tf.Tensor4D => {
    let h = z;
    g.forEach(({ conv, norm: n }, i) => {
      h = tf.conv2dTranspose(h, conv.w as tf.Tensor4D, [batch, conv.size, conv.size, conv.outChannels], conv.stride, conv.pad);
      h = i === g.length - 1 ? tf.tanh(h) : tf.relu(batchNorm(h, n!));
    });
    return h;
  };
  const discriminator = (x: tf.Tensor4D): tf.Tensor4D => {
    let h = x;
    d.forEach(({ conv, norm: n }, i) => {
      h = tf.conv2d(h, conv.w as tf.Tensor4D, conv.stride, conv.pad);
      if (i < d.length - 1) h = tf.leakyRelu(n ? batchNorm(h, n) : h, 0.2);
    });
    return h; // logits [N, 1, 1, 1]
  };
  const variables = (layers: typeof g) => layers.flatMap(({ conv, norm: n }) => [conv.w, ...(n ? [n.gamma, n.beta] : [])]);
  return { generator, discriminator, gVars: variables(g), dVars: variables(d) };
}

export async function runTfjsIteration(
  c: DcganConfig,
  batch: number,
  repeat: number,
  log: (s: string) => void,
): Promise<{ name: string; msPerIter: number }> {
  if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) throw new Error('TF.js WebGPU needs navigator.gpu');
  if (tf.getBackend() !== 'webgpu' && !(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its webgpu backend');
  await tf.ready();
  const adapter = await (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu.requestAdapter();
  const device = adapter ? [adapter.info.vendor, adapter.info.architecture].filter((s) => s).join(' / ') : 'unknown adapter';
  const { generator, discriminator, gVars, dVars } = buildModels(c, batch);
  const optimizerD = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const optimizerG = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const real = tf.randomUniform([batch, c.imageSize, c.imageSize, c.nc], -1, 1) as tf.Tensor4D;
  const ones = tf.ones([batch, 1, 1, 1]);
  const zeros = tf.zeros([batch, 1, 1, 1]);
  const bce = (logits: tf.Tensor, labels: tf.Tensor) => tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;

  const step = async () => {
    const z = tf.randomNormal([batch, 1, 1, c.nz]) as tf.Tensor4D;
    const fake = tf.tidy(() => generator(z));
    const lossD = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.add(bce(discriminator(real), ones), bce(discriminator(fake), zeros)) as tf.Scalar, dVars);
      optimizerD.applyGradients(grads as Gradients);
      return value;
    });
    const lossG = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => bce(discriminator(generator(z)), ones), gVars);
      optimizerG.applyGradients(grads as Gradients);
      return value;
    });
    await Promise.all([lossD.data(), lossG.data()]); // read the losses back, as GanTraining.step does
    tf.dispose([z, fake, lossD, lossG]);
  };

  try {
    let started = performance.now();
    await step(); // compiles every shader
    log(`  TF.js warm-up iteration: ${(performance.now() - started).toFixed(0)} ms`);
    started = performance.now();
    for (let i = 0; i < repeat; i++) await step();
    const msPerIter = (performance.now() - started) / repeat;
    log(`  batch ${batch} TF.js: ${msPerIter.toFixed(1)} ms/iter`);
    return { name: `TF.js ${tf.version_core} webgpu (${device})`, msPerIter };
  } finally {
    tf.dispose([real, ones, zeros, ...gVars, ...dVars]);
    optimizerD.dispose();
    optimizerG.dispose();
  }
}

/** Release TF.js's own WebGPU device (Dawn in Node crashes at exit under a live device). */
export function closeTfjs(): void {
  const backend = tf.findBackend('webgpu') as { device?: GPUDevice } | null;
  if (!backend) return;
  tf.removeBackend('webgpu');
  backend.device?.destroy();
}
