// The kernel trace: which kernel computed what. While a trace is on (`--trace-kernels` traces one training
// step), every dispatch is written down with the scope it was recorded in: a path of names that the layers
// above push (the step's phase, the network's layer, the backward of an op, a conv pass and its plan), so
// "which kernel computed this gradient" is answered by reading the trace, not the 17 files behind it.
// Off (the usual case), each hook is one null check.

export interface TraceEntry {
  /** the scopes the dispatch was recorded in, outermost first, e.g. ['D step', 'D(real)', 'main.2 Conv2d', 'forward'] */
  scope: string[];
  /** Kernel.name: `file:entry`, with its override constants */
  kernel: string;
  /** the workgroup grid */
  grid: number[];
}

let entries: TraceEntry[] | null = null;
let scopes: string[] = [];

/** Start writing down dispatches (a trace already on starts over). */
export function startTrace(): void {
  entries = [];
  scopes = [];
}

/** Stop, and return what was dispatched since startTrace. */
export function stopTrace(): TraceEntry[] {
  const done = entries ?? [];
  entries = null;
  scopes = [];
  return done;
}

/** Called by Kernel.dispatch for every dispatch. */
export function traceDispatch(kernel: string, grid: number[]): void {
  entries?.push({ scope: [...scopes], kernel, grid });
}

/** Run `fn` inside a scope named `name` (named lazily: nothing is built while no trace is on). */
export function traced<T>(name: string | (() => string), fn: () => T): T {
  if (!entries) return fn();
  scopes.push(typeof name === 'string' ? name : name());
  const depth = scopes.length;
  try {
    return fn();
  } finally {
    scopes.length = depth - 1;
  }
}

/** The scope path now, to be restored later with within() (the tape keeps each op's, for its backward). */
export const currentScope = (): string[] | undefined => (entries ? [...scopes] : undefined);

/**
 * Run `fn` (an op's backward) in the scope it was recorded in, `path`, followed by `name`, filed under the
 * scope backward() runs in now: the part of `path` the two share is not repeated. So the G step's
 * backward through G, whose forward was recorded under 'G(noise)', reads 'G step › G(noise) › main.4 … › backward'.
 */
export function within<T>(path: string[] | undefined, name: string, fn: () => T): T {
  if (!entries) return fn();
  const before = scopes;
  const own = path ?? [];
  let shared = 0;
  while (shared < own.length && shared < before.length && own[shared] === before[shared]) shared++;
  scopes = [...before, ...own.slice(shared), name];
  try {
    return fn();
  } finally {
    scopes = before;
  }
}

/**
 * The trace as text: each run of dispatches under the same scope gets the scope as a heading (the part
 * shared with the heading before it left out), then one line per kernel with its grid.
 */
export function formatTrace(trace: TraceEntry[]): string {
  const lines: string[] = [];
  let previous: string[] = [];
  for (const e of trace) {
    if (e.scope.join('\u0000') !== previous.join('\u0000')) {
      let shared = 0;
      while (shared < e.scope.length && shared < previous.length && e.scope[shared] === previous[shared]) shared++;
      for (let d = shared; d < e.scope.length; d++) lines.push(`${'  '.repeat(d)}${e.scope[d]}`);
      previous = e.scope;
    }
    lines.push(`${'  '.repeat(e.scope.length)}→ ${e.kernel}  [${e.grid.join('x')}]`);
  }
  return lines.join('\n');
}
