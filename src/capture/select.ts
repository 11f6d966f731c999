/**
 * Turns a `layers` request (names, globs, RegExps, type filters, presets) into capture targets:
 * for each selected module and call, the graph value holding what its forward hook would see.
 */
import { valueNames } from './value-names.js';
import { isRenameMap, renamer, type RenameMap } from './rename.js';
import { NeurotapError } from '../errors.js';
import type { Derivation } from '../graph/derive.js';
import type { ContextStep, GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo, ModuleMap } from '../modules/module-map.js';
import { inferElemType, unreturnableType, valueKind } from '../graph/elem-type.js';
import { quantParams } from '../graph/quantization.js';
import { REDUCTIONS, valueContext, type Reduction } from '../graph/rewrite.js';
import { unthreadable } from '../graph/thread-ragged.js';
import { globToRegExp, isGlob, nearestNames } from './glob.js';
import { isTransformerPreset, transformerSelection } from './transformer-presets.js';

/**
 * `'leaves'` every leaf module (the default), `'modules'` every module, `'values'` every intermediate
 * ONNX value; `'hidden_states'` / `'attentions'` a transformer's HF-style `hidden_states.i` /
 * `attentions.i` (transformer-presets.ts).
 */
export type LayerPreset = 'leaves' | 'modules' | 'values' | 'hidden_states' | 'attentions';
export type LayerSpec = string | RegExp | { type: string | RegExp };

export interface SelectOptions {
  /** What to capture; a `{ name: 'new name' }` object selects exact names and renames their keys (torchvision's return_nodes). */
  layers?: LayerSpec | readonly LayerSpec[] | RenameMap;
  /** Also capture what each selected module receives (its forward pre-hook's `input`). */
  inputs?: boolean;
  /**
   * Reduce activations inside the graph, for all layers or per layer pattern
   * (`{ 'layer*': 'mean', fc: 'none' }`, first match wins): only the reduced tensors leave the runtime.
   */
  reduce?: Reduction | Readonly<Record<string, Reduction>>;
  /** Return quantized values (QuantizeLinear, DynamicQuantizeLinear, QLinear* outputs) as floats. */
  dequantize?: boolean;
}

export interface CaptureTarget {
  /** `name`, `name:k` for the k-th of several calls, then `#i` per tuple level. */
  readonly key: string;
  readonly value: string;
  readonly module: string | undefined;
  readonly call: number;
  readonly kind: 'output' | 'input';
  readonly reduce: Reduction;
  /** The module's static call site (1-based) this target reads; sites inside If/Loop may run 0 or n times. */
  readonly site: number;
  /** Tuple position as a key suffix (`#1#0`), '' for a single output. */
  readonly tuple: string;
  /** The If branches and loop bodies the module's call site sits in (a value may live outside them). */
  readonly siteContext?: readonly ContextStep[];
  /** A value a fused op hides: re-opened as its optional output or recomputed beside it (`value` is the op's output 0). */
  readonly derive?: Derivation;
  /** Set when the tensor is recomputed from the op's inputs rather than read: how. */
  readonly recomputed?: string;
  /**
   * The module's sites outside any If or loop: each runs once per run, so it counts for the call
   * numbers after it even when this capture reports it (a call whose output is not observable).
   */
  readonly alwaysSites?: readonly number[];
  /** Per site (1-based, so `[site - 1]`), the flat index of its first node (-1: none): orders calls across loop depths. */
  readonly sitePositions?: readonly number[];
}

export interface Unobservable {
  readonly key: string;
  readonly module: string;
  readonly reason: string;
  readonly hint: string;
}

export interface Selection {
  readonly targets: CaptureTarget[];
  readonly notObservable: Unobservable[];
}

const PRESETS = new Set<string>(['leaves', 'modules', 'values', 'hidden_states', 'attentions']);

export function selectTargets(map: ModuleMap, index: GraphIndex, options: SelectOptions = {}): Selection {
  if (!isRenameMap(options.layers)) return selectSpecs(map, index, options);
  const rename = renamer(options.layers);
  const selection = selectSpecs(map, index, { ...options, layers: Object.keys(options.layers) });
  return {
    targets: selection.targets.map((t) => ({ ...t, key: rename(t.key) })),
    notObservable: selection.notObservable.map((u) => ({ ...u, key: rename(u.key) })),
  };
}

function selectSpecs(map: ModuleMap, index: GraphIndex, options: SelectOptions): Selection {
  const specs = normalizeSpecs(options.layers as LayerSpec | readonly LayerSpec[] | undefined);
  const modules = new Set<ModuleInfo>();
  const values = new Set<string>();
  const unknown: string[] = [];
  const allValues = intermediateValues(index);
  const empty: LayerSpec[] = [];
  // `layer1.0/add` names a value between modules; its key stays that name.
  const named = new Map(valueNames(map, index).map((v) => [v.name, v.value]));
  const keyOf = new Map<string, string>();
  const reduceFor = reductionLookup(options.reduce);
  const presetSelections: Selection[] = [];
  for (const spec of specs) {
    if (isTransformerPreset(spec)) {
      presetSelections.push(transformerSelection(map, index, spec, reduceFor));
      continue;
    }
    const value = typeof spec === 'string' && !map.get(spec) && !allValues.has(spec) ? named.get(spec) : undefined;
    if (value !== undefined) {
      values.add(value);
      keyOf.set(value, spec as string);
      continue;
    }
    const matched = matchSpec(spec, map, allValues, modules, values);
    if (matched || (typeof spec === 'string' && PRESETS.has(spec))) continue;
    if (typeof spec === 'string' && !isGlob(spec)) unknown.push(spec);
    else empty.push(spec);
  }
  if (unknown.length) throw unknownLayers(unknown, map, allValues);
  if (empty.length) throw emptyPatterns(empty, map);
  const selection: Selection = { targets: [], notObservable: [] };
  for (const info of map.modules)
    if (modules.has(info)) addModuleTargets(info, selection, options.inputs === true, reduceFor(info.name));
  for (const value of allValues) {
    if (values.has(value))
      selection.targets.push({
        key: keyOf.get(value) ?? value,
        value,
        module: undefined,
        call: 1,
        kind: 'output',
        reduce: reduceFor(value),
        site: 1,
        tuple: '',
      });
  }
  for (const preset of presetSelections) {
    selection.targets.push(...preset.targets);
    selection.notObservable.push(...preset.notObservable);
  }
  return dropUnreturnable(index, selection, options.dequantize === true);
}

/**
 * Values in an If lacking its other branch or in an If inside a Scan body (thread-ragged.ts), and
 * sequences, maps, optionals and tensors of types the JS API cannot return (int4, float8, bfloat16:
 * fetching an int4 value aborts the Node binding) are reported, never requested. A quantized int4
 * value with `dequantize` leaves the graph as float, so it stays.
 */
function dropUnreturnable(index: GraphIndex, selection: Selection, dequantize: boolean): Selection {
  const targets: CaptureTarget[] = [];
  for (const t of selection.targets) {
    const kind = valueKind(index, t.value);
    const stuck = unthreadable(index, valueContext(index, t.value));
    if (stuck) {
      report(selection, t, `cannot be returned: ${stuck}`);
      continue;
    }
    const dtype = kind === 'tensor' ? unreturnableType(inferElemType(index, t.value)) : undefined;
    if (kind === 'tensor' && (!dtype || (dequantize && quantParams(index, t.value)))) targets.push(t);
    else if (kind !== 'tensor') report(selection, t, `a ${kind} value: ONNX Runtime's JS API returns tensors only`);
    else report(selection, t, `a tensor of type ${dtype}: ONNX Runtime's JS API cannot return ${dtype} values`);
  }
  return { targets, notObservable: selection.notObservable };
}

function report(selection: Selection, t: CaptureTarget, reason: string): void {
  const quantized = /int4|int2|float8|float4/.test(reason);
  selection.notObservable.push({
    key: t.key,
    module: t.module ?? t.value,
    reason,
    hint: quantized
      ? 'Capture it with dequantize: true if it is quantized, or capture the float values around it.'
      : 'Capture the tensors that go into it or come out of it instead.',
  });
}

function reductionLookup(reduce: SelectOptions['reduce']): (name: string) => Reduction {
  const check = (r: unknown): Reduction => {
    if (REDUCTIONS.includes(r as Reduction)) return r as Reduction;
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Unknown reduction '${String(r)}'; expected one of ${REDUCTIONS.join(', ')}.`,
      {
        hint: 'mean/max reduce (N, C, ...) to (N, C); time-mean/time-max and last act on axis 1 of (N, T, ...).',
      },
    );
  };
  if (reduce === undefined) return () => 'none';
  if (typeof reduce === 'string') {
    const r = check(reduce);
    return () => r;
  }
  const rules = Object.entries(reduce).map(([pattern, r]) => ({ re: globToRegExp(pattern), r: check(r) }));
  return (name) => rules.find((rule) => rule.re.test(name))?.r ?? 'none';
}

function normalizeSpecs(layers: LayerSpec | readonly LayerSpec[] | undefined): LayerSpec[] {
  if (layers === undefined) return ['leaves'];
  const list = Array.isArray(layers) ? [...layers] : [layers as LayerSpec];
  return list.flatMap((spec) =>
    typeof spec === 'string'
      ? spec
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [spec],
  );
}

/** Adds what one spec names; false when it names nothing (already-added matches count as matches). */
function matchSpec(
  spec: LayerSpec,
  map: ModuleMap,
  allValues: ReadonlySet<string>,
  modules: Set<ModuleInfo>,
  values: Set<string>,
): boolean {
  const addAll = <T>(items: Iterable<T>, into: Set<T>) => {
    let any = false;
    for (const item of items) {
      into.add(item);
      any = true;
    }
    return any;
  };
  if (spec === 'leaves')
    return addAll(
      map.modules.filter((m) => m.children.length === 0),
      modules,
    );
  if (spec === 'modules') return addAll(map.modules, modules);
  if (spec === 'values') return addAll(allValues, values);
  if (typeof spec === 'string' && !isGlob(spec)) {
    const info = map.get(spec);
    if (info) return addAll([info], modules);
    return allValues.has(spec) && addAll([spec], values);
  }
  if (typeof spec === 'object' && !(spec instanceof RegExp)) {
    const type = spec.type;
    return addAll(
      map.modules.filter((m) => (typeof type === 'string' ? m.type === type : type.test(m.type))),
      modules,
    );
  }
  const re = typeof spec === 'string' ? globToRegExp(spec) : spec;
  return addAll(
    map.modules.filter((m) => re.test(m.name)),
    modules,
  );
}

const valueSets = new WeakMap<GraphIndex, Set<string>>();

/** Values computed by nodes, subgraphs included (not inputs, initializers, constants): what "values" captures. */
export function intermediateValues(index: GraphIndex): ReadonlySet<string> {
  // Computed once per model: every capture's selection reads it.
  let out = valueSets.get(index);
  if (out) return out;
  out = new Set<string>();
  for (const node of index.nodes) {
    if (node.opType === 'Constant') continue;
    for (const v of node.output ?? []) if (v) out.add(v);
  }
  valueSets.set(index, out);
  return out;
}

function addModuleTargets(info: ModuleInfo, selection: Selection, withInputs: boolean, reduce: Reduction): void {
  if (info.notObservable) {
    const { reason, hint, inputsObservable } = info.notObservable;
    selection.notObservable.push({ key: info.name, module: info.name, reason, hint });
    const many = info.calls.length > 1;
    if (withInputs && inputsObservable)
      for (const call of info.calls)
        addInputTargets(info, call, many ? `${info.name}:${call.index}` : info.name, selection);
    return;
  }
  const many = info.calls.length > 1;
  for (const call of info.calls) {
    const base = many ? `${info.name}:${call.index}` : info.name;
    const suffixOf = (path: readonly number[]) => path.map((p) => `#${p}`).join('');
    for (const missing of call.unobservableOutputs) {
      selection.notObservable.push({
        key: base + suffixOf(missing.path),
        module: info.name,
        reason: missing.reason,
        hint: 'Capture the values it is made of with the "values" preset.',
      });
    }
    if (call.outputs.length === 0 && call.unobservableOutputs.length === 0) {
      selection.notObservable.push({
        key: base,
        module: info.name,
        reason: 'no value leaves this call in the exported graph',
        hint: 'Capture its inner values with the "values" preset.',
      });
    }
    // A tuple keeps its `#i` keys even when some of its elements are not observable.
    const tuple = call.container === true || call.outputs.length + call.unobservableOutputs.length > 1;
    call.outputs.forEach((value, i) => {
      const suffix = tuple ? suffixOf(call.outputPaths[i]) : '';
      selection.targets.push({
        key: base + suffix,
        value,
        module: info.name,
        call: call.index,
        kind: 'output',
        reduce,
        site: call.index,
        tuple: suffix,
        siteContext: call.context,
        alwaysSites: alwaysSites(info),
        sitePositions: sitePositions(info),
      });
    });
    if (withInputs) addInputTargets(info, call, base, selection);
  }
}

function sitePositions(info: ModuleInfo): number[] {
  return info.calls.map((c) => (c.nodes.length ? Math.min(...c.nodes) : -1));
}

function alwaysSites(info: ModuleInfo): number[] {
  return info.calls.filter((c) => c.context.length === 0).map((c) => c.index);
}

function addInputTargets(
  info: ModuleInfo,
  call: ModuleInfo['calls'][number],
  base: string,
  selection: Selection,
): void {
  // `#i` is the position among the call's inputs, opaque ones included: dropping one must not shift the
  // next input onto its key. Where evidence nests them (a recurrent module's `input, (h_0, c_0)`), the path.
  const suffix = (i: number) => (call.inputPaths?.[i] ?? [i]).map((p) => `#${p}`).join('');
  const ambiguous = call.inputPaths ? undefined : ambiguousInputs(call.inputs);
  for (const missing of call.unobservableInputs ?? [])
    selection.notObservable.push({
      key: `in:${base}${missing.path.map((p) => `#${p}`).join('')}`,
      module: info.name,
      reason: missing.reason,
      hint: 'Capture the values it is made of with the "values" preset.',
    });
  call.inputs.forEach((value, i) => {
    if (call.opaqueInputs.includes(value)) {
      selection.notObservable.push({
        key: `in:${base}${suffix(i)}`,
        module: info.name,
        reason:
          call.opaqueReasons?.get(value) ??
          'the export optimised across the module boundary, so the value entering this call differs from what the module received',
        hint: "Capture the previous module's output instead.",
      });
      return;
    }
    if (ambiguous) {
      selection.notObservable.push({
        key: `in:${base}${suffix(i)}`,
        module: info.name,
        reason: ambiguous,
        hint: "Capture the previous module's output instead, or export with neurotap_torch.export (its markers record each argument).",
      });
      return;
    }
    selection.targets.push({
      key: `in:${base}${suffix(i)}`,
      value,
      module: info.name,
      call: call.index,
      kind: 'input',
      reduce: 'none',
      site: call.index,
      tuple: suffix(i),
      siteContext: call.context,
      alwaysSites: alwaysSites(info),
      sitePositions: sitePositions(info),
    });
  });
}

/**
 * Several values entering a call carry no argument order: the graph reads them in the order the
 * module uses them, keyword arguments (masks) are no positional input of the pre-hook, and a constant
 * (positions, zeros) or a value passed twice enters as no value of its own, so every later position
 * would shift. Without evidence of the positions (a recurrent op's slots, a cell's weights,
 * MultiheadAttention's structure, export markers) they are reported, never guessed.
 */
function ambiguousInputs(inputs: readonly string[]): string | undefined {
  // One value several times is evidence-based (attention-outputs.ts: `attn(x, x, x)`), not ambiguous.
  if (new Set(inputs).size < 2) return undefined;
  return `ambiguous: ${inputs.length} values enter this call (${inputs.map((v) => `'${v}'`).join(', ')}); the graph records no argument order, and keyword arguments, constants and a value passed twice leave no trace, so which positional argument each one is cannot be told`;
}

function unknownLayers(names: string[], map: ModuleMap, allValues: ReadonlySet<string>): NeurotapError {
  const candidates = [...map.modules.map((m) => m.name), ...allValues];
  const suggestions = names.map(
    (n) =>
      `'${n}' (did you mean ${nearestNames(n, candidates)
        .map((c) => `'${c}'`)
        .join(', ')}?)`,
  );
  return new NeurotapError('E_UNKNOWN_LAYER', `No module or value is named ${suggestions.join('; ')}.`, {
    hint: 'List the module names with `neurotap layers MODEL` (or model.modules()); globs such as "layer1.*" and the presets leaves, modules, values, hidden_states, attentions also work.',
    details: { unknown: names },
  });
}

/** Globs, RegExps and type filters that match no module: an empty capture would look like success. */
function emptyPatterns(specs: LayerSpec[], map: ModuleMap): NeurotapError {
  const text = (s: LayerSpec) =>
    typeof s === 'string' ? `'${s}'` : s instanceof RegExp ? String(s) : `type ${String(s.type)}`;
  const types = [...new Set(map.modules.map((m) => m.type))];
  const names = map.modules.map((m) => m.name);
  const near = specs
    .filter((s): s is string => typeof s === 'string')
    .flatMap((s) => nearestNames(s.replace(/[*?]/g, ''), names));
  return new NeurotapError('E_UNKNOWN_LAYER', `${specs.map(text).join(', ')} matched no module.`, {
    hint: `${near.length ? `Nearest names: ${[...new Set(near)].join(', ')}. ` : ''}The module types here are ${types.join(', ')}; \`neurotap layers MODEL\` (or model.modules()) lists the names.`,
    details: { unmatched: specs.map(text) },
  });
}
