/**
 * In which loop iterations a call site inside an If ran, when the value it reads lives outside that
 * If (a module's input, computed in the loop body before the branch): the value is stacked for every
 * iteration, but the module was called only where the If's condition chose its branch. The condition
 * comes back stacked per iteration of the loops around the If (`[n, m]` for two), or, for an If
 * itself inside a branch in a loop, only for the iterations where that branch ran (its ragged
 * records, thread-ragged.ts): an iteration without a record did not reach the If at all.
 */
import type { ContextStep, GraphIndex } from '../graph/graph-index.js';
import { splitRagged } from '../graph/thread-ragged.js';

/** An If condition as a capture fetched it. */
export interface CondValue {
  readonly data: ArrayLike<unknown>;
  readonly dims?: readonly number[];
  /** Set when the condition was collected per taken iteration (an If in a branch inside a loop). */
  readonly records?: { readonly meta: { data: unknown }; readonly loops: number };
}

export type CondReader = (value: string) => CondValue | undefined;

const isLoop = (index: GraphIndex, s: ContextStep) => index.nodes[s.node].opType !== 'If';

/**
 * The iteration tuples (one number per loop around the value, outermost first) in which the site
 * ran, or undefined when a condition cannot tell (an If in a loop the value is not in).
 */
export function takenIterations(
  index: GraphIndex,
  siteContext: readonly ContextStep[],
  steps: readonly ContextStep[],
  loopDims: readonly number[],
  cond: CondReader,
): number[][] | undefined {
  const total = loopDims.reduce((a, b) => a * b, 1);
  let ran = Array.from({ length: total }, (_, i) => unravel(i, loopDims));
  const valueLoops = steps.filter((s) => isLoop(index, s));
  for (const step of siteContext) {
    const node = index.nodes[step.node];
    if (node.opType !== 'If' || steps.some((s) => s.node === step.node && s.attr === step.attr)) continue;
    const ifLoops = index.context[step.node].filter((s) => isLoop(index, s));
    // The If's loops must be the value's outer loops (same nodes, same order).
    if (ifLoops.length > valueLoops.length || ifLoops.some((s, i) => s.node !== valueLoops[i].node)) return undefined;
    const at = conditionAt(cond(node.input![0]), ifLoops.length, loopDims);
    if (!at) return undefined;
    const wanted = step.attr === 'then_branch';
    ran = ran.filter((it) => at(it.slice(0, ifLoops.length)) === wanted);
  }
  return ran;
}

/** The condition's value in one iteration of its loops; undefined where the If did not run. */
function conditionAt(
  c: CondValue | undefined,
  loops: number,
  loopDims: readonly number[],
): ((it: readonly number[]) => boolean | undefined) | undefined {
  if (!c) return undefined;
  if (c.records) {
    if (c.records.loops !== loops) return undefined;
    const byIteration = new Map<string, boolean>();
    const taken = splitRagged(c.records.meta, loops, (offset) => Boolean(c.data[offset]));
    for (const r of taken) byIteration.set(r.iterations.join(','), r.tensor);
    return (it) => byIteration.get(it.join(','));
  }
  const dims = loopDims.slice(0, loops);
  const per = dims.reduce((a, b) => a * b, 1);
  if (c.data.length !== per) return undefined;
  return (it) => Boolean(c.data[ravel(it, dims)]);
}

/** A flat iteration number to its index per loop (row-major, the outer loop first). */
export function unravel(flat: number, dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let d = dims.length - 1; d >= 0; d--) {
    out[d] = flat % dims[d];
    flat = Math.floor(flat / dims[d]);
  }
  return out;
}

function ravel(it: readonly number[], dims: readonly number[]): number {
  return it.reduce((flat, i, d) => flat * dims[d] + i, 0);
}
