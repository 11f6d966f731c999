/**
 * Where each ONNX node came from in the PyTorch module tree, read from whatever the exporter left:
 * - the dynamo exporter's node metadata (`pkg.torch.onnx.name_scopes` / `class_hierarchy`);
 * - the TorchScript exporter's scoped node names (`/layer1/layer1.0/conv1/Conv`, `/proj_1/Gemm`);
 * - parameter names of the initializers a node reads (`fc.weight`);
 * - nothing: every node then stands for itself.
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';

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
    const paths = renameByParameters(index, torchscriptPaths(nodes, parameterModules), parameterModules, renamed);
    return { source: 'torchscript-names', paths, renamed };
  }
  if (parameterModules.size > 0) {
    return { source: 'parameter-names', paths: nodes.map((n) => parameterPath(n, index)) };
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

function torchscriptPaths(nodes: readonly NodeProto[], parameterModules: ReadonlySet<string>): ScopeStep[][] {
  // Names may carry a prefix from graph surgery before the first '/', e.g. nodes inlined into an
  // If branch: `If_0_else_branch__Inline_0__/stft/Conv`.
  const scopeLists = nodes.map((n) => {
    const name = n.name ?? '';
    const slash = name.indexOf('/');
    return slash >= 0 ? name.slice(slash).split('/').slice(1, -1).filter(Boolean) : null;
  });
  // Every scope a node names, as a full module path, to tell `relu_1` (second call of `relu`)
  // from a module really called `relu_1`.
  const seen = new Set<string>();
  for (const list of scopeLists)
    if (list) resolveComponents(list, parameterModules, null).forEach((s) => seen.add(s.module));
  return scopeLists.map((list, i) => {
    if (QUANTIZE_OPS.has(nodes[i].opType ?? '')) return CONSUMER_SCOPE;
    // Unscoped nodes are constants or were added after export (casts, identities): their neighbours tell.
    return list ? resolveComponents(list, parameterModules, seen) : UNKNOWN;
  });
}

/**
 * Containers whose forward never runs (ModuleDict, a ModuleList indexed in the parent) leave no scope:
 * `/blocks.0/q/Gemm` reads `blocks.0.proj.q.weight`. Where a scoped module owns no parameter but the
 * nodes in it read the parameters of one module whose path contains the scoped one's components in
 * order and ends the same (`blocks.0.q` in `blocks.0.proj.q`), the parameter path is the module's name.
 * Tied weights (`lm_head` reading `embed.weight`) end differently and keep their scope.
 */
function renameByParameters(
  index: GraphIndex,
  paths: ScopeStep[][],
  parameterModules: ReadonlySet<string>,
  renamed: Set<string>,
): ScopeStep[][] {
  const owners = new Map<string, Set<string>>();
  paths.forEach((path, i) => {
    const module = path.at(-1)?.module;
    if (module === undefined || parameterModules.has(module)) return;
    for (const input of index.nodes[i].input ?? []) {
      const owner = index.initializers.has(input) ? parameterOwner(input) : undefined;
      if (owner !== undefined) (owners.get(module) ?? owners.set(module, new Set()).get(module)!).add(owner);
    }
  });
  const renames = new Map<string, string>();
  for (const [module, found] of owners) {
    const [owner] = found;
    if (found.size === 1 && containsInOrder(owner.split('.'), module.split('.'))) renames.set(module, owner);
  }
  if (renames.size === 0) return paths;
  for (const to of renames.values()) renamed.add(to);
  const rename = (module: string) => {
    if (parameterModules.has(module)) return module;
    for (const [from, to] of renames) {
      if (module === from) return to;
      // A descendant (`enc.0.act` of `enc.0`) or an ancestor (`enc` of `enc.0` → `blocks.enc`) follows.
      if (module.startsWith(`${from}.`)) return to + module.slice(from.length);
      const rest = from.slice(module.length);
      if (from.startsWith(`${module}.`) && to.endsWith(rest)) return to.slice(0, to.length - rest.length);
    }
    return module;
  };
  return paths.map((path) =>
    path === UNKNOWN || path === CONSUMER_SCOPE ? path : path.map((step) => ({ ...step, module: rename(step.module) })),
  );
}

/** `whole` holds every part of `parts` in order, with the same last part (`a.b.c` holds `a.c`). */
function containsInOrder(whole: readonly string[], parts: readonly string[]): boolean {
  if (whole.length <= parts.length || whole.at(-1) !== parts.at(-1)) return false;
  let k = 0;
  for (const w of whole) if (k < parts.length && w === parts[k]) k++;
  return k === parts.length;
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
 * Turns name components into full module names. The TorchScript exporter writes a child of a
 * Sequential/ModuleList with its parent's last component in front (`layer1` / `layer1.0`), and other
 * children by attribute name (`conv1`); a module's repeated call gets `_N` appended.
 */
function resolveComponents(
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
    if (owner !== undefined)
      return owner.split('.').map((_, i, parts) => ({ module: parts.slice(0, i + 1).join('.'), call: 1 }));
  }
  return isSourceless(node) ? UNKNOWN : [];
}

/** A node reading no named parameter takes its neighbours' scope. */
function parameterPathOrUnknown(node: NodeProto, index: GraphIndex): ScopeStep[] {
  const path = parameterPath(node, index);
  return path.length ? path : UNKNOWN;
}

/** `layer1.0.conv1.weight` → `layer1.0.conv1`; anonymous names (`onnx::Conv_193`) → undefined. */
export function parameterOwner(name: string): string | undefined {
  if (name.includes('::') || !name.includes('.')) return undefined;
  return name.slice(0, name.lastIndexOf('.'));
}

/** Module names that own a named parameter, with all their ancestors. */
export function parameterModulesOf(index: GraphIndex): Set<string> {
  const modules = new Set<string>();
  for (const name of index.initializers) {
    const owner = parameterOwner(name);
    if (owner === undefined) continue;
    const parts = owner.split('.');
    for (let i = 1; i <= parts.length; i++) modules.add(parts.slice(0, i).join('.'));
  }
  return modules;
}
