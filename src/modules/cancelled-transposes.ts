/**
 * The TorchScript exporter removes transposes across module boundaries: a `.t()` before a Gemm
 * becomes the Gemm's transA/transB flag, and two transposes that cancel (a batch-first recurrent
 * layer's output swap and the next one's input swap) both disappear. The value crossing the
 * boundary is then the untransposed one, on both sides, while PyTorch's hooks saw the transposed
 * one on one side at least; the graph cannot tell which side ran the transpose. So where the graph
 * shows it (a Gemm flag on an activation from another module, a batch-first recurrent op missing
 * its input or output swap), the modules whose output is that value and the calls receiving it are
 * reported, never returned.
 *
 * Two permutes that cancel between modules other than recurrent ones leave no trace in the graph:
 * that case is not detected here (only a comparison with PyTorch's hooks, `neurotap compare`, shows it).
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import type { ModuleCall, ModuleInfo } from './module-map.js';
import { markMergedRecurrentInputs } from './recurrent-inputs.js';

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

export function markCancelledTransposes(index: GraphIndex, modules: readonly ModuleInfo[]): void {
  // A transpose merged (not cancelled) into a batch-first recurrent module's own: recurrent-inputs.ts.
  markMergedRecurrentInputs(index, modules);
  for (const crossing of [...gemmCrossings(index), ...recurrentCrossings(index)]) report(modules, crossing);
}

/** A value crossing a module boundary without the transpose one side of it saw. */
interface Crossing {
  readonly value: string;
  /** A node on one side: calls holding it read the value, calls without it produced it (or the reverse). */
  readonly node: number;
  /** Whether `node` is the value's reader (a Gemm, the next recurrent op) rather than its producer. */
  readonly nodeReads: boolean;
  readonly reason: string;
  /** Only the calls reading the value are affected (its producer's output is what it returns). */
  readonly readersOnly?: boolean;
}

function attr(node: NodeProto, name: string): number | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  return a?.i === undefined ? undefined : Number(a.i);
}

/**
 * Gemm inputs whose transpose flag stands for a `.t()` the exporter folded into it. A weight computed
 * from parameters alone (a parametrization, weight_norm without constant folding) read with transB is
 * a Linear's own `x @ w.t()`: the value is the weight as its module returned it.
 */
function gemmCrossings(index: GraphIndex): Crossing[] {
  const crossings: Crossing[] = [];
  const fixed = parameterOnly(index);
  index.nodes.forEach((node, n) => {
    if (node.opType !== 'Gemm') return;
    for (const [i, flag] of [
      [0, 'transA'],
      [1, 'transB'],
    ] as const) {
      const value = node.input?.[i] ?? '';
      if (attr(node, flag) !== 1 || !value || index.initializers.has(value) || !index.producer.has(value)) continue;
      if (flag === 'transB' && fixed[index.producer.get(value)!]) continue;
      crossings.push({
        value,
        node: n,
        nodeReads: true,
        reason: `the exporter folded a transpose of this value into the ${flag} flag of the Gemm '${node.name ?? n}', so the graph holds it untransposed; whether the transpose ran inside this module or after it, the graph cannot tell`,
      });
    }
  });
  return crossings;
}

/** Per node: whether its outputs depend on initializers and constants only (no graph input). */
function parameterOnly(index: GraphIndex): boolean[] {
  const fixed: boolean[] = [];
  index.reads.forEach((reads, i) => {
    fixed[i] = reads.every((v) => {
      if (index.initializers.has(v)) return true;
      const p = index.producer.get(v);
      return p !== undefined && p < i && fixed[p];
    });
  });
  return fixed;
}

/** Axes 0 and 1 swapped: a batch-first layer's own transpose. */
function isSwap(node: NodeProto | undefined): boolean {
  const perm = node?.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
  return node?.opType === 'Transpose' && perm?.[0] === 1 && perm[1] === 0;
}

/**
 * A transpose moving axis 0 or 1: a batch-first layer's input swap, possibly merged with another
 * permute (ONNX Runtime's transpose optimiser turns swap ∘ permute into one `perm [2, 0, 1]`).
 */
function movesBatchAxes(node: NodeProto | undefined): boolean {
  const perm = node?.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
  return node?.opType === 'Transpose' && perm !== undefined && (perm[0] !== 0 || perm[1] !== 1);
}

interface Recurrent {
  readonly node: number;
  readonly input: string;
  /** The sequence output after the exporter's Squeeze (what leaves the layer time-major). */
  readonly sequence: string;
  readonly inSwap: boolean;
  readonly outSwap: boolean;
}

function recurrentOps(index: GraphIndex): Recurrent[] {
  const ops: Recurrent[] = [];
  index.nodes.forEach((node, n) => {
    if (!RECURRENT.has(node.opType ?? '')) return;
    const input = node.input?.[0] ?? '';
    const p = index.producer.get(input);
    const y = node.output?.[0] ?? '';
    const squeeze = (index.consumers.get(y) ?? []).find((c) => index.nodes[c].opType === 'Squeeze');
    const sequence = squeeze === undefined ? y : (index.nodes[squeeze].output?.[0] ?? y);
    const outSwap = (index.consumers.get(sequence) ?? []).some((c) => isSwap(index.nodes[c]));
    ops.push({
      node: n,
      input,
      sequence,
      inSwap: movesBatchAxes(p === undefined ? undefined : index.nodes[p]),
      outSwap,
    });
  });
  return ops;
}

/**
 * Batch-first recurrent ops (one of their swaps survives) and those chained to them sequence to
 * input with no transpose between: each swap missing in that chain was cancelled against another.
 */
function recurrentCrossings(index: GraphIndex): Crossing[] {
  const ops = recurrentOps(index);
  const suspect = new Set(ops.filter((r) => r.inSwap || r.outSwap));
  for (let grown = true; grown; ) {
    grown = false;
    for (const r of ops) {
      if (suspect.has(r)) continue;
      const linked = ops.some((o) => suspect.has(o) && (o.sequence === r.input || r.sequence === o.input));
      if (!linked) continue;
      suspect.add(r);
      grown = true;
    }
  }
  const reason =
    'a batch-first recurrent layer next to this module boundary lost its transpose: the exporter cancelled it against a transpose on the other side, so the graph holds this sequence time-major; which side ran the transpose, the graph cannot tell';
  const crossings: Crossing[] = [];
  for (const r of suspect) {
    if (!r.inSwap) crossings.push({ value: r.input, node: r.node, nodeReads: true, reason });
    // The input swap outside the layer's call (ONNX Runtime merges equal transposes across modules):
    // the layer's call receives the time-major sequence, the transpose's own output.
    else crossings.push({ value: r.input, node: r.node, nodeReads: true, reason, readersOnly: true });
    // A module that already reports the element (recurrent-outputs.ts) no longer lists the value.
    if (!r.outSwap) crossings.push({ value: r.sequence, node: r.node, nodeReads: false, reason });
  }
  return crossings;
}

function report(modules: readonly ModuleInfo[], crossing: Crossing): void {
  for (const info of modules) {
    info.calls.forEach((call, i) => {
      const holds = call.nodes.includes(crossing.node);
      // The far side of the boundary: calls producing the value (or reading it) without the node.
      const producesIt = call.outputs.includes(crossing.value) && holds !== crossing.nodeReads;
      const readsIt = call.inputs.includes(crossing.value) && holds === crossing.nodeReads;
      if (readsIt && !call.opaqueInputs.includes(crossing.value)) call.opaqueInputs.push(crossing.value);
      if (producesIt && !crossing.readersOnly) dropOutput(info, i, crossing.value, crossing.reason);
    });
  }
}

/** One element of a tuple is reported on its own; a single output makes the module not observable. */
function dropOutput(info: ModuleInfo, callIndex: number, value: string, reason: string): void {
  const call = info.calls[callIndex];
  if (call.outputs.length + call.unobservableOutputs.length <= 1) {
    info.notObservable ??= {
      reason,
      hint: "Capture the graph value by its ONNX name ('values' preset) and transpose it yourself where PyTorch did.",
    };
    return;
  }
  const at = call.outputs.indexOf(value);
  const replaced: ModuleCall = {
    ...call,
    outputs: call.outputs.filter((_, k) => k !== at),
    outputPaths: call.outputPaths.filter((_, k) => k !== at),
    unobservableOutputs: [...call.unobservableOutputs, { path: call.outputPaths[at], reason }],
  };
  info.calls[callIndex] = replaced;
}
