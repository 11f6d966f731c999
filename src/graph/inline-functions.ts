/**
 * Modules exported as ONNX local functions (`torch.onnx.export(..., export_modules_as_functions=…)`):
 * each call node of a function is a module call, its domain and op type name the class
 * (`__main__.Block`, `torch.nn.modules.linear.Linear`). ONNX Runtime cannot return values inside a
 * function, so the functions are inlined for mapping and capture: every call's body nodes replace
 * the call node, named with the module path they belong to, as the TorchScript exporter names
 * nodes (`/b1/b1.fc/Gemm_0`), so the module map reads them like any scoped export.
 *
 * Which module a call is, from the evidence the export keeps:
 * - the parameters it reads (`b1.fc.weight` is read inside module `b1.fc` or an ancestor);
 * - the modules of the calls nested in it (a call is a proper ancestor of those);
 * - the call node's scope name (`/b1/act/Block`: the scope of its last node, the call's module or
 *   a descendant).
 * The call's module is the deepest name all of them agree on. A call with no such evidence is
 * not named: its nodes join the enclosing module.
 */
import type { AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto } from '../onnx/types.js';
import { parameterOwner } from '../modules/scopes.js';

export interface InlinedFunctions {
  readonly model: ModelProto;
  /** Class of each module that was a function call (qualified: `torch.nn.modules.linear.Linear`). */
  readonly classes: ReadonlyMap<string, string>;
  /**
   * Modules that could be a call's module as well as the ancestor it was given to (same parameters),
   * with the call's class: which of the call's nodes are theirs cannot be told.
   */
  readonly ambiguous: ReadonlyMap<string, string>;
}

const key = (domain: string | undefined, name: string | undefined) => `${domain ?? ''}\u0000${name ?? ''}`;

/** The model with its local functions inlined (in subgraphs too), or undefined when it calls none. */
export function inlineLocalFunctions(model: ModelProto): InlinedFunctions | undefined {
  const functions = new Map((model.functions ?? []).map((f) => [key(f.domain, f.name), f]));
  const graph = model.graph;
  if (!graph || functions.size === 0) return undefined;
  const state: InlineState = {
    functions,
    parameters: new Set((graph.initializer ?? []).map((t) => t.name ?? '')),
    modules: parameterModules(graph.initializer ?? []),
    classes: new Map(),
    ambiguous: new Map(),
    calls: new Map(),
    counter: 0,
  };
  const inlined = inlineGraph(state, graph);
  if (inlined === graph) return undefined;
  const used = new Set<string>();
  const collect = (g: GraphProto) => {
    for (const n of g.node ?? []) {
      used.add(key(n.domain, n.opType));
      for (const a of n.attribute ?? []) if (a.g) collect(a.g);
    }
  };
  collect(inlined);
  return {
    model: {
      ...model,
      graph: inlined,
      functions: (model.functions ?? []).filter((f) => used.has(key(f.domain, f.name))),
    },
    classes: state.classes,
    ambiguous: state.ambiguous,
  };
}

/** The graph with every call of a local function replaced by its body (the same object when none). */
function inlineGraph(state: InlineState, graph: GraphProto): GraphProto {
  let changed = false;
  const nodes: NodeProto[] = [];
  for (const node of graph.node ?? []) {
    const fn = state.functions.get(key(node.domain, node.opType));
    const replaced = fn ? emit(state, inlineCall(state, node, fn, scopeOf(node.name), true), '', new Map()) : undefined;
    const kept = replaced ? undefined : inlineSubgraphs(state, node);
    if (replaced || kept !== node) changed = true;
    nodes.push(...(replaced ?? [kept!]));
  }
  return changed ? { ...graph, node: nodes } : graph;
}

/** An If/Loop/Scan whose subgraphs call functions (dynamo's torch.cond branches do), with them inlined. */
function inlineSubgraphs(state: InlineState, node: NodeProto): NodeProto {
  let changed = false;
  const attribute = (node.attribute ?? []).map((a) => {
    const g = a.g && inlineGraph(state, a.g);
    if (!g || g === a.g) return a;
    changed = true;
    return { ...a, g };
  });
  return changed ? { ...node, attribute } : node;
}

/**
 * Functions the dynamo exporter makes of a torch.cond branch or a scan body: graphs, not modules,
 * so their calls are transparent.
 */
const isSubgraphFunction = (call: NodeProto) => call.domain === 'pkg.torch.__subgraph__';

interface InlineState {
  readonly functions: ReadonlyMap<string, FunctionProto>;
  readonly parameters: ReadonlySet<string>;
  /** Modules owning parameters, with their ancestors. */
  readonly modules: ReadonlySet<string>;
  readonly classes: Map<string, string>;
  readonly ambiguous: Map<string, string>;
  /** Calls made so far per module, for `_N` call suffixes. */
  readonly calls: Map<string, number>;
  counter: number;
}

/** Module path named by a TorchScript node name (`/b1/act/Block` → `b1.act`), undefined for none. */
function scopeOf(name: string | undefined): string | undefined {
  if (!name?.startsWith('/')) return undefined;
  // Components as the exporter writes them: a Sequential's child repeats its parent (`seq` / `seq.2`).
  let full = '';
  let last = '';
  for (const part of name.split('/').slice(1, -1).filter(Boolean)) {
    full = !full ? part : last && part.startsWith(`${last}.`) ? full + part.slice(last.length) : `${full}.${part}`;
    last = part;
  }
  return full || undefined;
}

/** Longest common dotted prefix ('' when the names share none). */
function commonModule(names: readonly string[]): string {
  if (names.length === 0) return '';
  let parts = names[0].split('.');
  for (const n of names.slice(1)) {
    const other = n.split('.');
    let k = 0;
    while (k < parts.length && k < other.length && parts[k] === other[k]) k++;
    parts = parts.slice(0, k);
  }
  return parts.join('.');
}

const parentOf = (name: string) => (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '');

interface Inlined {
  /** The module this call is ('' for the root); undefined when the evidence names none. */
  readonly module: string | undefined;
  readonly body: readonly { node: NodeProto; owner?: string; nested?: Inlined }[];
}

/** Renames a call's body into the caller's value names, recursively; naming comes later (emit). */
function inlineCall(
  state: InlineState,
  call: NodeProto,
  fn: FunctionProto,
  scope: string | undefined,
  topLevel = false,
): Inlined {
  const tag = `neurotap::fn${state.counter++}`;
  const rename = new Map<string, string>();
  (fn.input ?? []).forEach((formal, i) => rename.set(formal, call.input?.[i] ?? ''));
  (fn.output ?? []).forEach((formal, i) => rename.set(formal, call.output?.[i] ?? ''));
  const valueName = (v: string) => (v === '' ? '' : (rename.get(v) ?? `${tag}/${v}`));
  const attrs = new Map((call.attribute ?? []).map((a) => [a.name ?? '', a]));
  const body: { node: NodeProto; owner?: string; nested?: Inlined }[] = [];
  for (const original of fn.node ?? []) {
    const node: NodeProto = {
      ...original,
      input: (original.input ?? []).map(valueName),
      output: (original.output ?? []).map(valueName),
      attribute: resolveAttributes(original.attribute ?? [], attrs),
    };
    const nestedFn = state.functions.get(key(node.domain, node.opType));
    if (nestedFn) body.push({ node, nested: inlineCall(state, node, nestedFn, scopeOf(node.name)) });
    else body.push({ node, owner: ownerOfInputs(state, node) });
  }
  if (isSubgraphFunction(call)) return { module: undefined, body };
  const owners = body.flatMap((b) => (b.owner !== undefined ? [b.owner] : []));
  const nested = body.flatMap((b) => (b.nested?.module ? [b.nested.module] : []));
  const scoped = scope === undefined ? undefined : withoutCallSuffixes(state, scope);
  const evidence = [...owners, ...nested, ...(scoped ? [scoped] : [])];
  if (evidence.length === 0) return { module: undefined, body };
  let module = commonModule(evidence);
  // A call is a proper ancestor of the calls nested in it.
  if (module && nested.includes(module)) module = parentOf(module);
  // Without nested calls or parameters of its own, a module and its only child holding the same
  // parameters (a block wrapping a Sequential) are indistinguishable: the call goes to the outer
  // one, the inner ones are ambiguous.
  // A top-level call may also be the root's (the whole model as one function), and one whose nested
  // calls merely share a prefix (a root calling `m[0]`, `m[2]` directly) may be that prefix's module
  // or any ancestor holding the same parameters: the outermost gets it, the others are ambiguous.
  const structural = nested.length === 0 && !owners.includes(module);
  const unpinned = structural || (topLevel && owners.length === 0);
  while (
    unpinned &&
    (module.includes('.') || (topLevel && module !== '')) &&
    parametersUnder(state, parentOf(module)) === parametersUnder(state, module)
  ) {
    state.ambiguous.set(module, qualifiedClass(call));
    module = parentOf(module);
  }
  if (module) state.classes.set(module, qualifiedClass(call));
  return { module, body };
}

function parametersUnder(state: InlineState, module: string): number {
  let n = 0;
  for (const p of state.parameters) if (module ? p.startsWith(`${module}.`) : parameterOwner(p) !== undefined) n++;
  return n;
}

/** `b1_1` is the second call of `b1` (as the TorchScript exporter names it) unless `b1_1` owns parameters. */
function withoutCallSuffixes(state: InlineState, scope: string): string {
  let path = '';
  for (const component of scope.split('.')) {
    const full = path ? `${path}.${component}` : component;
    const m = /^(.*)_(\d+)$/.exec(component);
    const base = m && (path ? `${path}.${m[1]}` : m[1]);
    path = base && !state.modules.has(full) && state.modules.has(base) ? base : full;
  }
  return path;
}

const within = (name: string, module: string) => !module || name === module || name.startsWith(`${module}.`);

/**
 * The inlined nodes in execution order, named after the module they belong to: a node reading a
 * descendant's parameters belongs to it, any other to the call (or, for a call the evidence does
 * not name, to the enclosing one). `chain` holds the call number of each enclosing module call.
 */
function emit(
  state: InlineState,
  inlined: Inlined,
  enclosing: string,
  chain: ReadonlyMap<string, number>,
): NodeProto[] {
  return placed(state, inlined, enclosing, chain).map(({ node, own, calls }) => ({
    ...node,
    name: scopedName(own ?? '', calls, `${node.opType}_${state.counter++}`),
  }));
}

interface Placed {
  readonly node: NodeProto;
  own: string | undefined;
  readonly calls: ReadonlyMap<string, number>;
}

/** Each node of a call (nested calls included) with the module it belongs to. */
function placed(state: InlineState, inlined: Inlined, enclosing: string, chain: ReadonlyMap<string, number>): Placed[] {
  const module = inlined.module ?? enclosing;
  let calls = chain;
  if (inlined.module) {
    const n = (state.calls.get(module) ?? 0) + 1;
    state.calls.set(module, n);
    calls = new Map([...chain, [module, n]]);
  }
  const out: Placed[] = [];
  for (const b of inlined.body) {
    if (b.nested) out.push(...placed(state, b.nested, module, calls));
    else out.push({ node: b.node, own: b.owner !== undefined && within(b.owner, module) ? b.owner : undefined, calls });
  }
  placeParameterless(out, module);
  return out;
}

/**
 * A node reading no parameter sits between its neighbours: fed and read by nodes of a deeper
 * module of this call (a ReLU between `seq.0` and `seq.2`), it belongs to their common module;
 * otherwise (the call's input or output side) to the call's own module.
 */
function placeParameterless(nodes: Placed[], module: string): void {
  const producer = new Map<string, Placed>();
  for (const p of nodes) for (const o of p.node.output ?? []) producer.set(o, p);
  const pending = nodes.filter((p) => p.own === undefined);
  for (const p of pending) {
    const fedBy = (p.node.input ?? []).flatMap((v) => {
      const q = producer.get(v);
      return q?.own !== undefined && q !== p ? [q] : [];
    });
    const outputs = new Set(p.node.output ?? []);
    const readBy = nodes.filter(
      (q) => q.own !== undefined && q !== p && (q.node.input ?? []).some((v) => outputs.has(v)),
    );
    const neighbours = [...fedBy, ...readBy];
    const common = fedBy.length && readBy.length ? sameCallModule(neighbours) : module;
    p.own = within(common, module) && common.length > module.length ? common : module;
  }
}

/**
 * The deepest module the nodes share in one call: a ReLU between two calls of one Linear
 * (`self.a(relu(self.a(x)))`) is in neither call, so it goes to the module around them.
 */
function sameCallModule(nodes: readonly Placed[]): string {
  const parts = commonModule(nodes.map((q) => q.own ?? '')).split('.');
  let depth = 0;
  while (depth < parts.length) {
    const name = parts.slice(0, depth + 1).join('.');
    const call = nodes[0].calls.get(name);
    if (!nodes.every((q) => q.calls.get(name) === call)) break;
    depth++;
  }
  return parts.slice(0, depth).join('.');
}

/**
 * A TorchScript-style node name for a node of module `own`: components are full module names (the
 * module map joins `b1` / `b1.fc` to `b1.fc`), and a module's later call gets `_N`, as exported.
 */
function scopedName(own: string, calls: ReadonlyMap<string, number>, leaf: string): string {
  if (!own) return `/${leaf}`;
  const parts = own.split('.');
  const components = parts.map((_, i) => {
    const name = parts.slice(0, i + 1).join('.');
    const n = calls.get(name) ?? 1;
    return n > 1 ? `${name}_${n - 1}` : name;
  });
  return `/${components.join('/')}/${leaf}`;
}

/** The module owning the named parameters a node reads directly, if all agree. */
function ownerOfInputs(state: InlineState, node: NodeProto): string | undefined {
  const owners = new Set<string>();
  for (const input of node.input ?? []) {
    if (!state.parameters.has(input)) continue;
    const owner = parameterOwner(input);
    if (owner !== undefined) owners.add(owner);
  }
  return owners.size === 1 ? [...owners][0] : owners.size > 1 ? commonModule([...owners]) : undefined;
}

/** Attributes referring to the call's attributes (`ref_attr_name`) take their values; absent ones are dropped. */
function resolveAttributes(
  attributes: readonly AttributeProto[],
  callAttrs: ReadonlyMap<string, AttributeProto>,
): AttributeProto[] {
  const out: AttributeProto[] = [];
  for (const a of attributes) {
    if (!a.refAttrName) out.push(a);
    else {
      const given = callAttrs.get(a.refAttrName);
      if (given) out.push({ ...given, name: a.name });
    }
  }
  return out;
}

function parameterModules(initializers: readonly { name?: string }[]): Set<string> {
  const modules = new Set<string>();
  for (const t of initializers) {
    const owner = parameterOwner(t.name ?? '');
    const parts = owner?.split('.') ?? [];
    for (let i = 1; i <= parts.length; i++) modules.add(parts.slice(0, i).join('.'));
  }
  return modules;
}

function qualifiedClass(call: NodeProto): string {
  return call.domain ? `${call.domain}.${call.opType ?? ''}` : (call.opType ?? '');
}
