/**
 * The logit lens's head: the model's final norm and LM head, found in the module map, and the
 * graph that runs them alone on any residual-stream value (the model's graph cut at the final
 * norm's input). Softmax and top-k run in that graph too, so only k values per position leave it.
 *
 * ```ts
 * const head = findLensHead(map, index);  // { norm: 'transformer.ln_f', head: 'lm_head', stream: '/transformer/h.1/Add_1_output_0', … }
 * const tail = lensGraph(model, index, head, { rank: 3, top: 5 });
 * ```
 */
import { NeurotapError } from '../errors.js';
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo, ModuleMap } from '../modules/module-map.js';
import { AttributeType, DataType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/types.js';

export interface LensHead {
  /** The final norm's module name (`transformer.ln_f`, `model.norm`). */
  readonly norm: string;
  /** The LM head's module name (`lm_head`). */
  readonly head: string;
  /** The value entering the final norm: the residual stream after the last block. */
  readonly stream: string;
  /** The final norm's output (GPT-2's HF `hidden_states[L]`, ln_f applied). */
  readonly normed: string;
  /** The LM head's output: the logits. */
  readonly logits: string;
  /** The nodes from `stream` to `logits`, in graph order. */
  readonly nodes: readonly number[];
}

export const LENS_OUTPUTS = {
  probs: 'neurotap::lens::top_p',
  ids: 'neurotap::lens::top_id',
  logits: 'neurotap::lens::logits',
};
export const LENS_INPUT = 'neurotap::lens::hidden';

const HEAD_NAME = /(^|\.)(lm_head|embed_out)$/;
const NORM_NAME = /(^|\.)(ln_f|norm|final_layer_norm|final_layernorm|final_norm|ln_out)$/;

/** The final norm and LM head; E_NO_LM_HEAD naming what is missing when the model has none. */
export function findLensHead(map: ModuleMap, index: GraphIndex): LensHead {
  const head = findHead(map, index);
  const call = head.calls[0];
  const input = call.inputs[0];
  // The value may be the output of the norm's parents too (GPT2Model returns ln_f's output): take the norm.
  const producers = map.modules.filter((m) => m.calls.some((c) => c.outputs.includes(input)));
  const norm = producers.find((m) => NORM_NAME.test(m.name) || /norm/i.test(m.type));
  if (!norm)
    throw noHead(
      `the LM head '${head.name}' reads ${producers.length ? producers.map((m) => `'${m.name}' (${m.type})`).join(', ') : `'${input}'`}, not a final norm`,
      map,
    );
  if (norm.calls.length !== 1 || norm.calls[0].inputs.length === 0)
    throw noHead(`the final norm '${norm.name}' is called ${norm.calls.length} times or reads no value`, map);
  const stream = norm.calls[0].inputs[0];
  const logits = call.outputs[0];
  const nodes = tailNodes(index, stream, logits);
  return { norm: norm.name, head: head.name, stream, normed: input, logits, nodes };
}

function findHead(map: ModuleMap, index: GraphIndex): ModuleInfo {
  const outputs = new Set(index.outputs);
  const once = (m: ModuleInfo) =>
    m.calls.length === 1 && m.calls[0].inputs.length > 0 && m.calls[0].outputs.length === 1;
  const named = map.modules.filter((m) => HEAD_NAME.test(m.name) && once(m));
  if (named.length === 1) return named[0];
  // Unnamed: the Linear whose output is the model's output (a head called once, reading one value).
  const linear = map.modules.filter((m) => /^Linear/.test(m.type) && once(m) && outputs.has(m.calls[0].outputs[0]));
  if (linear.length === 1) return linear[0];
  throw noHead(
    named.length > 1
      ? `${named.map((m) => `'${m.name}'`).join(' and ')} both look like an LM head`
      : 'no module named lm_head (or embed_out), and no Linear module returns a model output',
    map,
  );
}

/** The nodes computing `logits` from `stream` and weights alone; E_NO_LM_HEAD when they read anything else. */
function tailNodes(index: GraphIndex, stream: string, logits: string): number[] {
  const nodes = new Set<number>();
  const stack = [logits];
  while (stack.length) {
    const value = stack.pop()!;
    if (value === stream || index.initializers.has(value)) continue;
    const p = index.producer.get(value);
    if (p === undefined || index.context[p].length > 0) {
      throw new NeurotapError(
        'E_NO_LM_HEAD',
        `The final norm and LM head read '${value}' besides the residual stream '${stream}', so they cannot run alone.`,
        {
          hint: 'The logit lens needs a head computed from the last hidden state and weights only; capture the hidden states (layers: hidden_states) and apply the head yourself.',
        },
      );
    }
    if (nodes.has(p)) continue;
    nodes.add(p);
    stack.push(...index.reads[p]);
  }
  return [...nodes].sort((a, b) => a - b);
}

function noHead(why: string, map: ModuleMap): NeurotapError {
  const norms = map.modules.filter((m) => /norm/i.test(m.type)).map((m) => m.name);
  return new NeurotapError('E_NO_LM_HEAD', `The logit lens finds no final norm + LM head: ${why}.`, {
    hint: `The lens runs on causal language models whose LM head (lm_head) reads the final norm (ln_f, norm); see \`neurotap layers MODEL\`${norms.length ? ` (norms here: ${norms.slice(-3).join(', ')})` : ''}.`,
  });
}

export interface LensGraphOptions {
  /** Rank of the hidden states fed (3 for [batch, seq, hidden]). */
  readonly rank: number;
  /** ONNX element type of the hidden states fed (the captured tensors' type). */
  readonly elemType: number;
  readonly top: number;
  /** Also return the float32 logits. */
  readonly logits?: boolean;
}

/**
 * The head alone: input LENS_INPUT (any leading sizes, so every hidden state goes through in one
 * run, stacked on axis 0), outputs the top-k softmax probabilities and their token ids.
 */
export function lensGraph(model: ModelProto, index: GraphIndex, head: LensHead, options: LensGraphOptions): ModelProto {
  const graph = model.graph ?? {};
  const rename = (v: string) => (v === head.stream ? LENS_INPUT : v);
  const nodes: NodeProto[] = head.nodes.map((i) => ({
    ...index.nodes[i],
    input: (index.nodes[i].input ?? []).map(rename),
  }));
  const axis = options.rank - 1;
  const k: TensorProto = { name: 'neurotap::lens::k', dataType: DataType.INT64, dims: [1], int64Data: [options.top] };
  nodes.push(
    node('Cast', [head.logits], [LENS_OUTPUTS.logits], { to: DataType.FLOAT }),
    node('Softmax', [LENS_OUTPUTS.logits], ['neurotap::lens::p'], { axis }),
    node('TopK', ['neurotap::lens::p', k.name!], [LENS_OUTPUTS.probs, LENS_OUTPUTS.ids], { axis }),
  );
  const reads = new Set(nodes.flatMap((n) => n.input ?? []));
  const dims = Array.from({ length: options.rank }, (_, d) => ({ dimParam: `lens_d${d}` }));
  const output = (name: string, type: number) => ({ name, type: { tensorType: { elemType: type } } });
  return {
    ...model,
    graph: {
      name: 'neurotap-lens',
      node: nodes,
      initializer: [...(graph.initializer ?? []).filter((t) => reads.has(t.name ?? '')), k],
      input: [{ name: LENS_INPUT, type: { tensorType: { elemType: options.elemType, shape: { dim: dims } } } }],
      output: [
        output(LENS_OUTPUTS.probs, DataType.FLOAT),
        output(LENS_OUTPUTS.ids, DataType.INT64),
        ...(options.logits ? [output(LENS_OUTPUTS.logits, DataType.FLOAT)] : []),
      ],
    },
  };
}

function node(opType: string, input: string[], output: string[], ints: Record<string, number>): NodeProto {
  const attribute = Object.entries(ints).map(([name, i]) => ({ name, type: AttributeType.INT, i }));
  return { opType, name: `neurotap::lens::${opType}`, input, output, attribute };
}
