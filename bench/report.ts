// The benchmark result as terminal tables (also pasted into bench/RESULTS.md). No Node imports.
import type { BenchResult } from './core.ts';

/** A Markdown table: columns whose cells are all numbers (or '–', '%') right-aligned, text left-aligned. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-–\d.,%x³ ]*( ?[A-Za-zµ/]+)?$/.test(r[i]) && /\d|–/.test(r[i])));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

const fixed = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const percent = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export function formatReport(r: BenchResult): string {
  const o = r.options;
  const out: string[] = [
    r.adapter,
    `${r.environment}; ${r.date}; GPU timestamps: ${r.timestamps ? 'yes' : 'no (wall time)'}`,
    `model ${o.imageSize}x${o.imageSize}, nz ${o.nz}, ngf ${o.ngf}, ndf ${o.ndf}; batches ${o.batches.join(', ')}; repeat ${o.repeat}; kernel set ${o.kernelSet ?? 'fast'}; --tune ${o.tune ?? 'off'}`,
  ];
  if (r.ceilings) {
    const { sgemm, copy, dispatch } = r.ceilings;
    out.push('', 'Ceilings', table(['measure', 'size', 'ms', 'rate'], [
      ['SGEMM (bench/sgemm.wgsl), best call', `${sgemm.size}³`, fixed(sgemm.timing.ms, 3), `${fixed(sgemm.gflops, 2)} GFLOP/s`],
      ['copyBufferToBuffer', `${copy.megabytes} MB`, fixed(copy.ms, 3), `${fixed(copy.gbps, 2)} GB/s`],
      ['smallest dispatch (fill 1 value)', '1 workgroup', fixed(dispatch.ms, 3), `${fixed(1000 * dispatch.ms, 0)} µs/dispatch`],
    ]));
  }
  if (r.layers.length) {
    out.push('', 'Conv layers (ms = GPU time per call; GFLOP/s = 2·MACs; GB/s = bytes of inputs + output; * = what auto picks)', table(
      ['batch', 'layer', 'pass', 'variant', 'ms', 'GFLOP/s', 'GB/s', '% SGEMM', '% copy'],
      r.layers.map((l) => [String(l.batch), l.layer, l.pass, `${l.variant}${l.auto ? ' *' : ''}`, fixed(l.ms, 3), fixed(l.gflops, 2), fixed(l.gbps, 2), percent(l.ofSgemm), percent(l.ofCopy)]),
    ));
  }
  if (r.tuning?.length) {
    out.push('', 'Conv plans tuned on this adapter (src/train/tune.ts; ms = Σ medians of the passes timed now)', table(
      ['batch', 'mode', 'passes tuned', 'kept', 'seconds', 'differ from heuristic', 'tuned ms', 'heuristic ms'],
      r.tuning.map((t) => [String(t.batch), t.mode, String(t.tuned), String(t.kept), fixed(t.seconds, 1), String(t.changed), fixed(t.tuned ? t.chosenMs : null, 2), fixed(t.tuned ? t.heuristicMs : null, 2)]),
    ));
  }
  if (r.tunedPasses?.length) {
    out.push('', 'Tuned against heuristic, the passes where they differ (ms = GPU time per call, median of 3 alternating runs; ratio below 1: tuned is faster)', table(
      ['batch', 'layer', 'pass', 'heuristic', 'ms', 'tuned', 'ms', 'ratio'],
      r.tunedPasses.map((t) => [String(t.batch), t.layer, t.pass, t.heuristic, fixed(t.heuristicMs, 3), t.tuned, fixed(t.tunedMs, 3), fixed(t.tunedMs / t.heuristicMs, 3)]),
    ));
  }
  if (r.iterations.length) {
    out.push('', 'Whole iteration (GanTraining.step, each step awaited before the next; wall time after warm-up)', table(
      ['batch', 'ms/iter', 'images/s', 'GPU ms/iter', 'CPU record ms/iter, median', 'dispatches/iter', 'GPU memory', 'submits/iter', 'read-backs/iter', 'new buffers/iter', 'new bind groups/iter'],
      r.iterations.map((i) => [String(i.batch), fixed(i.msPerIter, 1), fixed(i.imagesPerSecond, 1), fixed(i.gpuMsPerIter, 1), `${fixed(i.recordMs, 2)}${i.recordMinMs === undefined ? '' : ` (min ${fixed(i.recordMinMs, 2)}, n ${i.recordSamples})`}`,
        fixed(i.dispatchesPerIter, 0), megabytes(i.bytesAllocated), String(i.perStep.submits), String(i.perStep.readBacks), String(i.perStep.buffersCreated),
        String(i.perStep.bindGroupsCreated)]),
    ));
    // an older JSON has no pipelined figures
    const pipelined = r.iterations.filter((i) => i.pipelinedMsPerIter !== undefined);
    if (pipelined.length) {
      out.push('', 'Pipelined steps, as training runs them (step i+1 submitted before step i\'s statistics are back), against steps each awaited first; steady state, medians of alternating blocks', table(
        ['batch', 'awaited ms/iter', 'pipelined ms/iter', 'saved', 'pipelined images/s', 'submits/iter', 'read-backs/iter', 'new buffers/iter', 'new bind groups/iter'],
        pipelined.map((i) => [String(i.batch), fixed(i.sequentialMsPerIter, 1), fixed(i.pipelinedMsPerIter, 1), percent(1 - i.pipelinedMsPerIter / i.sequentialMsPerIter),
          fixed(i.batch / (i.pipelinedMsPerIter / 1000), 1), fixed(i.pipelinedPerStep.submits, 2), fixed(i.pipelinedPerStep.readBacks, 2),
          fixed(i.pipelinedPerStep.buffersCreated, 2), fixed(i.pipelinedPerStep.bindGroupsCreated, 2)]),
      ));
    }
    // the adapter's floor: the step's conv FLOPs at the SGEMM ceiling of the same run (an older JSON has no FLOPs)
    const floored = r.ceilings ? r.iterations.filter((i) => i.convGflopPerIter !== undefined) : [];
    if (r.ceilings && floored.length) {
      const rate = r.ceilings.sgemm.gflops;
      const ratio = (ms: number | null, floorMs: number) => (ms === null ? '–' : `${fixed(ms / floorMs, 2)}x`);
      out.push('', `Against the floor: the step's conv GFLOP at this run's SGEMM ceiling (${fixed(rate, 2)} GFLOP/s)`, table(
        ['batch', 'conv GFLOP/iter', 'floor ms', 'awaited', 'pipelined', 'GPU time'],
        floored.map((i) => {
          const floorMs = (1000 * i.convGflopPerIter) / rate;
          return [String(i.batch), fixed(i.convGflopPerIter, 2), fixed(floorMs, 1), ratio(i.sequentialMsPerIter ?? i.msPerIter, floorMs),
            ratio(i.pipelinedMsPerIter ?? null, floorMs), ratio(i.gpuMsPerIter, floorMs)];
        }),
      ));
    }
    for (const i of r.iterations) {
      out.push('', `Top kernels, batch ${i.batch} (share of ${r.timestamps ? 'GPU time' : 'dispatches'})`, table(
        ['kernel', 'share', 'ms/iter', 'calls/iter'],
        i.topKernels.slice(0, 10).map((k) => [k.kernel, percent(k.share), fixed(r.timestamps ? k.msPerIter : null, 2), fixed(k.countPerIter, 0)]),
      ));
    }
  }
  if (r.batchnorms?.length) {
    out.push('', 'Batchnorm layers, training forward + backward (simple: the readable kernel alone; fast: the activation after it fused in)', table(
      ['batch', 'layer', 'version', 'ms', 'GB/s', '% copy', 'kernels'],
      r.batchnorms.map((b) => [String(b.batch), b.layer, b.variant, fixed(b.ms, 3), fixed(b.gbps, 2), percent(b.ofCopy), b.kernels.map((k) => k.split(':')[1]).join(', ')]),
    ));
  }
  if (r.metrics) {
    const { movingAverage: m, swd } = r.metrics;
    out.push('', 'Around the step (--ema: after every G step; SWD: once an epoch, the trainer\'s, on synthetic images)', table(
      ['measure', 'size', 'ms', 'rate', '% copy'],
      [
        ['moving_average (src/train/ema.ts), one dispatch', `${m.parameters} parameters`, fixed(m.ms, 3), `${fixed(m.gbps, 2)} GB/s`, percent(m.ofCopy)],
        ['SWD (src/metrics/swd.ts), wall time', `${swd.images} vs ${swd.images}, ${swd.size} px`, fixed(1000 * swd.seconds, 0), `${fixed(swd.images / swd.seconds, 1)} images/s`, '–'],
      ],
    ));
  }
  if (r.peer.length) {
    out.push('', 'Peer: the same iteration in TF.js (ratio = ours / TF.js; below 1: ours is faster)', table(
      ['batch', 'peer', 'TF.js ms/iter', 'ours ms/iter', 'ratio'],
      r.peer.map((p) => [String(p.batch), p.error ? `${p.peer} (failed: ${p.error.slice(0, 60)})` : p.peer, fixed(p.peerMsPerIter, 1), fixed(p.oursMsPerIter, 1), fixed(p.ratio, 3)]),
    ));
  }
  return out.join('\n');
}
