// CPU reference for shaders/activations.wgsl: float64 loops, the specification the kernels are checked against.
// Backward functions return dL/dx given the forward input x (or output y) and dL/dy.

type Vec = Float64Array;
const map = (a: Vec, f: (v: number, i: number) => number): Vec => a.map(f);

export const reluForward = (x: Vec) => map(x, (v) => Math.max(v, 0));
export const reluBackward = (x: Vec, dy: Vec) => map(x, (v, i) => (v > 0 ? dy[i] : 0));

export const leakyReluForward = (x: Vec, slope: number) => map(x, (v) => (v > 0 ? v : slope * v));
export const leakyReluBackward = (x: Vec, dy: Vec, slope: number) => map(x, (v, i) => (v > 0 ? dy[i] : slope * dy[i]));

export const tanhForward = (x: Vec) => map(x, Math.tanh);
/** d tanh(x)/dx = 1 - tanh(x)^2, written from the output y */
export const tanhBackward = (y: Vec, dy: Vec) => map(y, (v, i) => dy[i] * (1 - v * v));

export const sigmoidForward = (x: Vec) => map(x, (v) => 1 / (1 + Math.exp(-v)));
/** d sigmoid(x)/dx = y (1 - y) */
export const sigmoidBackward = (y: Vec, dy: Vec) => map(y, (v, i) => dy[i] * v * (1 - v));
