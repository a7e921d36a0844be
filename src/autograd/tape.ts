// The reverse-mode autograd tape, in the spirit of micrograd: every differentiable op (./ops.ts, ./conv.ts,
// ...) computes its output with a launcher and calls record(), which keeps the op's inputs and a closure
// mapping dL/d(output) to dL/d(each input). backward() walks that graph from the loss back to the leaves.
import { gpu } from '../gpu/context.ts';
import { Tensor, TensorArena, keep, shapeText } from '../gpu/tensor.ts';
import { accumulate, addScaled, copy, fill } from '../kernels/elementwise.ts';
import { currentScope, traced, within } from '../gpu/trace.ts';

/**
 * Given dL/d(output), return dL/d(input) for each input (null where an input needs no gradient).
 * Each returned gradient must be a new tensor: backward() frees them once accumulated.
 */
type BackwardFn = (gradOutput: Tensor) => (Tensor | null)[];

/** An op's inputs and backward; `scope`: where it was recorded, when a kernel trace is on (src/gpu/trace.ts). */
interface Node { inputs: Tensor[]; backward: BackwardFn; scope?: string[] }
/** The graph: the node of every op output, by tensor (weakly held: a tensor gone to the GC takes its node along). */
const nodes = new WeakMap<Tensor, Node>();

// ---- no-grad scope: ops inside record nothing (evaluation, optimizer updates, sampling)
let gradEnabled = true;

export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/**
 * Run `fn` (ops and their backward()) with `tensors` treated as constants: no op records a gradient for
 * them, so backward() skips the passes that would compute one (a conv's weight gradient). For a network
 * whose gradients a step would throw away: the GAN's G step freezes D (src/train/gan.ts).
 */
export function frozen<T>(tensors: Tensor[], fn: () => T): T {
  const before = tensors.map((t) => t.requiresGrad);
  for (const t of tensors) t.requiresGrad = false;
  try {
    return fn();
  } finally {
    tensors.forEach((t, i) => (t.requiresGrad = before[i]));
  }
}

/** Called by ops: make `output` the result of an op on `inputs`, differentiated by `backward`. Returns `output`. */
export function record<T extends Tensor>(output: T, inputs: Tensor[], backward: BackwardFn): T {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    nodes.set(output, { inputs, backward, scope: currentScope() });
  }
  return output;
}

/**
 * Reverse-mode differentiation of `root`, whose gradient dL/d(root) is `gradient` (default 1, for a scalar
 * loss). Three steps, as in micrograd: put the graph in topological order (every tensor after its inputs);
 * walk it backwards, each op's closure turning dL/d(output) into dL/d(input) (the chain rule), added up
 * (+=) per tensor over all the ops that used it; and a leaf (no op made it: a parameter, an input) adds
 * its gradient into .grad, kept across calls until zeroGrad(), as PyTorch does.
 *
 * backward() only records GPU work: each launcher appends its dispatch to the shared command encoder
 * (src/gpu/context.ts), and nothing runs until that batch is submitted (the next read-back or sync). That is
 * why a gradient can be freed right after recording the ops that read it: dispose() returns its buffer to
 * the pool, and whatever takes the buffer next is recorded, and so runs, after those reads.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward() on a tensor that does not require grad: nothing to differentiate');
  if (!gradient && root.size !== 1) throw new Error(`backward() without a gradient needs a scalar, got ${shapeText(root.shape)}`);
  // dL/dt of every tensor t reached so far, each owned by backward() except the root's, which is borrowed
  // (the caller's, or a cached tensor of ones: no fill per call) and so never freed here
  const seed = gradient ?? ones(root.shape);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const slotShares: [Tensor, Tensor][] = [];  // (leaf with a gradient slot, its share), written at the end
  for (const t of topologicalOrder(root).reverse()) {
    const g = grads.get(t);
    if (!g) continue;  // no path from t to root needs its gradient
    grads.delete(t);
    const node = nodes.get(t);
    if (node) chainRule(node, g, grads, g !== seed);
    else if (t.gradSlot) slotShares.push([t, keep(g === seed ? copy(g) : g)]);
    else accumulateIntoLeaf(t, g === seed ? copy(g) : g);
  }
  traced('the parameters\' gradients into their slots', () => accumulateIntoSlots(slotShares));
}

/** dL/d(root) = 1 for a scalar loss: one tensor per shape, filled once and kept (per device). */
function ones(shape: readonly number[]): Tensor {
  const device = gpu().device;
  let cache = onesByDevice.get(device);
  if (!cache) onesByDevice.set(device, (cache = new Map()));
  const key = shapeText(shape);
  let t = cache.get(key);
  if (!t) cache.set(key, (t = keep(fill(shape, 1))));
  return t;
}
const onesByDevice = new WeakMap<GPUDevice, Map<string, Tensor>>();

/** Every tensor `root` depends on, each after all of its inputs (depth-first post-order). */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const visit = (t: Tensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    t.assertAlive();  // a graph tensor freed early (outside the tidy() that made it) has lost what backward needs
    for (const input of nodes.get(t)?.inputs ?? []) visit(input);
    order.push(t);
  };
  visit(root);
  return order;
}

/** An op's output with gradient g: its closure gives each input's share, added into `grads`; g is then freed if `owned`. */
function chainRule(node: Node, g: Tensor, grads: Map<Tensor, Tensor>, owned: boolean): void {
  const inputGrads = within(node.scope, 'backward', () => node.backward(g));
  if (owned) g.dispose();
  node.inputs.forEach((input, i) => {
    const gi = inputGrads[i];
    if (!gi) return;
    if (!input.requiresGrad) return gi.dispose();
    const previous = grads.get(input);
    if (!previous) return void grads.set(input, gi);
    grads.set(input, addScaled(previous, gi, 1));  // a tensor used by several ops: dL/dt = Σ of their shares
    previous.dispose();
    gi.dispose();
  });
}

/** A leaf with gradient g: .grad += g (or = g), kept out of every tidy() scope: it outlives the step. */
function accumulateIntoLeaf(leaf: Tensor, g: Tensor): void {
  if (!leaf.grad) {
    leaf.grad = keep(g);
    return;
  }
  const sum = keep(addScaled(leaf.grad, g, 1));
  leaf.grad.dispose();
  g.dispose();
  leaf.grad = sum;
}

/**
 * The shares of the leaves with a gradient slot (the parameters of a Sequential: slots of its network's
 * gradient arena), written when the walk is done, so their copies follow one another (a copy ends the
 * encoder's open compute pass; a next dispatch opens another). The first share since zeroGrad() is
 * copied into the slot (a copy command, no dispatch). Later shares are added: when every slot of an
 * arena has one (every parameter of a network, as each backward() through it gives), copied into the
 * arena's scratch twin and added in ONE pass over the whole arena (the padding is 0 in both), instead of
 * a pass per parameter; otherwise one pass each.
 */
function accumulateIntoSlots(shares: [Tensor, Tensor][]): void {
  const added = new Map<TensorArena, [number, Tensor][]>();
  for (const [leaf, g] of shares) {
    const slot = leaf.gradSlot!;
    if (!leaf.grad) {
      slot.copyFrom(g);
      leaf.grad = slot;
    } else if (leaf.grad === slot) {
      const { arena, index } = TensorArena.slotOf(slot)!;
      if (!added.has(arena)) added.set(arena, []);
      added.get(arena)!.push([index, g]);
    } else { // a gradient set by hand: a tensor of its own
      const sum = keep(addScaled(leaf.grad, g, 1));
      leaf.grad.dispose();
      leaf.grad = sum;
    }
  }
  for (const [arena, list] of added) {
    if (list.length < arena.tensors.length) continue; // each leaf is reached once per backward(): the indices differ
    const scratch = arena.scratch();
    for (const [i, g] of list) scratch.tensors[i].copyFrom(g);
  }
  for (const [arena, list] of added) {
    if (list.length === arena.tensors.length) accumulate(arena.whole, arena.scratch().whole);
    else for (const [i, g] of list) accumulate(arena.tensors[i], g);
  }
  for (const [, g] of shares) g.dispose();
}
