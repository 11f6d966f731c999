/**
 * The PyTorch module tree of an exported model: each module's name, type, calls, and for each call
 * the values that a forward hook would see as `input` and `output`.
 *
 * ```ts
 * const map = buildModuleMap(indexGraph(model.graph));
 * map.get('layer1.0.conv1')?.calls[0].outputs; // ['/layer1/layer1.0/conv1/Conv_output_0']
 * ```
 */
import type { ContextStep, GraphIndex } from '../graph/graph-index.js';
import type { StringStringEntryProto } from '../onnx/types.js';
import { markAttentionTuples } from './attention-outputs.js';
import { orderCallOutputs, passThroughAmbiguity } from './call-outputs.js';
import { markCancelledTransposes } from './cancelled-transposes.js';
import { withAttentionArguments } from './attention-arguments.js';
import { withCellArguments } from './cell-arguments.js';
import { isAliasedBuilderName, markBuilderTuples } from './builder-names.js';
import { markFoldedBatchNorm } from './folded-batchnorm.js';
import { markLostCalls } from './lost-calls.js';
import { markOpenEnds } from './between-nodes.js';
import { markParameterArguments } from './parameter-arguments.js';
import { markMergedCalls } from './merged-calls.js';
import { markRuntimeRewrites } from './runtime-rewrites.js';
import { fusedLeaving } from './fused-outputs.js';
import { withFusedOpaqueInputs, withoutFusedBias } from './fused-bias.js';
import { inferModuleType, ownsFusedAttention } from './module-types.js';
import { withListInputs } from './list-inputs.js';
import { moduleMapFromExport } from './neurotap-export.js';
import {
  CONSUMER_SCOPE,
  parameterModulesOf,
  readNodeScopes,
  UNKNOWN,
  type ScopeSource,
  type ScopeStep,
} from './scopes.js';
import { splitRepeatedCalls, type CallGroup } from './split-calls.js';
import { placeUntraced, untracedModules } from './untraced.js';
import type { ModuleEvidence } from './module-evidence.js';

export interface ModuleCall {
  /** 1-based call number, in execution order. */
  readonly index: number;
  readonly nodes: readonly number[];
  /** Values entering the call, as the hook's `input` tuple. */
  readonly inputs: readonly string[];
  /**
   * Nested position of each input in the pre-hook's tuple where evidence gives it ([0], [1, 0], [1, 1]
   * for an LSTM's `input, (h_0, c_0)`); absent: each input's position in `inputs`.
   */
  readonly inputPaths?: readonly (readonly number[])[];
  /** Elements of the pre-hook's input tuple that the graph does not hold, with the reason. */
  readonly unobservableInputs?: readonly { path: readonly number[]; reason: string }[];
  /** Values leaving the call; more than one means a tuple output, ordered as PyTorch returns it. */
  readonly outputs: readonly string[];
  /** Nested tuple position of each output: [0], [1, 0], [1, 1] for an LSTM's `out, (h, c)`. */
  readonly outputPaths: readonly (readonly number[])[];
  /** Inputs whose value in the graph is not what the module received (an export optimisation). */
  opaqueInputs: string[];
  /** Why an opaque input differs, where a more precise reason than the generic one is known. */
  readonly opaqueReasons?: ReadonlyMap<string, string>;
  /**
   * The output is a container even with one element (a 1-tuple, a 1-entry dict, an
   * nn.MultiheadAttention's `(out, None)`): its keys are `#i`. Set only from evidence (markers,
   * a module class known to return a tuple); otherwise one value is the module's whole output.
   */
  readonly container?: boolean;
  /** Tuple elements of the output that the graph does not hold, with the reason. */
  readonly unobservableOutputs: readonly { path: readonly number[]; reason: string }[];
  /**
   * The If branches / Loop and Scan bodies this call site sits in (outside the module itself):
   * it runs only when the branch is taken, and once per iteration in a loop.
   */
  readonly context: readonly ContextStep[];
}

export interface NotObservable {
  readonly reason: string;
  readonly hint: string;
  /** Only the output is unknown: what the calls received is still keyed (a Conv with a folded BatchNorm). */
  readonly inputsObservable?: boolean;
}

export interface ModuleInfo {
  readonly name: string;
  type: string;
  /** Where `type` comes from: the exporter's class names, or inferred from the ONNX ops. */
  readonly typeSource: 'export' | 'ops';
  ops: string[];
  readonly parent: string | undefined;
  readonly children: string[];
  readonly calls: ModuleCall[];
  /** Set when the module's output does not exist in the graph; never paired with a tensor. */
  notObservable?: NotObservable;
}

export interface ModuleMap {
  /** 'neurotap-export': read from the markers of `neurotap_torch.export` (see neurotap-export.ts). */
  readonly source: ScopeSource | 'neurotap-export';
  /** How many modules each kind of evidence gave (module-evidence.ts words it). */
  readonly evidence: ModuleEvidence;
  readonly modules: readonly ModuleInfo[];
  get(name: string): ModuleInfo | undefined;
}

export function buildModuleMap(index: GraphIndex, metadata: readonly StringStringEntryProto[] = []): ModuleMap {
  const params = parameterModulesOf(index);
  const scopes = readNodeScopes(index, params);
  const paths = resolveUnknownScopes(index, scopes.paths);
  const constant = constantNodes(index);
  let groups = [...groupCalls(index, paths, constant).values()];
  if (scopes.source === 'dynamo-metadata') groups = groups.flatMap((g) => splitRepeatedCalls(index, g, paths));
  if (scopes.source === 'torchscript-names') groups = inCallOrder(groups);
  const modules = new Map<string, ModuleInfo>();
  for (const group of groups) addCall(modules, group, index, paths, constant);
  for (const info of modules.values()) {
    if (info.parent !== undefined) modules.get(info.parent)?.children.push(info.name);
  }
  for (const info of modules.values()) finishModule(info, index, paths);
  markAttentionTuples(index, modules.values(), (n) => paths[n].at(-1)?.module);
  markParameterArguments(index, modules.values());
  markFoldedBatchNorm(index, modules.values());
  const fusedAway = markRuntimeRewrites(index, modules, scopes.rename);
  markCancelledTransposes(index, [...modules.values()]);
  if (scopes.source === 'torchscript-names') markMergedCalls(index, modules, paths);
  if (scopes.source === 'torchscript-names') markLostCalls(modules.values(), paths);
  if (scopes.source === 'parameter-names') markOpenEnds(index, modules.values());
  markBuilderTuples(index, modules.values());
  const untraced = (scopes.source === 'node-names' ? [] : untracedModules(index, modules, scopes.source)).filter(
    (m) => !isAliasedBuilderName(index, m.name) && !fusedAway.some((f) => f.name === m.name),
  );
  untraced.unshift(...fusedAway);
  const list = placeUntraced([...modules.values()], untraced);
  for (const info of untraced) {
    modules.set(info.name, info);
    if (info.parent !== undefined) modules.get(info.parent)!.children.push(info.name);
  }
  const traced = list.length - untraced.length;
  const evidence: ModuleEvidence = {
    fromSource: traced - (scopes.renamed?.size ?? 0),
    byParameterPath: scopes.renamed?.size ?? 0,
    noTrace: untraced.length,
  };
  const map: ModuleMap = { source: scopes.source, evidence, modules: list, get: (name) => modules.get(name) };
  return moduleMapFromExport(index, map, metadata) ?? map;
}

function stepKey(path: readonly ScopeStep[], depth: number): string {
  return path
    .slice(0, depth + 1)
    .map((s) => `${s.module}@${s.call}`)
    .join('/');
}

/**
 * A module's calls in the order their `_N` suffixes give: an optimiser (ONNX Runtime saving its
 * optimised graph) may reorder nodes, so `/proj/lin_1/Gemm` can come before `/proj/lin/Gemm`. Each
 * module keeps the positions its calls take in the list; only which call fills which changes.
 */
function inCallOrder(groups: CallGroup[]): CallGroup[] {
  const byModule = new Map<string, CallGroup[]>();
  for (const g of groups) (byModule.get(g.module) ?? byModule.set(g.module, []).get(g.module)!).push(g);
  for (const list of byModule.values()) list.sort((a, b) => compareCalls(a.scopeCalls ?? [], b.scopeCalls ?? []));
  const next = new Map<string, number>();
  return groups.map((g) => {
    const k = next.get(g.module) ?? 0;
    next.set(g.module, k + 1);
    return byModule.get(g.module)![k];
  });
}

function compareCalls(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * Groups nodes into module calls. Nodes in different subgraphs (the two branches of an If, a Loop
 * body) are separate call sites of a module unless the control-flow node itself belongs to the call.
 */
function groupCalls(
  index: GraphIndex,
  paths: readonly ScopeStep[][],
  constant: readonly boolean[],
): Map<string, CallGroup> {
  const groups = new Map<string, CallGroup>();
  // Modules are listed in execution order: nodes computing constants (often all at the top, e.g.
  // weights shared between modules) must not set it.
  const order = [...paths.keys()].sort((a, b) => Number(constant[a]) - Number(constant[b]) || a - b);
  for (const node of order) {
    const path = paths[node];
    path.forEach((step, depth) => {
      const scopeKey = stepKey(path, depth);
      const external = index.context[node].filter(
        (c) => !(paths[c.node].length > depth && stepKey(paths[c.node], depth) === scopeKey),
      );
      const key = scopeKey + external.map((c) => `|${c.node}/${c.attr}`).join('');
      let group = groups.get(key);
      if (!group) {
        group = {
          module: step.module,
          parent: depth > 0 ? path[depth - 1].module : undefined,
          className: step.className,
          nodes: [],
          context: external,
          depth,
          scopeCalls: path.slice(0, depth + 1).map((s) => s.call),
        };
        groups.set(key, group);
      }
      group.nodes.push(node);
    });
  }
  for (const group of groups.values()) group.nodes.sort((a, b) => a - b);
  return groups;
}

function addCall(
  modules: Map<string, ModuleInfo>,
  group: CallGroup,
  index: GraphIndex,
  paths: readonly ScopeStep[][],
  constant: readonly boolean[],
): void {
  let info = modules.get(group.module);
  if (!info) {
    info = {
      name: group.module,
      type: group.className ?? '',
      typeSource: group.className ? 'export' : 'ops',
      ops: [],
      parent: group.parent,
      children: [],
      calls: [],
    };
    modules.set(group.module, info);
  }
  const inside = new Set(group.nodes);
  const own = (node: number) => paths[node].length - 1 === group.depth;
  const sinks = callSinks(index, inside, own);
  const { leaving, hidden } = fusedLeaving(index, inside, sinks.leaving, group.nodes.every(own), group.module);
  const ordered = hidden
    ? { outputs: [], outputPaths: [], unobservable: [{ path: [], reason: hidden }] }
    : orderCallOutputs(index, group.nodes, leaving, sinks.shared, group.nodes.filter(own));
  const { outputs, outputPaths, unobservable } = withoutFusedBias(index, ordered, new Set(group.nodes.filter(own)));
  const container = ordered.container === true;
  info.calls.push({
    index: info.calls.length + 1,
    nodes: group.nodes,
    inputs: callInputs(index, group.nodes, inside, constant),
    outputs,
    outputPaths,
    opaqueInputs: [],
    context: group.context,
    unobservableOutputs: unobservable,
    ...(container ? { container } : {}),
  });
}

/**
 * Values that leave a call: produced inside and read outside, returned by the graph, or left unread.
 * A value also read inside (`h = conv(x); return pool(h), h`) is listed in `shared`: it is a tuple
 * element or an intermediate an export optimisation let escape, and call-outputs.ts weighs the evidence.
 * An unread value (an LSTM's unused `h_n`) counts only for the innermost module producing it.
 */
function callSinks(
  index: GraphIndex,
  inside: ReadonlySet<number>,
  ownNode: (node: number) => boolean,
): { leaving: string[]; shared: Set<string> } {
  const graphOutputs = new Set(index.outputs);
  const leaving: string[] = [];
  const shared = new Set<string>();
  for (const node of inside) {
    if (index.nodes[node].opType === 'Constant') continue;
    for (const value of index.nodes[node].output ?? []) {
      if (!value) continue;
      const readers = index.consumers.get(value) ?? [];
      const outside = readers.some((r) => !inside.has(r)) || graphOutputs.has(value);
      if (readers.some((r) => inside.has(r))) {
        if (!outside) continue;
        shared.add(value);
      } else if (readers.length === 0 && !graphOutputs.has(value) && !ownNode(node)) continue;
      leaving.push(value);
    }
  }
  return { leaving, shared };
}

function callInputs(
  index: GraphIndex,
  nodes: readonly number[],
  inside: ReadonlySet<number>,
  constant: readonly boolean[],
): string[] {
  const inputs: string[] = [];
  // A Loop or Scan body's own inputs (the iteration number, carried values) come from its node: a
  // call holding that node made them (an EmbeddingBag's Loop), they did not enter it.
  const seen = new Set<string>(bodyInputs(index, inside));
  for (const node of nodes) {
    for (const value of index.reads[node]) {
      if (seen.has(value) || index.initializers.has(value)) continue;
      seen.add(value);
      const producer = index.producer.get(value);
      if (producer !== undefined && (inside.has(producer) || constant[producer])) continue;
      inputs.push(value);
    }
  }
  return inputs;
}

function bodyInputs(index: GraphIndex, inside: ReadonlySet<number>): string[] {
  return [...inside].flatMap((n) =>
    (index.nodes[n].attribute ?? []).flatMap((a) => (a.g?.input ?? []).map((v) => v.name ?? '')),
  );
}

/** Nodes whose outputs depend on no graph input: Constants, and ops over initializers and constants only. */
function constantNodes(index: GraphIndex): boolean[] {
  const constant: boolean[] = [];
  index.reads.forEach((reads, i) => {
    constant[i] = reads.every((v) => {
      if (index.initializers.has(v)) return true;
      const p = index.producer.get(v);
      return p !== undefined && p < i && constant[p];
    });
  });
  return constant;
}

function finishModule(info: ModuleInfo, index: GraphIndex, paths: readonly ScopeStep[][]): void {
  const ops = new Set<string>();
  for (const call of info.calls) for (const n of call.nodes) ops.add(index.nodes[n].opType ?? '');
  info.ops = [...ops];
  const ownNode = (n: number) => paths[n].at(-1)?.module === info.name;
  if (!info.type) info.type = ownsFusedAttention(info, index, ownNode) ? 'Attention' : inferModuleType(info, index);
  info.calls.forEach((call, i) => {
    call.opaqueInputs = opaqueInputs(index, paths, call);
    const fused = withFusedOpaqueInputs(index, call);
    info.calls[i] = withAttentionArguments(index, info, withListInputs(index, withCellArguments(index, info, fused)));
  });
  const own = (n: number) => paths[n].at(-1)?.module === info.name;
  info.calls.forEach((call, i) => {
    const reason = passThroughAmbiguity(index, info, call, own);
    if (reason) info.calls[i] = { ...call, outputs: [], outputPaths: [], unobservableOutputs: [{ path: [], reason }] };
  });
}

/** Inputs produced inside another module's call without being one of that call's outputs. */
function opaqueInputs(index: GraphIndex, paths: readonly ScopeStep[][], call: ModuleCall): string[] {
  const opaque: string[] = [];
  const ownPath = paths[call.nodes[0]];
  for (const value of call.inputs) {
    const producer = index.producer.get(value);
    if (producer === undefined) continue;
    const producerPath = paths[producer];
    const depth = producerPath.length - 1;
    // A module's own intermediate handed to its child is what the child receives: clean.
    if (depth < 0 || sameCall(ownPath, producerPath, depth)) continue;
    const readers = index.consumers.get(value) ?? [];
    if (readers.some((r) => sameCall(paths[r], producerPath, depth))) opaque.push(value);
  }
  return opaque;
}

function sameCall(a: readonly ScopeStep[], b: readonly ScopeStep[], depth: number): boolean {
  return a.length > depth && b.length > depth && stepKey(a, depth) === stepKey(b, depth);
}

/** Nodes the export left without a scope take the common scope of their neighbours. */
function resolveUnknownScopes(index: GraphIndex, raw: readonly ScopeStep[][]): ScopeStep[][] {
  const paths = [...raw];
  // Consumers first (reverse order), so constants feeding constants resolve too.
  const unresolved = (path: ScopeStep[]) => path === UNKNOWN || path === CONSUMER_SCOPE;
  for (let i = paths.length - 1; i >= 0; i--) {
    if (!unresolved(paths[i])) continue;
    const node = index.nodes[i];
    const neighbours: ScopeStep[][] = [];
    for (const out of node.output ?? [])
      for (const r of index.consumers.get(out) ?? []) if (!unresolved(paths[r])) neighbours.push(paths[r]);
    if (paths[i] === UNKNOWN) {
      for (const value of node.input ?? []) {
        const p = index.producer.get(value);
        if (p !== undefined && !unresolved(paths[p])) neighbours.push(paths[p]);
      }
    }
    paths[i] = commonPrefix(neighbours);
  }
  return paths;
}

function commonPrefix(paths: readonly ScopeStep[][]): ScopeStep[] {
  if (paths.length === 0) return [];
  let n = Math.min(...paths.map((p) => p.length));
  for (const p of paths) {
    let k = 0;
    while (k < n && p[k].module === paths[0][k].module && p[k].call === paths[0][k].call) k++;
    n = k;
  }
  return paths[0].slice(0, n);
}
