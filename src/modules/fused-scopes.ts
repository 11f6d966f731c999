/**
 * Where a node that an optimiser (ONNX Runtime's transformer fusions, its graph optimizer) made or
 * renamed came from, for graphs whose other nodes keep TorchScript scopes:
 * - ONNX Runtime's fusions append `/<Name>Fusion/` to the name of the node they start from:
 *   `/transformer/h.0/ln_1/Mul/LayerNormFusion/` is the Mul of `transformer.h.0.ln_1`;
 * - a fused node named without a scope (`SkipLayerNorm_AddBias_1`, `GPT2Gelu`) keeps the names of the
 *   values it replaces (`/transformer/h.1/ln_1/Add_1_output_0`): its output 0 says where it is, or its
 *   first named output (a SkipLayerNormalization whose output 0 is new keeps the residual sum's name);
 * - else the parameters only this node reads (`transformer.h.0.attn.c_attn.weight`): an optimiser
 *   shares equal initializers between nodes (all LayerNorms of a random tiny model read
 *   `transformer.h.0.ln_1.weight`), so a parameter read by several nodes says nothing. A fused
 *   attention reading the q/k/v projection's weight is the attention module, the projection's parent.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import { resolveComponents } from './scopes.js';

const FUSION_SUFFIX = /\/[A-Za-z0-9]*Fusion\/?$/;
const SCOPED_VALUE = /^[^/]*(\/.+)\/[^/]+_output_\d+$/;

/** Fused attention ops whose weight input is the q/k/v projection of the attention module. */
export const FUSED_ATTENTION = new Set(['Attention', 'PackedAttention', 'QAttention']);

/** `/transformer/h.0/ln_1/Mul/LayerNormFusion/` → `/transformer/h.0/ln_1/Mul`. */
export function stripFusionSuffix(name: string): string {
  let out = name;
  while (FUSION_SUFFIX.test(out)) out = out.replace(FUSION_SUFFIX, '');
  return out;
}

/** The scope components of a TorchScript value name: `/transformer/h.0/Add_1_output_0` → [transformer, h.0]. */
export function valueScopeComponents(value: string): string[] | null {
  const m = SCOPED_VALUE.exec(value);
  return m ? m[1].split('/').filter(Boolean) : null;
}

/** The module a TorchScript value name places its value in: `/transformer/h.0/Add_1_output_0` → `transformer.h.0`. */
export function valueModule(value: string): string | undefined {
  const components = valueScopeComponents(value);
  return components?.length ? resolveComponents(components, new Set(), null).at(-1)?.module : undefined;
}

/** Scope components from a scopeless node's output names (output 0 first), or null. */
export function scopeFromOutputs(node: NodeProto): string[] | null {
  if (node.opType === 'Constant') return null;
  for (const out of node.output ?? []) {
    const components = out ? valueScopeComponents(out) : null;
    if (components?.length) return components;
  }
  return null;
}

/**
 * The Reshape ONNX Runtime's MatMulAddFusion puts before its 2-D Gemm (`gemm_input_reshape`): it
 * prepares the Linear's input, so it belongs to the module reading it, like an added quantizer.
 */
export function preparesFusedInput(node: NodeProto): boolean {
  return node.opType === 'Reshape' && /^gemm_input_reshape(_token_\d+)?$/.test(node.name ?? '');
}

/** How many nodes read each initializer (computed once per graph). */
const readCounts = new WeakMap<GraphIndex, Map<string, number>>();

function readersOf(index: GraphIndex, name: string): number {
  let counts = readCounts.get(index);
  if (!counts) {
    counts = new Map();
    for (const reads of index.reads) for (const v of new Set(reads)) counts.set(v, (counts.get(v) ?? 0) + 1);
    readCounts.set(index, counts);
  }
  return counts.get(name) ?? 0;
}

/**
 * The module a scopeless node belongs to from the named parameters only it reads: their owners'
 * common path (an EmbedLayerNormalization reading `transformer.wte.weight` and `transformer.wpe.weight`
 * is in `transformer`), or undefined when it reads none.
 */
export function moduleFromOwnParameters(
  node: NodeProto,
  index: GraphIndex,
  owner: (name: string) => string | undefined,
): string | undefined {
  const owners: string[] = [];
  for (const input of node.input ?? []) {
    if (!index.initializers.has(input) || readersOf(index, input) !== 1) continue;
    const o = owner(input);
    if (o !== undefined) owners.push(o);
  }
  if (owners.length === 0) return undefined;
  let parts = owners[0].split('.');
  for (const o of owners.slice(1)) {
    const other = o.split('.');
    let k = 0;
    while (k < parts.length && k < other.length && parts[k] === other[k]) k++;
    parts = parts.slice(0, k);
  }
  if (FUSED_ATTENTION.has(node.opType ?? '') && owners.length > 0 && parts.length === owners[0].split('.').length)
    parts = parts.slice(0, -1);
  return parts.length ? parts.join('.') : undefined;
}

/**
 * Modules whose output an optimiser computed ahead of time (constant folding with static shapes):
 * the initializer keeps the value's TorchScript name, `/transformer/wpe/Gather_output_0` for
 * `transformer.wpe` of position ids 0..n-1. Module name → initializer.
 */
export function foldedModuleOutputs(index: GraphIndex): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of index.initializers) {
    const op = /\/([A-Za-z]+)(_\d+)?_output_\d+$/.exec(name)?.[1];
    if (op === undefined || op === 'Constant') continue;
    const module = valueModule(name);
    if (module !== undefined && !out.has(module)) out.set(module, name);
  }
  return out;
}
