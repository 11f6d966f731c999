/**
 * Module maps of models written by `neurotap_torch.export`: every module call's inputs and outputs
 * pass through an Identity node, and the model's `neurotap.export` metadata names each one's value
 * with its neurotap key and lists the module tree with true class names. Nothing is inferred: a key
 * is the marker's value, so every module (a Conv before a BatchNorm, a U-Net skip, an unused tuple
 * element) is as observable as PyTorch's hooks.
 *
 * ```ts
 * const map = buildModuleMap(index, model.metadataProps); // map.source === 'neurotap-export'
 * ```
 */
import type { GraphIndex } from '../graph/graph-index.js';
import type { StringStringEntryProto } from '../onnx/types.js';
import type { ModuleCall, ModuleInfo, ModuleMap } from './module-map.js';

export const EXPORT_METADATA_KEY = 'neurotap.export';

interface ExportMetadata {
  readonly version: number;
  readonly modules: readonly { name: string; type: string; calls: number }[];
  readonly marks: readonly { value: string; key: string }[];
}

interface Mark {
  readonly value: string;
  readonly module: string;
  readonly call: number;
  readonly kind: 'in' | 'out';
  readonly path: readonly number[];
}

/** The metadata, when it is there and well formed; anything else leaves the module map to the graph. */
function readMetadata(props: readonly StringStringEntryProto[]): ExportMetadata | undefined {
  const text = props.find((p) => p.key === EXPORT_METADATA_KEY)?.value;
  if (text === undefined) return undefined;
  try {
    const meta = JSON.parse(text) as ExportMetadata;
    const ok = meta.version === 1 && Array.isArray(meta.modules) && Array.isArray(meta.marks);
    return ok ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** `in:layer1.0:2#1#0` → module layer1.0, call 2, input, path [1, 0]; the call is 1 for a module called once. */
function parseMark(value: string, key: string, calls: ReadonlyMap<string, number>): Mark | undefined {
  const kind = key.startsWith('in:') ? 'in' : 'out';
  const body = kind === 'in' ? key.slice(3) : key;
  const hash = body.indexOf('#');
  const head = hash < 0 ? body : body.slice(0, hash);
  const path =
    hash < 0
      ? []
      : body
          .slice(hash + 1)
          .split('#')
          .map(Number);
  const colon = head.lastIndexOf(':');
  const named = colon > 0 && (calls.get(head.slice(0, colon)) ?? 0) > 1;
  const module = named ? head.slice(0, colon) : head;
  const call = named ? Number(head.slice(colon + 1)) : 1;
  if (!calls.has(module) || path.some((p) => !Number.isInteger(p))) return undefined;
  return { value, module, call, kind, path };
}

function parentOf(name: string, known: ReadonlySet<string>): string | undefined {
  for (let dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) {
    if (known.has(name.slice(0, dot))) return name.slice(0, dot);
  }
  return undefined;
}

const byPath = (a: Mark, b: Mark) => {
  for (let i = 0; i < Math.min(a.path.length, b.path.length); i++)
    if (a.path[i] !== b.path[i]) return a.path[i] - b.path[i];
  return a.path.length - b.path.length;
};

function buildCall(index: GraphIndex, k: number, marks: readonly Mark[], scoped: ModuleCall | undefined): ModuleCall {
  const outs = marks.filter((m) => m.kind === 'out').sort(byPath);
  const ins = marks.filter((m) => m.kind === 'in').sort(byPath);
  const markNodes = marks.map((m) => index.producer.get(m.value)!);
  const first = Math.min(...markNodes);
  const last = Math.max(...markNodes);
  const range = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  return {
    index: k,
    nodes: scoped?.nodes.length ? scoped.nodes : range,
    inputs: ins.map((m) => m.value),
    inputPaths: ins.map((m) => m.path),
    outputs: outs.map((m) => m.value),
    outputPaths: outs.map((m) => m.path),
    // `#0` alone (a 1-tuple, a 1-entry dict, `(out, None)`): the markers say it is a container.
    container: outs.some((m) => m.path.length > 0),
    opaqueInputs: [],
    unobservableOutputs: [],
    context: index.context[last] ?? [],
  };
}

/** The module map the markers define, or undefined when the model carries no `neurotap.export` metadata. */
export function moduleMapFromExport(
  index: GraphIndex,
  scoped: ModuleMap,
  props: readonly StringStringEntryProto[] = [],
): ModuleMap | undefined {
  const meta = readMetadata(props);
  if (!meta) return undefined;
  const calls = new Map(meta.modules.map((m) => [m.name, m.calls]));
  const marks = meta.marks
    .filter((m) => index.producer.has(m.value))
    .map((m) => parseMark(m.value, m.key, calls))
    .filter((m): m is Mark => m !== undefined);
  const known = new Set(calls.keys());
  const firstMark = new Map<string, number>();
  for (const m of marks)
    firstMark.set(m.module, Math.min(firstMark.get(m.module) ?? Infinity, index.producer.get(m.value)!));
  const order = [...meta.modules].sort(
    (a, b) => (firstMark.get(a.name) ?? Infinity) - (firstMark.get(b.name) ?? Infinity),
  );
  const modules = new Map<string, ModuleInfo>();
  for (const row of order) {
    const own = marks.filter((m) => m.module === row.name);
    const callList = Array.from({ length: row.calls }, (_, i) => i + 1)
      .map((k) => ({ k, marks: own.filter((m) => m.call === k) }))
      .filter((c) => c.marks.length > 0)
      .map((c) => buildCall(index, c.k, c.marks, scoped.get(row.name)?.calls[c.k - 1]));
    const ops = new Set(callList.flatMap((c) => c.nodes.map((n) => index.nodes[n].opType ?? '')));
    ops.delete('Identity');
    modules.set(row.name, {
      name: row.name,
      type: row.type,
      typeSource: 'export',
      ops: [...ops],
      parent: parentOf(row.name, known),
      children: [],
      calls: callList,
      ...(row.calls === 0
        ? {
            notObservable: {
              reason: 'not called when the model was exported: no forward hook of it fired',
              hint: 'Its parent may use its weights directly (as nn.MultiheadAttention uses out_proj).',
            },
          }
        : {}),
    });
  }
  for (const info of modules.values())
    if (info.parent !== undefined) modules.get(info.parent)?.children.push(info.name);
  const list = [...modules.values()];
  const noTrace = list.filter((m) => m.calls.length === 0).length;
  const evidence = { fromSource: list.length - noTrace, byParameterPath: 0, noTrace };
  return { source: 'neurotap-export', evidence, modules: list, get: (name) => modules.get(name) };
}
