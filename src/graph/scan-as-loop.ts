/**
 * Rewrites a Scan whose body holds an If into the equivalent Loop, in the graph neurotap maps and
 * captures (plain runs keep the model's own graph). A value computed in an If branch exists only in
 * the iterations where that branch ran; a Loop can carry the sequences that collect it
 * (thread-ragged.ts), a Scan cannot (it carries tensors only, of one shape in every iteration).
 *
 * The Loop computes exactly what the Scan does:
 * - its trip count is the scan inputs' length along their scan axis;
 * - each scan input's slice is a Gather of the whole input at the iteration (at `length - 1 - i`
 *   for a reverse direction), under the name the Scan body gave the slice;
 * - the states are the Loop's carried values, the scan outputs its per-iteration outputs, stacked
 *   along axis 0 and reversed after the loop for a reverse direction.
 * A Scan with a scan output axis other than 0 (its rank may be unknown) is left as it is, and so
 * are Scans of opset < 11 (opset 8's batched form, Gather without negative indices).
 */
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TypeProto } from '../onnx/types.js';
import { AttributeType, DataType } from '../onnx/types.js';

const INT64_MIN = -(2n ** 63n);

export function scansAsLoops(model: ModelProto): ModelProto | undefined {
  const opset = Number(model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 11 || !model.graph || !hasScanWithIf(model.graph)) return undefined;
  const names = new Set<string>();
  collectNames(model.graph, names);
  const fresh = (hint: string) => {
    let name: string;
    let k = 0;
    do name = `${hint}_neurotap_${k++}`;
    while (names.has(name));
    names.add(name);
    return name;
  };
  return { ...model, graph: rewriteGraph(model.graph, fresh) };
}

function rewriteGraph(graph: GraphProto, fresh: (hint: string) => string): GraphProto {
  const node = (graph.node ?? []).flatMap((n) => {
    const inner = withRewrittenSubgraphs(n, fresh);
    return inner.opType === 'Scan' && convertible(inner) ? scanAsLoop(inner, fresh) : [inner];
  });
  return { ...graph, node };
}

function withRewrittenSubgraphs(n: NodeProto, fresh: (hint: string) => string): NodeProto {
  if (!(n.attribute ?? []).some((a) => a.g && hasScanWithIf(a.g))) return n;
  return { ...n, attribute: n.attribute!.map((a) => (a.g ? { ...a, g: rewriteGraph(a.g, fresh) } : a)) };
}

function hasScanWithIf(graph: GraphProto): boolean {
  return (graph.node ?? []).some(
    (n) =>
      (n.opType === 'Scan' && attr(n, 'body')?.g && containsIf(attr(n, 'body')!.g!)) ||
      (n.attribute ?? []).some((a) => a.g && hasScanWithIf(a.g)),
  );
}

function containsIf(graph: GraphProto): boolean {
  return (graph.node ?? []).some((n) => n.opType === 'If' || (n.attribute ?? []).some((a) => a.g && containsIf(a.g)));
}

function convertible(scan: NodeProto): boolean {
  const body = attr(scan, 'body')?.g;
  if (!body || !containsIf(body)) return false;
  return (attr(scan, 'scan_output_axes')?.ints ?? []).every((a) => Number(a) === 0);
}

function attr(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attribute?.find((a) => a.name === name);
}

function ints(n: NodeProto, name: string, count: number): number[] {
  const given = attr(n, name)?.ints ?? [];
  return Array.from({ length: count }, (_, i) => Number(given[i] ?? 0));
}

/** The Loop (with the nodes computing its trip count and reversing its outputs) standing for `scan`. */
function scanAsLoop(scan: NodeProto, fresh: (hint: string) => string): NodeProto[] {
  const body = attr(scan, 'body')!.g!;
  const m = Number(attr(scan, 'num_scan_inputs')!.i);
  const inputs = scan.input ?? [];
  const n = inputs.length - m;
  const k = (body.output ?? []).length - n;
  const inAxes = ints(scan, 'scan_input_axes', m);
  const inDirs = ints(scan, 'scan_input_directions', m);
  const outDirs = ints(scan, 'scan_output_directions', k);
  const base = scopePrefix(scan);
  const name = (hint: string) => fresh(`${base}${hint}`);
  const make = (opType: string, input: string[], extra: Partial<NodeProto> = {}): NodeProto => {
    const out = name(opType);
    const node: NodeProto = { opType, name: out, input, output: [out], ...extra };
    return scan.metadataProps ? { ...node, metadataProps: scan.metadataProps } : node;
  };
  const before: NodeProto[] = [];
  const at = (op: NodeProto, into: NodeProto[]) => (into.push(op), op.output![0]);
  const shape = at(make('Shape', [inputs[n]]), before);
  const length = at(make('Gather', [shape, at(int64(make, [], [inAxes[0]]), before)], axis(0)), before);
  const iteration = name('iteration');
  const condIn = name('cond');
  const slices: NodeProto[] = [];
  for (let j = 0; j < m; j++) {
    let index = iteration;
    if (inDirs[j] === 1) {
      const last = at(make('Sub', [length, at(int64(make, [], [1]), slices)]), slices);
      index = at(make('Sub', [last, iteration]), slices);
    }
    const slice = body.input![n + j].name!;
    slices.push({ ...make('Gather', [inputs[n + j], index], axis(inAxes[j])), output: [slice] });
  }
  const condOut = make('Identity', [condIn]);
  const stacked = (body.output ?? [])
    .slice(n)
    .map((_, i) => (outDirs[i] === 1 ? name('stacked') : scan.output![n + i]));
  const loopBody: GraphProto = {
    ...body,
    input: [scalar(iteration, DataType.INT64), scalar(condIn, DataType.BOOL), ...(body.input ?? []).slice(0, n)],
    node: [...slices, ...(body.node ?? []), condOut],
    output: [{ name: condOut.output![0], type: scalarType(DataType.BOOL) }, ...(body.output ?? [])],
    valueInfo: [...(body.valueInfo ?? []), ...(body.input ?? []).slice(n)],
  };
  const loop: NodeProto = {
    ...scan,
    opType: 'Loop',
    input: [length, '', ...inputs.slice(0, n)],
    output: [...(scan.output ?? []).slice(0, n), ...stacked],
    attribute: [{ name: 'body', type: AttributeType.GRAPH, g: loopBody }],
  };
  const after = stacked.flatMap((s, i) => (outDirs[i] === 1 ? reversed(make, s, scan.output![n + i]) : []));
  return [...before, loop, ...after];
}

/** Reverses axis 0 of `value` into `output`: Slice from the end with step -1. */
function reversed(make: (op: string, input: string[]) => NodeProto, value: string, output: string): NodeProto[] {
  const consts = [int64(make, [1], [-1]), int64(make, [1], [INT64_MIN]), int64(make, [1], [0]), int64(make, [1], [-1])];
  const slice = { ...make('Slice', [value, ...consts.map((c) => c.output![0])]), output: [output] };
  return [...consts, slice];
}

function int64(
  make: (op: string, input: string[]) => NodeProto,
  dims: number[],
  values: (number | bigint)[],
): NodeProto {
  const node = make('Constant', []);
  const t = { name: node.output![0], dims, dataType: DataType.INT64, int64Data: values };
  return { ...node, attribute: [{ name: 'value', type: AttributeType.TENSOR, t }] };
}

function axis(i: number): Partial<NodeProto> {
  return { attribute: [{ name: 'axis', type: AttributeType.INT, i }] };
}

function scalarType(elemType: number): TypeProto {
  return { tensorType: { elemType, shape: { dim: [] } } };
}

function scalar(name: string, elemType: number) {
  return { name, type: scalarType(elemType) };
}

/** The Scan's scope in a TorchScript-style name (`/enc/Scan` → `/enc/`), so added nodes stay in its module. */
function scopePrefix(scan: NodeProto): string {
  const name = scan.name ?? '';
  const slash = name.lastIndexOf('/');
  return slash >= 0 ? name.slice(0, slash + 1) : '';
}

function collectNames(graph: GraphProto, names: Set<string>): void {
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
    names.add(v.name ?? '');
  for (const t of graph.initializer ?? []) names.add(t.name ?? '');
  for (const n of graph.node ?? []) {
    names.add(n.name ?? '');
    for (const o of n.output ?? []) names.add(o);
    for (const a of n.attribute ?? []) if (a.g) collectNames(a.g, names);
  }
}
