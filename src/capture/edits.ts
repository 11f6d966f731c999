/**
 * Turns `edit: { KEY: op }` into in-graph edits (src/graph/edit.ts) and, per run, the tensors fed
 * to them. A key is a capture key: `name` edits every call of the module (what a hook on it does),
 * `name:k` only call k, `name#i` one element of a tuple output; an ONNX value name edits that value.
 * A key whose activation the export does not hold is an error naming why: editing some other value
 * instead would be a silent lie.
 */
import { NeurotapError } from '../errors.js';
import type { EditParam, GraphEdit, GraphEditKind } from '../graph/edit.js';
import { inferElemType } from '../graph/elem-type.js';
import type { GraphIndex } from '../graph/graph-index.js';
import { valueContext } from '../graph/rewrite.js';
import type { ModuleMap } from '../modules/module-map.js';
import type { Runtime, Tensor } from '../runtime/runtime.js';
import { ONNX_DTYPE, sizeOf } from '../tensor.js';
import type { EditCallback, EditOp, EditTensor } from './edit-ops.js';
import { nearestNames } from './glob.js';
import { intermediateValues, selectTargets, type CaptureTarget } from './select.js';

export interface EditOptions {
  /** Edits applied during the run, by capture key, as forward hooks returning a new output would. */
  edit?: Readonly<Record<string, EditOp | EditCallback>>;
  /**
   * Keys that stay patchable (`replace`/`patchFrom`) in one session: a sweep that patches a
   * different one of them each run feeds tensors instead of building a graph per key.
   */
  editable?: readonly string[];
}

interface Slot {
  readonly target: CaptureTarget;
  readonly depth: number;
  /** The edit key whose operation this slot runs; undefined for an idle `editable` slot. */
  readonly from: string | undefined;
  readonly edit: GraphEdit;
  readonly dataType: number;
}

export interface EditPlan {
  readonly edits: readonly GraphEdit[];
  /** What makes two edit sets need different graphs (ops and keys, not their numbers). */
  readonly signature: string;
  /** The module depth a target reads its value at (undefined when no edit touches it). */
  depthFor(t: CaptureTarget): number | undefined;
  /** The tensors feeding the edits' graph inputs for one run (callbacks' are fed as they return). */
  feeds(runtime: Runtime): Record<string, Tensor>;
  /** The JS callbacks, in execution order: the graph is cut before each. */
  readonly callbacks: readonly CallbackSlot[];
}

export interface CallbackSlot {
  readonly target: CaptureTarget;
  /** Reads the value as the callback sees it: deeper edits applied, its own not yet. */
  readonly unedited: { readonly value: string; readonly reduce: 'none'; readonly editDepth: number };
  readonly fn: EditCallback;
  /** The feeds that make the slot return `result` (the tensor the callback returned, or the output it kept). */
  feeds(result: EditTensor, runtime: Runtime): Record<string, Tensor>;
}

type Layout = Omit<EditPlan, 'feeds' | 'callbacks'> & { readonly slots: readonly Slot[] };

/** Layouts by model and edit structure: a sweep plans its keys once, not once per run. */
const layouts = new WeakMap<ModuleMap, Map<string, Layout>>();

export function planEdits(map: ModuleMap, index: GraphIndex, options: EditOptions): EditPlan | undefined {
  const ops = Object.entries(options.edit ?? {}).map(([key, op]) => [key, checkOp(key, op)] as const);
  const editable = [...(options.editable ?? [])];
  if (ops.length === 0 && editable.length === 0) return undefined;
  const structure = JSON.stringify([ops.map(([key, op]) => [key, ...paramsOf(kindOf(op), op)]), editable]);
  const cached = layouts.get(map) ?? layouts.set(map, new Map()).get(map)!;
  const layout = cached.get(structure) ?? cached.set(structure, layoutOf(map, index, ops, editable)).get(structure)!;
  const opOf = new Map(ops);
  return {
    ...layout,
    callbacks: layout.slots.flatMap((s) => {
      const op = s.from === undefined ? undefined : opOf.get(s.from);
      return op?.op === 'call' ? [callbackSlot(index, s, op.fn)] : [];
    }),
    feeds: (runtime) =>
      Object.assign(
        {},
        ...layout.slots.map((s) => slotFeeds(s, s.from === undefined ? undefined : opOf.get(s.from), runtime)),
      ),
  };
}

function layoutOf(
  map: ModuleMap,
  index: GraphIndex,
  ops: readonly (readonly [string, EditOp])[],
  editable: readonly string[],
): Layout {
  const chosen = new Map<string, { target: CaptureTarget; from: string | undefined; op: EditOp | undefined }>();
  const add = (key: string, op: EditOp | undefined) => {
    for (const target of resolveEditKey(map, index, key)) {
      const existing = chosen.get(target.key);
      if (existing?.op && op) {
        throw new NeurotapError('E_BAD_ARGUMENT', `Two edits apply to '${target.key}' (one of them as '${key}').`, {
          hint: 'Give each call one edit: `name` edits every call, `name:k` only call k.',
        });
      }
      if (!existing?.op) chosen.set(target.key, { target, from: op ? key : undefined, op });
    }
  };
  for (const [key, op] of ops) add(key, op);
  for (const key of editable) add(key, undefined);
  // Sorted, so that the same slots give the same graph (and session) whichever key a run edits.
  const fresh = freshNames(index);
  const slots = [...chosen.values()]
    .sort((a, b) => (a.target.key < b.target.key ? -1 : 1))
    .map(({ target, from, op }) => slotFor(map, index, target, from, op, fresh));
  const depths = new Map(slots.map((s) => [s.target.value, s.depth]));
  return {
    slots,
    edits: slots.map((s) => s.edit),
    signature: slots
      .map((s) => `${s.target.key}=${s.edit.kind}:${Object.keys(s.edit.params).join('+')}`)
      .join('\u0002'),
    depthFor: (t) => (depths.has(t.value) && t.kind === 'output' ? moduleDepth(map, t.module) : undefined),
  };
}

function slotFor(
  map: ModuleMap,
  index: GraphIndex,
  target: CaptureTarget,
  from: string | undefined,
  op: EditOp | undefined,
  fresh: (hint: string) => string,
): Slot {
  const kind = op ? kindOf(op) : 'replace';
  const depth = moduleDepth(map, target.module);
  const params = Object.fromEntries(paramsOf(kind, op).map((p) => [p, fresh(`${target.key}::${p}`)]));
  const edit: GraphEdit = {
    value: target.value,
    kind,
    depth,
    params,
    insideReaders: readersInside(map, index, target),
  };
  return { target, depth, from, edit, dataType: inferElemType(index, target.value) ?? 1 };
}

/** The capture targets a key names; errors for unknown, unobservable and uneditable keys. */
export function resolveEditKey(map: ModuleMap, index: GraphIndex, key: string): CaptureTarget[] {
  if (intermediateValues(index).has(key) && !map.get(key)) {
    return [{ key, value: key, module: undefined, call: 1, kind: 'output', reduce: 'none', site: 1, tuple: '' }];
  }
  const [, name, callText, tuple] = /^(.*?)(?::(\d+))?((?:#\d+)*)$/.exec(key)!;
  const module = map.get(name) ?? map.get(key);
  if (!module) {
    throw new NeurotapError(
      'E_UNKNOWN_LAYER',
      `No module is named '${name}' (edit key '${key}'); did you mean ${nearestNames(
        name,
        map.modules.map((m) => m.name),
      )
        .map((n) => `'${n}'`)
        .join(', ')}?`,
      { hint: 'Edit keys are capture keys: name, name:k (one call), name#i (one tuple element).' },
    );
  }
  const selection = selectTargets(map, index, { layers: [module.name] });
  const call = callText === undefined ? undefined : Number(callText);
  const covers = (a: string, b: string) => b === a || b.startsWith(`${a}:`) || b.startsWith(`${a}#`);
  const blocked = selection.notObservable.find((u) => covers(key, u.key) || covers(u.key, key));
  if (blocked) {
    throw new NeurotapError(
      'E_NOT_OBSERVABLE',
      `'${key}' cannot be edited: ${blocked.reason}. Editing another value in its place would change something else.`,
      { hint: blocked.hint, details: { key, reason: blocked.reason } },
    );
  }
  const targets = selection.targets.filter(
    (t) =>
      (call === undefined || (module.calls.length > 1 && t.call === call)) &&
      (tuple === '' || t.tuple === tuple || t.tuple.startsWith(`${tuple}#`)),
  );
  if (targets.length === 0) {
    throw new NeurotapError('E_UNKNOWN_LAYER', `'${key}' names no output of '${module.name}'.`, {
      hint: `Its keys are ${selection.targets.map((t) => `'${t.key}'`).join(', ')}.`,
    });
  }
  for (const t of targets) checkEditable(index, t, call !== undefined);
  return targets;
}

function checkEditable(index: GraphIndex, t: CaptureTarget, oneCall: boolean): void {
  if (!index.producer.has(t.value)) {
    throw new NeurotapError(
      'E_NOT_OBSERVABLE',
      `'${t.key}' cannot be edited: its value '${t.value}' is a graph input or a weight, not computed by the call.`,
      { hint: 'Edit the module that produces it instead.' },
    );
  }
  const loop = [...valueContext(index, t.value), ...(t.siteContext ?? [])].some(
    (s) => index.nodes[s.node].opType !== 'If',
  );
  if (oneCall && loop) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `'${t.key}' is one iteration of a loop body, which the graph runs as one value for every call.`,
      { hint: `Edit every call with '${t.module}' instead.` },
    );
  }
}

function moduleDepth(map: ModuleMap, name: string | undefined): number {
  if (name === undefined) return -1;
  let depth = 0;
  for (let p = map.get(name)?.parent; p !== undefined; p = map.get(p)?.parent) depth++;
  return depth;
}

function readersInside(map: ModuleMap, index: GraphIndex, t: CaptureTarget): number[] {
  if (!t.module) return [];
  const nodes = new Set(map.get(t.module)!.calls[t.site - 1].nodes);
  const producer = index.producer.get(t.value);
  return (index.consumers.get(t.value) ?? []).filter((n) => nodes.has(n) && n !== producer);
}

function kindOf(op: EditOp): GraphEditKind {
  return op.op === 'patch' || op.op === 'call' ? 'replace' : op.op;
}

function paramsOf(kind: GraphEditKind, op: EditOp | undefined): EditParam[] {
  switch (kind) {
    case 'zero':
      return [];
    case 'scale':
      return ['factor'];
    case 'add':
      return ['addend'];
    case 'replace':
      return ['mask', 'replacement'];
    case 'clamp': {
      const c = op as Extract<EditOp, { op: 'clamp' }>;
      return [...(c.min === undefined ? [] : ['min' as const]), ...(c.max === undefined ? [] : ['max' as const])];
    }
  }
}

function callbackSlot(index: GraphIndex, s: Slot, fn: EditCallback): CallbackSlot {
  const t = s.target;
  if (valueContext(index, t.value).length > 0 || (t.siteContext?.length ?? 0) > 0) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `'${t.key}' is computed inside an If branch or a Loop body, where the graph cannot be cut for a JS callback.`,
      { hint: 'Use a declarative edit there: zero(), scale(), add(), clamp(), replace() or patchFrom().' },
    );
  }
  return {
    target: t,
    // Between this edit's depth and the next deeper one: what the module's own hook receives.
    unedited: { value: t.value, reduce: 'none', editDepth: s.depth + 0.5 },
    fn,
    feeds: (result, runtime) => {
      const p = s.edit.params;
      return {
        [p.mask!]: new runtime.Tensor('bool', new Uint8Array([1]), []),
        [p.replacement!]: typed(s, result.data as ArrayLike<number>, result.dims, runtime),
      };
    },
  };
}

function checkOp(key: string, given: EditOp | EditCallback): EditOp {
  const op: EditOp = typeof given === 'function' ? { op: 'call', fn: given } : given;
  const known = ['zero', 'scale', 'add', 'clamp', 'replace', 'patch', 'call'];
  if (typeof op !== 'object' || op === null || !known.includes((op as EditOp).op)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `The edit for '${key}' is not an edit operation: ${String(op)}.`, {
      hint: 'Use zero(), scale(f), add(t), clamp({ min, max }), replace(t), patchFrom(cache) or a function.',
    });
  }
  return op;
}

function slotFeeds(s: Slot, op: EditOp | undefined, runtime: Runtime): Record<string, Tensor> {
  const p = s.edit.params;
  const scalar = (v: number) => typed(s, [v], [], runtime);
  const out: Record<string, Tensor> = {};
  if (!op) {
    out[p.mask!] = new runtime.Tensor('bool', new Uint8Array([0]), []);
    out[p.replacement!] = scalar(0);
    return out;
  }
  switch (op.op) {
    case 'scale':
      out[p.factor!] = scalar(op.factor);
      break;
    case 'add': {
      const data = op.tensor.data as ArrayLike<number>;
      out[p.addend!] = typed(
        s,
        Array.from(data, (x) => Number(x) * op.scale),
        op.tensor.dims,
        runtime,
      );
      break;
    }
    case 'clamp':
      if (p.min) out[p.min] = scalar(op.min!);
      if (p.max) out[p.max] = scalar(op.max!);
      break;
    case 'call':
      break;
    case 'replace':
    case 'patch': {
      const tensor = op.op === 'replace' ? op.tensor : patchTensor(s, op.from);
      out[p.mask!] = new runtime.Tensor('bool', new Uint8Array([1]), []);
      out[p.replacement!] = typed(s, tensor.data as ArrayLike<number>, tensor.dims, runtime);
      break;
    }
  }
  return out;
}

function patchTensor(s: Slot, from: { get(key: string): EditTensor | undefined }): EditTensor {
  const t = from.get(s.target.key);
  if (!t) {
    throw new NeurotapError('E_BAD_ARGUMENT', `The patch source holds no tensor for '${s.target.key}'.`, {
      hint: `Capture it in the clean run: capture(cleanFeeds, { layers: ['${s.target.module ?? s.target.key}'] }).`,
    });
  }
  return t;
}

/** Numbers as a tensor of the edited value's element type (floating point only). */
function typed(s: Slot, data: ArrayLike<number>, dims: readonly number[], runtime: Runtime): Tensor {
  const dtype = ONNX_DTYPE[s.dataType];
  if (data.length !== sizeOf(dims)) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `The tensor for '${s.target.key}' has ${data.length} elements for dims [${dims.join(', ')}].`,
      {
        hint: 'The data length must equal the product of the dims.',
      },
    );
  }
  if (dtype === 'float32') return new runtime.Tensor('float32', Float32Array.from(data), dims);
  if (dtype === 'float64') return new runtime.Tensor('float64', Float64Array.from(data), dims);
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `'${s.target.key}' is ${dtype ?? 'of an unknown type'}: edits with numbers or tensors support float32 and float64 values.`,
    { hint: 'zero() works on every type.' },
  );
}

/** Names for the edits' graph inputs that the model does not use. */
function freshNames(index: GraphIndex): (hint: string) => string {
  const used = new Set<string>();
  let counter = 0;
  return (hint) => {
    let name: string;
    do name = `neurotap::edit::${hint}::${counter++}`;
    while (used.has(name) || index.producer.has(name) || index.consumers.has(name) || index.initializers.has(name));
    used.add(name);
    return name;
  };
}
