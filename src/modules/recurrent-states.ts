/**
 * PyTorch's `h_n` (and `c_n`) of a stacked or bidirectional recurrent module whose states the model
 * never uses. The export then keeps one final state per layer op (`Y_h`, `[directions, batch,
 * hidden]`) and never concatenates them; a Concat along axis 0 of the layers' states, in layer order,
 * is exactly PyTorch's `h_n` (`[layers × directions, batch, hidden]`, layer-major, forward first, as
 * ONNX orders a bidirectional op's directions). The Concat is added to the graph neurotap maps and
 * captures (plain runs keep the model's own bytes), unread, so the module's call ends in it.
 */
import { indexGraph, type GraphIndex } from '../graph/graph-index.js';
import type { ModelProto, NodeProto } from '../onnx/types.js';
import { AttributeType } from '../onnx/types.js';
import { buildModuleMap } from './module-map.js';

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

/** The model with the assembled states, or undefined when no module needs them. */
export function assembleRecurrentStates(model: ModelProto): ModelProto | undefined {
  const graph = model.graph!;
  const index = indexGraph(graph);
  if (index.nodes.filter((n) => RECURRENT.has(n.opType ?? '') && statesUnread(index, n)).length < 2) return undefined;
  // After which node each Concat goes (the call's last layer), so the graph stays in topological order.
  const after = new Map<number, NodeProto[]>();
  for (const info of buildModuleMap(index, model.metadataProps).modules) {
    for (const call of info.calls) {
      const layers = call.nodes.filter((n) => RECURRENT.has(index.nodes[n].opType ?? ''));
      const ops = layers.map((n) => index.nodes[n]);
      if (layers.length < 2 || ops.some((op) => op.opType !== ops[0].opType || !statesUnread(index, op))) continue;
      const last = layers.at(-1)!;
      const outputs = ops[0].opType === 'LSTM' ? [1, 2] : [1];
      after.set(
        last,
        outputs.map((k) =>
          concatNode(
            index.nodes[last],
            k,
            ops.map((op) => op.output?.[k] ?? ''),
          ),
        ),
      );
    }
  }
  if (after.size === 0) return undefined;
  const node = (graph.node ?? []).flatMap((n, i) => [n, ...(after.get(i) ?? [])]);
  return { ...model, graph: { ...graph, node } };
}

/** Every state output of the op exists and nothing reads it (the model ignores h_n / c_n). */
function statesUnread(index: GraphIndex, op: NodeProto): boolean {
  const states = (op.output ?? []).slice(1, op.opType === 'LSTM' ? 3 : 2);
  if (states.length !== (op.opType === 'LSTM' ? 2 : 1)) return false;
  return states.every((v) => v && !(index.consumers.get(v) ?? []).length && !index.outputPosition.has(v));
}

/** A Concat named in the last layer's scope (and carrying its metadata), so it maps to the same module call. */
function concatNode(last: NodeProto, output: number, states: string[]): NodeProto {
  const name = last.name ?? last.output?.[0] ?? 'recurrent';
  const id = `${name}_neurotap_${output === 1 ? 'h_n' : 'c_n'}`;
  return {
    opType: 'Concat',
    name: id,
    input: states,
    output: [id],
    attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }],
    ...(last.metadataProps ? { metadataProps: last.metadataProps } : {}),
  };
}
