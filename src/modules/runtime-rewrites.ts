/**
 * What ONNX Runtime's own graph optimisation leaves in a model it saved (`optimizedModelFilePath`,
 * any level, or a tool that saves its optimised graph), where the graph still carries TorchScript
 * names:
 * - a fusion keeps the first node's name and the last node's output name: a Conv with the next
 *   BatchNorm folded in (`ConvBnFusion`), a Conv or Gemm with its activation and residual Add
 *   (`FusedConv`, `FusedGemm`) is named `/layer1/layer1.0/conv2/Conv` and returns
 *   `/layer1/layer1.0/relu_1/Relu_output_0`. The value is what the last fused op returned, so the
 *   module that op belongs to (and every module around both) returns it in PyTorch; a module that
 *   held only the first op (the Conv) returned a value that no longer exists, and the fused-in op's
 *   own module left no node;
 * - the NCHWc layout (level 'all' on x86): values between `ReorderInput` and `ReorderOutput` are held
 *   with channels padded to blocks of 8 or 16, not in the module's layout.
 * - local functions inlined by ONNX Runtime (`_inlfunc_FnBlock_token_0_Gemm_4`): the calls' extent
 *   and number are lost, so every module holding such a node is reported.
 * - QDQ groups fused into integer kernels (`QLinearConv`): the DequantizeLinear before the kernel is
 *   gone, so a module returning the kernel's quantized input may have returned it dequantized.
 * The weights a fusion rewrote are renamed after the originals (`ConvBnFusion_W_conv.weight`,
 * `ConvBnFusion_BN_B_bn.bias`): parameterOwner (parameter-renames.ts) strips that prefix so the parameter still names
 * its module.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import { stripFusionSuffix, valueScopeComponents } from './fused-scopes.js';
import type { ModuleInfo } from './module-map.js';
import { parameterModulesOf, resolveComponents, scopesSeen } from './scopes.js';
import { untraced } from './untraced.js';

const NCHWC = 'com.microsoft.nchwc';
/** ONNX Runtime's function inliner names each inlined node `_inlfunc_<Function>[_token_N]_<node>`. */
const INLINED = /(^|^fused )_inlfunc_/;
const TORCHSCRIPT_VALUE = /^(\/.*)_output_\d+$/;
const HINT =
  "Load the model ONNX Runtime started from (the exported file, before optimisation): neurotap's capture session is optimised by ONNX Runtime itself, and a capture keeps every value it returns.";

/** A value computed by a fused node, with the original node whose output name it kept. */
interface FusedValue {
  readonly node: NodeProto;
  /** The original node (TorchScript name) whose output the fused node returns. */
  readonly last: string;
  /** The module and call that original node belonged to. */
  readonly module: string | undefined;
  readonly call: number;
}

/** The original node a value's TorchScript name says produced it, where that is not the node that does. */
function fusedValues(index: GraphIndex, rename: (module: string) => string): Map<string, FusedValue> {
  const found = new Map<string, FusedValue>();
  let seen: Set<string> | undefined;
  const params = parameterModulesOf(index);
  for (const node of index.nodes) {
    // FusedGemm is named `fused /fc1/Gemm`; scopeless fused nodes are placed by fused-scopes.ts.
    const full = stripFusionSuffix(node.name ?? '');
    const name = full.slice(Math.max(0, full.indexOf('/')));
    if (!name.startsWith('/')) continue;
    for (const value of node.output ?? []) {
      const last = TORCHSCRIPT_VALUE.exec(value)?.[1];
      if (last === undefined || last === name || last === node.name) continue;
      const components = valueScopeComponents(value);
      seen ??= scopesSeen(index, [], params);
      const step = components?.length ? resolveComponents(components, params, seen).at(-1) : undefined;
      // Named like node scopes: a container dropped from scopes follows the parameter path.
      found.set(value, { node, last, module: step && rename(step.module), call: step?.call ?? 1 });
    }
  }
  return found;
}

/**
 * Values not in the module's layout: every output of an NCHWc node except ReorderOutput's (channels
 * in blocks), and the data input and output of a kernel ONNX Runtime switched to channels-last
 * (`QLinearConv` with `channels_last`, between the Transposes it inserted).
 */
function blockedValues(index: GraphIndex): Map<string, NodeProto> {
  const found = new Map<string, NodeProto>();
  for (const node of index.nodes) {
    if (node.domain === NCHWC && node.opType !== 'ReorderOutput')
      for (const value of node.output ?? []) if (value) found.set(value, node);
    if (node.attribute?.some((a) => a.name === 'channels_last' && Number(a.i ?? 0) === 1))
      for (const value of [node.input?.[0], node.output?.[0]]) if (value) found.set(value, node);
  }
  return found;
}

/** A module one of whose own nodes (not a child's) ONNX Runtime rewrote into an NCHWc kernel. */
function ownNchwcNode(index: GraphIndex, info: ModuleInfo, modules: ReadonlyMap<string, ModuleInfo>) {
  const children = new Set(info.children.flatMap((c) => modules.get(c)?.calls.flatMap((k) => k.nodes) ?? []));
  for (const call of info.calls)
    for (const n of call.nodes)
      if (!children.has(n) && index.nodes[n].domain === NCHWC && index.nodes[n].opType !== 'ReorderOutput')
        return index.nodes[n];
  return undefined;
}

/** ONNX Runtime's integer kernels and which of their inputs are quantized data (the others are scales, zero points, weights). */
const QUANTIZED_KERNELS: Record<string, number[]> = {
  QLinearConv: [0],
  QLinearMatMul: [0, 3],
  QGemm: [0, 3],
  QLinearAdd: [0, 3],
  QLinearMul: [0, 3],
  QLinearSigmoid: [0],
  QLinearLeakyRelu: [0],
  QLinearSoftmax: [0],
  QLinearAveragePool: [0],
  QLinearGlobalAveragePool: [0],
};

/**
 * Quantized values an integer kernel reads where the graph it was fused from had a DequantizeLinear:
 * whether that DequantizeLinear ended the producing module (a fake quantizer returns floats) or began
 * the kernel's (a torch.ao quantized module receives the integers) is no longer in the graph.
 */
function kernelInputs(index: GraphIndex): Map<string, number> {
  const found = new Map<string, number>();
  index.nodes.forEach((node, n) => {
    for (const i of QUANTIZED_KERNELS[node.opType ?? ''] ?? []) {
      let value = node.input?.[i];
      while (value && index.producer.has(value)) {
        found.set(value, n);
        // Through the layout Transposes ONNX Runtime puts around a channels-last kernel (no scope).
        const p = index.nodes[index.producer.get(value)!];
        value = p.opType === 'Transpose' && /^Transpose(_token_\d+)?$/.test(p.name ?? '') ? p.input?.[0] : undefined;
      }
    }
  });
  return found;
}

/** `module` is `ancestor` or inside it. */
const within = (module: string | undefined, ancestor: string) =>
  module !== undefined && (module === ancestor || module.startsWith(`${ancestor}.`));

/**
 * Marks the modules whose output ONNX Runtime's rewrites replaced, and the values they receive in
 * the NCHWc layout; returns the modules whose only op was fused into another node's (not in the
 * map, since they left no node), each reported with the node that computes its output now.
 */
export function markRuntimeRewrites(
  index: GraphIndex,
  modules: ReadonlyMap<string, ModuleInfo>,
  rename: (module: string) => string = (m) => m,
): ModuleInfo[] {
  const fused = fusedValues(index, rename);
  const blocked = blockedValues(index);
  const quantized = kernelInputs(index);
  if (fused.size + blocked.size + quantized.size === 0 && !index.nodes.some((n) => INLINED.test(n.name ?? '')))
    return [];
  for (const info of modules.values()) {
    for (const call of info.calls)
      for (const v of call.inputs) {
        const opaque = blocked.has(v) || (quantized.has(v) && call.nodes.includes(quantized.get(v)!));
        if (opaque && !call.opaqueInputs.includes(v)) call.opaqueInputs.push(v);
      }
    if (info.notObservable) continue;
    const read = info.calls.find((c) =>
      c.outputs.some((v) => quantized.has(v) && !c.nodes.includes(quantized.get(v)!)),
    );
    if (read !== undefined) {
      const kernel = index.nodes[quantized.get(read.outputs.find((v) => quantized.has(v))!)!];
      info.notObservable = {
        reason: `ambiguous: ONNX Runtime fused the DequantizeLinear after its quantized output into the ${kernel.opType} '${kernel.name}', so whether this module returned the integers (a torch.ao quantized module) or their dequantized floats (a fake quantizer) is no longer in the graph`,
        hint: HINT,
      };
      continue;
    }
    const outputs = info.calls.flatMap((c) => c.outputs);
    const layout = outputs.find((v) => blocked.has(v));
    if (layout !== undefined) {
      const node = blocked.get(layout)!;
      info.notObservable = {
        reason: `ONNX Runtime's ${node.opType} '${node.name ?? layout}' holds its output in another layout (NCHWc channel blocks or channels-last), not the module's tensor`,
        hint: HINT,
      };
      continue;
    }
    const inlined = info.calls.flatMap((c) => c.nodes).find((n) => INLINED.test(index.nodes[n].name ?? ''));
    if (inlined !== undefined) {
      info.notObservable = {
        reason: `ONNX Runtime inlined a local function call here (its nodes are named '${index.nodes[inlined].name}'): where each call of a module starts and ends, and how many calls it made, are no longer in the graph`,
        hint: HINT,
      };
      continue;
    }
    const nchwc = ownNchwcNode(index, info, modules);
    if (nchwc !== undefined) {
      info.notObservable = {
        reason: `ONNX Runtime rewrote its op into the NCHWc ${nchwc.opType} '${nchwc.name}' (named after the value it computes, its weights renamed): the ops it fused and what this module received are not known`,
        hint: HINT,
      };
      continue;
    }
    const value = outputs.find((v) => fused.has(v) && !within(fused.get(v)!.module, info.name));
    if (value === undefined) continue;
    const f = fused.get(value)!;
    info.notObservable = {
      reason: `ONNX Runtime fused '${f.last}' into its ${f.node.opType} '${f.node.name}': the graph holds the fused result '${value}', not this module's output`,
      hint: HINT,
    };
  }
  return fusedAwayModules(index, fused, modules);
}

/** `module@call` of every scope a node name holds (the calls that kept a node of their own). */
function namedCalls(index: GraphIndex): Set<string> {
  const params = parameterModulesOf(index);
  const seen = scopesSeen(index, [], params);
  const calls = new Set<string>();
  for (const node of index.nodes) {
    const name = stripFusionSuffix(node.name ?? '');
    const parts = name.slice(Math.max(0, name.indexOf('/'))).split('/');
    if (!name.includes('/')) continue;
    for (const step of resolveComponents(parts.slice(1, -1).filter(Boolean), params, seen))
      calls.add(`${step.module}@${step.call}`);
  }
  return calls;
}

/** The modules of fused-in ops that kept no node of their own (a BatchNorm, a ReLU). */
function fusedAwayModules(
  index: GraphIndex,
  fused: ReadonlyMap<string, FusedValue>,
  modules: ReadonlyMap<string, ModuleInfo>,
) {
  const away = new Map<string, ModuleInfo>();
  let named: Set<string> | undefined;
  for (const [value, f] of fused) {
    const kept = f.module === undefined ? undefined : modules.get(f.module);
    named ??= namedCalls(index);
    if (kept && !kept.notObservable && !named.has(`${f.module}@${f.call}`)) {
      // Its other calls kept their nodes, so the map numbers them from 1: not PyTorch's numbers.
      kept.notObservable = {
        reason: `ONNX Runtime fused its call ${f.call} into the ${f.node.opType} '${f.node.name}' before it (which returns '${value}'), so its remaining calls cannot be numbered as PyTorch numbers them`,
        hint: HINT,
      };
    }
    if (f.module === undefined || kept || away.has(f.module)) continue;
    const reason = `ONNX Runtime fused it into the ${f.node.opType} '${f.node.name}' before it, which returns '${value}': what this module received is not in the graph, and its calls cannot be told apart`;
    away.set(f.module, untraced(f.module, reason, modules, HINT));
  }
  return [...away.values()];
}
