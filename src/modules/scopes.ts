/**
 * Where each ONNX node came from in the PyTorch module tree, read from whatever the exporter left:
 * - the dynamo exporter's node metadata (`pkg.torch.onnx.name_scopes` / `class_hierarchy`);
 * - the TorchScript exporter's scoped node names (`/layer1/layer1.0/conv1/Conv`, `/proj_1/Gemm`);
 * - parameter names of the initializers a node reads (`fc.weight`);
 * - nothing: every node then stands for itself.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import { moduleRenamer, parameterOwner, renameByParameters } from './parameter-renames.js';

export { parameterModulesOf, parameterOwner } from './parameter-renames.js';
import { aliasBuilderNames } from './builder-names.js';
import { joinDecomposedLayers } from './decomposed-layers.js';
import { placeBetween } from './between-nodes.js';
import {
  moduleFromOwnParameters,
  preparesFusedInput,
  scopeFromOutputs,
  stripFusionSuffix,
  valueScopeComponents,
} from './fused-scopes.js';

/** One level of a node's module path: the module's full name, which call of it, its class if known. */
export interface ScopeStep {
  readonly module: string;
  readonly call: number;
  readonly className?: string;
}

export type ScopeSource = 'dynamo-metadata' | 'torchscript-names' | 'parameter-names' | 'node-names';

export interface NodeScopes {
  readonly source: ScopeSource;
  /** Modules whose scoped name was replaced by their parameter path (a container dropped from scopes). */
  readonly renamed?: ReadonlySet<string>;
  /** Scoped name → parameter path, for names read elsewhere than node names (parameter-renames.ts). */
  readonly rename?: (module: string) => string;
  /** Per node: its module path from the outermost module down (root excluded); [] = top level. */
  readonly paths: ScopeStep[][];
}

const NAME_SCOPES = 'pkg.torch.onnx.name_scopes';
const CLASS_HIERARCHY = 'pkg.torch.onnx.class_hierarchy';
const EMPTY_STACK = '_empty_nn_module_stack_from_metadata_hook';

function metadata(node: NodeProto, key: string): string | undefined {
  return node.metadataProps?.find((p) => p.key === key)?.value;
}

/** Parses the Python list repr the dynamo exporter writes: "['', 'model', 'model.layers.0']". */
export function parsePythonStringList(text: string): string[] {
  const items: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) items.push(m[1] ?? m[2] ?? '');
  return items;
}

export function readNodeScopes(index: GraphIndex, parameterModules: ReadonlySet<string>): NodeScopes {
  const { nodes } = index;
  if (nodes.some((n) => metadata(n, NAME_SCOPES) !== undefined)) {
    // Nodes without metadata (the branches of a torch.cond If) fall back to the parameters they read.
    return { source: 'dynamo-metadata', paths: nodes.map((n) => dynamoPath(n) ?? parameterPathOrUnknown(n, index)) };
  }
  if (nodes.some((n) => (n.name ?? '').includes('/'))) {
    const renamed = new Set<string>();
    const renames = new Map<string, string>();
    const paths = aliasBuilderNames(
      index,
      renameByParameters(index, torchscriptPaths(index, parameterModules), parameterModules, renamed, renames),
    );
    return { source: 'torchscript-names', paths, renamed, rename: moduleRenamer(renames, parameterModules) };
  }
  if (parameterModules.size > 0) {
    const joined = joinDecomposedLayers(
      index,
      nodes.map((n) => parameterPath(n, index)),
      parameterOwner,
    );
    // A node reading no parameter between two nodes of one module (a Sequential's ReLU) is its.
    const paths = placeBetween(index, joined, (i) => joined[i].length === 0 && !isSourceless(nodes[i]));
    return { source: 'parameter-names', paths };
  }
  // Weights stored as Constant nodes (PaddleOCR's exports) join the layer that reads them.
  return {
    source: 'node-names',
    paths: nodes.map((n, i) => (n.opType === 'Constant' ? UNKNOWN : [{ module: nodeLayerName(n, i), call: 1 }])),
  };
}

export function nodeLayerName(node: NodeProto, i: number): string {
  return node.name || node.output?.[0] || `${node.opType}_${i}`;
}

function dynamoPath(node: NodeProto): ScopeStep[] | undefined {
  const scopes = metadata(node, NAME_SCOPES);
  if (scopes === undefined) return undefined;
  const names = parsePythonStringList(scopes);
  const classes = parsePythonStringList(metadata(node, CLASS_HIERARCHY) ?? '');
  if (names[0] === EMPTY_STACK) return [];
  // The last entry names the FX node (the op), the first the root module ('').
  const path: ScopeStep[] = [];
  for (let i = 1; i < names.length - 1; i++) {
    const { module, call } = splitCallSuffix(names[i]);
    path.push({ module, call, className: shortClassName(classes[i]) });
  }
  return path;
}

/** The dynamo exporter marks a module's later calls with a suffix such as `@1`. */
function splitCallSuffix(name: string): { module: string; call: number } {
  const m = /^(.*)@(\d+)$/.exec(name);
  return m ? { module: m[1], call: Number(m[2]) + 1 } : { module: name, call: 1 };
}

function shortClassName(qualified: string | undefined): string | undefined {
  if (!qualified) return undefined;
  const last = qualified.split('.').pop();
  return last || undefined;
}

/** A marker for nodes whose scope the export did not record; resolved from their neighbours. */
export const UNKNOWN: ScopeStep[] = Object.freeze([]) as unknown as ScopeStep[];
/** A marker for nodes that take the common scope of the nodes reading their outputs. */
export const CONSUMER_SCOPE: ScopeStep[] = Object.freeze([]) as unknown as ScopeStep[];

function torchscriptPaths(index: GraphIndex, parameterModules: ReadonlySet<string>): ScopeStep[][] {
  const { nodes } = index;
  // Names may carry a prefix from graph surgery before the first '/', e.g. nodes inlined into an
  // If branch: `If_0_else_branch__Inline_0__/stft/Conv`; optimisers' fused nodes: fused-scopes.ts.
  const scopeLists = nodes.map((n) => {
    const name = stripFusionSuffix(n.name ?? '');
    return name.includes('/') ? torchscriptScope(name) : scopeFromOutputs(n);
  });
  const seen = scopesSeen(index, scopeLists, parameterModules);
  return scopeLists.map((list, i) => {
    if (addedQuantizer(nodes[i]) || preparesFusedInput(nodes[i])) return CONSUMER_SCOPE;
    if (list)
      return deepenBySibling(
        index,
        nodes[i],
        registeredElsewhere(resolveComponents(list, parameterModules, seen), list, nodes[i], index, parameterModules),
        seen,
      );
    // A fused node reading parameters no other node reads belongs to their module.
    const owned = isSourceless(nodes[i]) ? undefined : moduleFromOwnParameters(nodes[i], index, parameterOwner);
    if (owned !== undefined) return modulePath(owned).filter((step) => !hiddenContainer(step.module, seen));
    // Unscoped nodes are constants or were added after export (casts, identities): their neighbours tell.
    return UNKNOWN;
  });
}

/**
 * A module registered in two places (`self.shared = lin; self.p = Sequential(lin)`) has one name in
 * named_modules() (`shared`), and torch 1.13 writes that full name as the innermost component under
 * whichever parent calls it (`/p/shared/Gemm`). Where the joined name (`p.shared`) owns no parameter
 * and the node reads the parameters of the module the component names, that module is the one.
 */
function registeredElsewhere(
  path: ScopeStep[],
  components: string[],
  node: NodeProto,
  index: GraphIndex,
  params: ReadonlySet<string>,
): ScopeStep[] {
  const last = path.at(-1);
  // A later call's component carries the exporter's suffix (`/p/shared_1/Gemm`), which
  // resolveComponents has already read as the call number.
  const component = last && last.call > 1 ? components.at(-1)?.replace(/_\d+$/, '') : components.at(-1);
  if (path.length < 2 || !last || !component || params.has(last.module) || !params.has(component)) return path;
  const reads = (node.input ?? []).some((name) => index.initializers.has(name) && parameterOwner(name) === component);
  return reads ? [...path.slice(0, -1), { module: component, call: last.call }] : path;
}

/**
 * Every scope a node or a value names, as a full module path, to tell `relu_1` (second call of
 * `relu`) from a module really called `relu_1`. Value names count: a fusion of ONNX Runtime keeps the
 * output name of an op whose own node is gone (`/layer1.0/relu/Relu_output_0`, runtime-rewrites.ts).
 */
export function scopesSeen(
  index: GraphIndex,
  scopeLists: readonly (string[] | null)[],
  parameterModules: ReadonlySet<string>,
): Set<string> {
  const seen = new Set<string>();
  const add = (list: string[] | null) => {
    if (list?.length) for (const s of resolveComponents(list, parameterModules, null)) seen.add(s.module);
  };
  scopeLists.forEach(add);
  for (const node of index.nodes) for (const out of node.output ?? []) if (out) add(valueScopeComponents(out));
  return seen;
}

/**
 * A scripted model's loop over a ModuleList is unrolled, and torch 1.13 scopes only the first
 * element's children (`/layers.0/0/Gemm`, then `/layers.1/Gemm`): a node scoped to `layers.1` that
 * reads `layers.1.0.weight` is `layers.1.0`'s when a sibling's same child (`layers.0.0`) is a scope.
 */
function deepenBySibling(
  index: GraphIndex,
  node: NodeProto,
  path: ScopeStep[],
  seen: ReadonlySet<string>,
): ScopeStep[] {
  const scope = path.at(-1)?.module;
  const m = scope === undefined ? null : /^(.*)\.(\d+)$/.exec(scope);
  if (!m) return path;
  for (const input of node.input ?? []) {
    const owner = index.initializers.has(input) ? parameterOwner(input) : undefined;
    if (!owner?.startsWith(`${scope}.`) || seen.has(owner)) continue;
    const rest = owner.slice(scope!.length);
    const siblings = [...seen].filter((s) => s.startsWith(`${m[1]}.`) && s.endsWith(rest));
    if (!siblings.some((s) => /^\d+$/.test(s.slice(m[1].length + 1, s.length - rest.length)))) continue;
    const call = path.at(-1)!.call;
    const deeper = rest
      .slice(1)
      .split('.')
      .map((_, k, parts) => ({ module: `${scope}.${parts.slice(0, k + 1).join('.')}`, call }));
    return [...path, ...deeper];
  }
  return path;
}

/** The scope components of a TorchScript node name (`/layer1/layer1.0/conv1/Conv` → layer1, layer1.0, conv1). */
function torchscriptScope(name: string): string[] {
  const slash = name.indexOf('/');
  return slash >= 0 ? name.slice(slash).split('/').slice(1, -1).filter(Boolean) : [];
}

/** A ModuleList or Sequential that TorchScript never names as a scope (`/transformer/h.0/…`, not `/transformer/h/h.0`). */
function hiddenContainer(module: string, seen: ReadonlySet<string>): boolean {
  if (seen.has(module)) return false;
  const prefix = `${module}.`;
  for (const s of seen) if (s.startsWith(prefix) && /^\d+$/.test(s.slice(prefix.length).split('.')[0])) return true;
  return false;
}

function isSourceless(node: NodeProto): boolean {
  return node.opType === 'Constant' || (node.input ?? []).length === 0;
}

/**
 * Ops a quantization tool inserts after export (onnxruntime's quantize_dynamic names them after the
 * value they quantize, e.g. `/flatten/Flatten_output_0_QuantizeLinear`): they prepare the next
 * module's input, so they belong to the module that reads them, never to the one they follow.
 */
const QUANTIZE_OPS = new Set(['DynamicQuantizeLinear', 'QuantizeLinear']);

/**
 * A quantizer a tool added after export. The exporter's own (a torch.ao QuantStub or quantized
 * Conv: `/quant/QuantizeLinear`, `/conv/QuantizeLinear_1`) is named by its op type in its module's
 * scope and computes that module's quantized output, so it stays there: moving it to its reader
 * would hand the reader the float before quantization as its input.
 */
function addedQuantizer(node: NodeProto): boolean {
  if (!QUANTIZE_OPS.has(node.opType ?? '')) return false;
  const last = (node.name ?? '').split('/').at(-1) ?? '';
  return !new RegExp(`^${node.opType}(_\\d+)?$`).test(last);
}

/**
 * Turns name components into full module names. The TorchScript exporter writes a child of a
 * Sequential/ModuleList with its parent's last component in front (`layer1` / `layer1.0`), and other
 * children by attribute name (`conv1`); a module's repeated call gets `_N` appended.
 */
export function resolveComponents(
  components: string[],
  params: ReadonlySet<string>,
  seen: ReadonlySet<string> | null,
): ScopeStep[] {
  const steps: ScopeStep[] = [];
  let full = '';
  let last = '';
  for (const raw of components) {
    let component = raw;
    let call = 1;
    const m = /^(.*)_(\d+)$/.exec(raw);
    if (m && seen) {
      const candidate = joinScope(full, last, raw);
      const base = joinScope(full, last, m[1]);
      if (!params.has(candidate) && (seen.has(base) || params.has(base))) {
        component = m[1];
        call = Number(m[2]) + 1;
      }
    }
    full = joinScope(full, last, component);
    last = component;
    steps.push({ module: full, call });
  }
  return steps;
}

function joinScope(parentFull: string, parentLast: string, component: string): string {
  if (!parentFull) return component;
  if (parentLast && component.startsWith(`${parentLast}.`)) return parentFull + component.slice(parentLast.length);
  return `${parentFull}.${component}`;
}

/** Older exports without scopes: a node reading `fc.weight` belongs to module `fc`. */
function parameterPath(node: NodeProto, index: GraphIndex): ScopeStep[] {
  for (const input of node.input ?? []) {
    if (!index.initializers.has(input)) continue;
    const owner = parameterOwner(input);
    if (owner !== undefined) return modulePath(owner);
  }
  return isSourceless(node) ? UNKNOWN : [];
}

/** `a.b.c` → the steps a, a.b, a.b.c. */
function modulePath(module: string): ScopeStep[] {
  return module.split('.').map((_, i, parts) => ({ module: parts.slice(0, i + 1).join('.'), call: 1 }));
}

/** A node reading no named parameter takes its neighbours' scope. */
function parameterPathOrUnknown(node: NodeProto, index: GraphIndex): ScopeStep[] {
  const path = parameterPath(node, index);
  return path.length ? path : UNKNOWN;
}
