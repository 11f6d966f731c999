/**
 * The logit lens's head: the model's final norm and LM head, found in the module map (or, where
 * ONNX Runtime fused the norm into another scope's node, by the norm's weight), and the nodes
 * that compute the logits from the residual stream and weights alone.
 *
 * ```ts
 * findLensHead(map, index); // { norm: 'transformer.ln_f', head: 'lm_head', stream: '/transformer/h.1/Add_1_output_0', … }
 * ```
 */
import { NeurotapError } from '../errors.js';
import type { GraphIndex } from '../graph/graph-index.js';
import type { ModuleInfo, ModuleMap } from '../modules/module-map.js';

export interface LensHead {
  /** The final norm's module name (`transformer.ln_f`, `model.norm`). */
  readonly norm: string;
  /** The LM head's module name (`lm_head`). */
  readonly head: string;
  /** The value entering the final norm (the last block's output); undefined where a fused node computes it inside. */
  readonly stream: string | undefined;
  /**
   * A final norm fused with the last residual add (SkipLayerNormalization): its node and the two
   * values it adds. The lens runs that node on them for the last state, and the plain norm on the others.
   */
  readonly skip?: { readonly node: number; readonly inputs: readonly [string, string] };
  /** The final norm's output (GPT-2's HF `hidden_states[L]`, ln_f applied). */
  readonly normed: string;
  /** The LM head's output: the logits. */
  readonly logits: string;
  /** The nodes computing `logits` from `stream` (or, with `skip`, from `normed`), in graph order. */
  readonly nodes: readonly number[];
}

const HEAD_NAME = /(^|\.)(lm_head|embed_out)$/;
const NORM_NAME = /(^|\.)(ln_f|norm|final_layer_norm|final_layernorm|final_norm|norm_f|ln_out)$/;
/** ONNX Runtime's norm ops and the input holding the scale (the module's `weight`). */
export const NORM_OPS: Readonly<Record<string, number>> = {
  LayerNormalization: 1,
  SimplifiedLayerNormalization: 1,
  SkipLayerNormalization: 2,
  SkipSimplifiedLayerNormalization: 2,
};

/** The final norm and LM head; E_NO_LM_HEAD naming what is missing when the model has none. */
export function findLensHead(map: ModuleMap, index: GraphIndex): LensHead {
  const head = findHead(map, index);
  const normed = head.calls[0].inputs[0];
  const logits = head.calls[0].outputs[0];
  const at = index.producer.get(normed);
  const node = at === undefined ? undefined : index.nodes[at];
  const norm = normModule(map, index, normed, node?.opType);
  if (node && at !== undefined && /^Skip/.test(node.opType ?? '')) {
    const [a, b] = node.input ?? [];
    const skip = { node: at, inputs: [a, b] as const };
    return { norm, head: head.name, stream: undefined, skip, normed, logits, nodes: tailNodes(index, normed, logits) };
  }
  const info = map.get(norm);
  // A norm the map traced reads the stream as its call's input; a fused single node reads it as input 0.
  const stream = info?.calls.length === 1 && info.calls[0].inputs.length ? info.calls[0].inputs[0] : node?.input?.[0];
  if (stream === undefined) throw noHead(`the final norm '${norm}' reads no value`, map);
  return { norm, head: head.name, stream, normed, logits, nodes: tailNodes(index, stream, logits) };
}

/** The module whose output the head reads, if a norm; else the norm whose weight that norm node reads. */
function normModule(map: ModuleMap, index: GraphIndex, normed: string, op: string | undefined): string {
  // The value may be the output of the norm's parents too (GPT2Model returns ln_f's output): take the norm.
  const producers = map.modules.filter((m) => m.calls.some((c) => c.outputs.includes(normed)));
  const traced = producers.find((m) => NORM_NAME.test(m.name) || /norm/i.test(m.type));
  // A fused node carries the scope of a neighbour (the last block's residual add): its scale names the norm.
  if (traced && !/^Skip/.test(op ?? '')) return traced.name;
  const scale = op && NORM_OPS[op] !== undefined ? index.nodes[index.producer.get(normed)!].input?.[NORM_OPS[op]] : '';
  const byWeight = map.modules.find((m) => scale === `${m.name}.weight` && NORM_NAME.test(m.name)) ?? traced;
  if (byWeight) return byWeight.name;
  const read = producers.length ? producers.map((m) => `'${m.name}' (${m.type})`).join(', ') : `'${normed}'`;
  throw noHead(
    `the LM head reads ${read}${op ? ` from a ${op} node` : ''}, not a final norm${scale ? ` (its scale '${scale}' is no final norm's weight)` : ''}`,
    map,
  );
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
  const repeated = map.modules.find((m) => HEAD_NAME.test(m.name) && m.calls.length > 1);
  if (repeated)
    throw new NeurotapError(
      'E_NO_LM_HEAD',
      `The logit lens needs an LM head called once; '${repeated.name}' has ${repeated.calls.length} call sites (the If branches of a merged decoder each hold one).`,
      {
        hint: 'Run the lens on the export without the merged If (decoder_model.onnx rather than decoder_model_merged.onnx), whose head is in the main graph.',
      },
    );
  throw noHead(
    named.length > 1
      ? `${named.map((m) => `'${m.name}'`).join(' and ')} both look like an LM head`
      : 'no module named lm_head (or embed_out), and no Linear module returns a model output',
    map,
  );
}

/** The nodes computing `logits` from `from` and weights alone; E_NO_LM_HEAD when they read anything else. */
function tailNodes(index: GraphIndex, from: string, logits: string): number[] {
  const nodes = new Set<number>();
  const stack = [logits];
  while (stack.length) {
    const value = stack.pop()!;
    if (value === from || index.initializers.has(value)) continue;
    const p = index.producer.get(value);
    if (p !== undefined && index.context[p].length > 0)
      throw new NeurotapError(
        'E_NO_LM_HEAD',
        `The final norm and LM head run inside an If branch or loop body ('${value}'), so they cannot run alone.`,
        {
          hint: "A merged decoder (decoder_model_merged.onnx) holds the model in its If's branches; run the lens on decoder_model.onnx (the export without the past), whose head is in the main graph.",
        },
      );
    if (p === undefined) {
      throw new NeurotapError(
        'E_NO_LM_HEAD',
        `The final norm and LM head read '${value}' besides the residual stream '${from}', so they cannot run alone.`,
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
