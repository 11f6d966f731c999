/**
 * The `hidden_states` and `attentions` presets: Hugging Face's `output_hidden_states=True` and
 * `output_attentions=True`, read off the module map of a transformer export.
 *
 * - `hidden_states.0` is the residual stream entering the first block (the embeddings' output),
 *   `hidden_states.i` the output of block i-1, and `hidden_states.L` the last block's output, or,
 *   where HF applies the final norm before returning it (GPT-2's `transformer.ln_f`, Llama's
 *   `model.norm`: a norm beside the block list), that norm's output.
 * - `attentions.i` is the softmax output inside block i: in eval mode HF's returned probabilities
 *   (the attention dropout after it is the identity; no head mask).
 *
 * Blocks are recognised by their names only (`transformer.h.{i}`, `encoder.layer.{i}`,
 * `model.layers.{i}`, ...); a model without such a list is an error naming what was looked for.
 */
import { NeurotapError } from '../errors.js';
import type { GraphIndex } from '../graph/graph-index.js';
import type { NodeProto } from '../onnx/types.js';
import type { ModuleInfo, ModuleMap } from '../modules/module-map.js';
import type { Reduction } from '../graph/rewrite.js';
import type { CaptureTarget, Selection } from './select.js';
import { attentionRecipe, type Derivation } from '../graph/derive.js';
import { gqaRecipe } from '../graph/derive-gqa.js';
import { blockExtent, embeddingsByExtent, type Extent, softmaxByExtent, streamByExtent } from './block-extent.js';
import { isFusedSum, narrowCandidates, skipSum } from './fused-stream.js';

export const TRANSFORMER_PRESETS = ['hidden_states', 'attentions'] as const;
export type TransformerPreset = (typeof TRANSFORMER_PRESETS)[number];

/**
 * Block lists of the HF architectures, by the list's name and the last part of its parent's
 * ('' at the top, as in a bare GPT2Model or LlamaModel; any prefix before the parent, `bert.`):
 * GPT-2/GPT-J/Bloom `transformer.h`, BERT/RoBERTa/ViT `encoder.layer`, DistilBERT `transformer.layer`,
 * Llama/Qwen/Mistral `model.layers`, GPT-NeoX `gpt_neox.layers`, OPT/Whisper `decoder.layers`, T5 `encoder.block`.
 */
const BLOCK_LISTS: Record<string, readonly string[]> = {
  h: ['', 'transformer'],
  layer: ['encoder', 'transformer'],
  layers: ['', 'model', 'gpt_neox', 'encoder', 'decoder', 'language_model'],
  block: ['encoder', 'decoder'],
};
/** Norms HF applies to the last hidden state: siblings of the block list (not ViT's `vit.layernorm`, beside `vit.encoder`). */
const FINAL_NORMS = ['ln_f', 'norm', 'final_layer_norm', 'norm_f', 'layer_norm', 'final_layernorm'] as const;

export function isTransformerPreset(spec: unknown): spec is TransformerPreset {
  return typeof spec === 'string' && (TRANSFORMER_PRESETS as readonly string[]).includes(spec);
}

interface Blocks {
  /** The block list's path, e.g. `transformer.h`. */
  readonly list: string;
  readonly blocks: readonly ModuleInfo[];
  readonly finalNorm: ModuleInfo | undefined;
  /** The BERT family's `embeddings` module (`bert.embeddings`, `distilbert.embeddings`), where there is one. */
  readonly embeddings: ModuleInfo | undefined;
}

/** The block list: `<parent>.<h|layer|layers|block>.{0..L-1}`, numbered without gaps from 0. */
export function findBlocks(map: ModuleMap): Blocks {
  const lists = new Map<string, ModuleInfo[]>();
  for (const info of map.modules) {
    const m = /^(.*)\.(\d+)$/.exec(info.name);
    if (!m) continue;
    const list = m[1];
    const last = list.slice(list.lastIndexOf('.') + 1);
    const parent = list.includes('.') ? list.slice(0, list.lastIndexOf('.')) : '';
    const parentLast = parent.slice(parent.lastIndexOf('.') + 1);
    if (!Object.hasOwn(BLOCK_LISTS, last) || !BLOCK_LISTS[last].includes(parentLast)) continue;
    lists.set(list, [...(lists.get(list) ?? []), info]);
  }
  const found = [...lists.entries()].filter(([list, blocks]) =>
    blocks.every((b) => b.name === `${list}.${blocks.indexOf(b)}`),
  );
  if (found.length !== 1)
    throw notATransformer(
      map,
      found.map(([list]) => list),
    );
  const [list, blocks] = found[0];
  const parent = list.includes('.') ? `${list.slice(0, list.lastIndexOf('.'))}.` : '';
  const finalNorm = FINAL_NORMS.map((n) => map.get(parent + n)).find((m) => m !== undefined);
  const embeddings = map.modules.filter((m) => /(^|\.)embeddings$/.test(m.name));
  return { list, blocks, finalNorm, embeddings: embeddings.length === 1 ? embeddings[0] : undefined };
}

function notATransformer(map: ModuleMap, lists: string[]): NeurotapError {
  const looked =
    'a block list named like transformer.h.{i}, encoder.layer.{i}, model.layers.{i}, transformer.layer.{i}, decoder.layers.{i}, encoder.block.{i}, gpt_neox.layers.{i} (any prefix), or h.{i} / layers.{i} at the top, numbered from 0';
  const given = lists.length
    ? `several block lists (${lists.join(', ')}), so which one is the model's is not certain`
    : `no such list among the ${map.modules.length} modules (${map.modules
        .slice(0, 6)
        .map((m) => m.name)
        .join(', ')}${map.modules.length > 6 ? ', ...' : ''})`;
  return new NeurotapError(
    'E_NOT_A_TRANSFORMER',
    `The presets hidden_states and attentions need ${looked}; the module map has ${given}.`,
    {
      hint: 'Capture the blocks by name or glob instead (layers: "encoder.layer.*"); model.modules() (`neurotap layers MODEL`) lists the names.',
      details: { lookedFor: looked, blockLists: lists },
    },
  );
}

type Found =
  | { value: string; module: string; derive?: Derivation; recomputed?: string }
  | { reason: string; module: string };

/** The single value leaving a module's single call, or why there is none. */
function outputOf(info: ModuleInfo): Found {
  if (info.notObservable) return { reason: info.notObservable.reason, module: info.name };
  if (info.calls.length !== 1) return { reason: `'${info.name}' runs ${info.calls.length} times`, module: info.name };
  const outs = info.calls[0].outputs;
  if (outs.length !== 1)
    return { reason: `'${info.name}' returns ${outs.length} values, not the one hidden state`, module: info.name };
  return { value: outs[0], module: info.name };
}

/** Values the nodes of a module's single call compute. */
function producedBy(index: GraphIndex, block: ModuleInfo): Set<string> {
  return new Set(block.calls[0]?.nodes.flatMap((n) => index.nodes[n].output ?? []) ?? []);
}

/** A value's declared rank, where the graph declares it. */
function rankOf(index: GraphIndex, value: string): number | undefined {
  return index.types.get(value)?.tensorType?.shape?.dim?.length;
}

/**
 * The hidden state entering block i. Past block 0: the one value block i-1 computes and block i
 * reads (a KV-cache block also returns its present keys and values, which the next block does not
 * read). Block 0: its one input that block 1 does not read too (masks and position embeddings go to
 * every block) and that is not declared with a rank other than 3 (a per-layer past cache).
 */
function residualInput(index: GraphIndex, blocks: readonly ModuleInfo[], i: number): Found {
  const block = blocks[i];
  if (block.calls.length !== 1)
    return { reason: `'${block.name}' runs ${block.calls.length} times`, module: block.name };
  const call = block.calls[0];
  let candidates: string[];
  if (i > 0) {
    const previous = producedBy(index, blocks[i - 1]);
    candidates = call.inputs.filter((v) => previous.has(v));
  } else {
    const shared = new Set(blocks[1]?.calls.flatMap((c) => c.inputs) ?? []);
    candidates = call.inputs.filter((v) => !shared.has(v) && (rankOf(index, v) ?? 3) === 3);
  }
  candidates = narrowCandidates(index, candidates);
  const sum = skipSum(index, candidates, call.nodes);
  if (sum) return { ...sum, module: block.name };
  if (candidates.length !== 1)
    return {
      reason: `'${block.name}' reads ${candidates.length} values that could be the hidden state entering it (of ${call.inputs.join(', ')})`,
      module: block.name,
    };
  // The hidden state is picked by what computes and reads it, not by its position among the inputs:
  // an input opaque only because the graph lost their order is still the value the block received,
  // and so is a fused norm's sum output (EmbedLayerNormalization's embedding sum), the stream itself.
  const why = call.opaqueReasons?.get(candidates[0]) ?? '';
  const stillTheStream = /in which order/.test(why) || isFusedSum(index, candidates[0]);
  if (call.opaqueInputs.includes(candidates[0]) && !stillTheStream)
    return { reason: why || `the export optimised across the input of '${block.name}'`, module: block.name };
  return { value: candidates[0], module: block.name };
}

/** Norm ops whose output 0 is the normalised value and whose scale names the module (input 1, or 2 for the Skip ones). */
const NORM_SCALE_INPUT: Record<string, number> = {
  LayerNormalization: 1,
  SimplifiedLayerNormalization: 1,
  SkipLayerNormalization: 2,
  SkipSimplifiedLayerNormalization: 2,
};

/**
 * A final norm the module map has no output for (ONNX Runtime fused it into a SkipLayerNormalization
 * named after another scope): the one node reading the module's `weight` parameter, a norm reading it as its scale.
 */
function normByParameter(index: GraphIndex, norm: ModuleInfo, lastBlock: ModuleInfo): Found | undefined {
  const weight = `${norm.name}.weight`;
  const readers = index.consumers.get(weight) ?? [];
  if (!index.initializers.has(weight) || readers.length !== 1) return undefined;
  const node = index.nodes[readers[0]];
  const at = NORM_SCALE_INPUT[node.opType ?? ''];
  if (at === undefined || node.input?.[at] !== weight) return undefined;
  // Like a traced norm, it must normalise what the last block computes (not, say, the embeddings).
  const produced = producedBy(index, lastBlock);
  if (!(node.input ?? []).slice(0, at).some((v) => produced.has(v))) return undefined;
  return { value: node.output![0], module: norm.name };
}

/** HF's last state: the final norm's output where HF applies one (it must read what the last block computes), else the last block's output. */
function lastState(index: GraphIndex, found: Blocks): Found {
  const { blocks, finalNorm } = found;
  const lastBlock = blocks[blocks.length - 1];
  if (!finalNorm) return outputOf(lastBlock);
  const direct = outputOf(finalNorm);
  if ('reason' in direct) return normByParameter(index, finalNorm, lastBlock) ?? direct;
  const produced = producedBy(index, lastBlock);
  if (!finalNorm.calls[0].inputs.some((v) => produced.has(v)))
    return { reason: `'${finalNorm.name}' does not read what '${lastBlock.name}' computes`, module: finalNorm.name };
  return direct;
}

function hiddenStates(index: GraphIndex, found: Blocks, extents: Extents): Found[] {
  const states: Found[] = found.blocks.map((_, i) => residualInput(index, found.blocks, i));
  states.push(lastState(index, found));
  // Where the map's blocks do not give one value, the blocks' dataflow extents may (block-extent.ts).
  return states.map((state, i) => {
    if (!('reason' in state)) return state;
    const L = found.blocks.length;
    let candidates =
      i < L
        ? narrowCandidates(index, streamByExtent(index, extents.all(), i))
        : found.finalNorm
          ? []
          : (extents.of(L - 1)?.leaves ?? []);
    if (i === 0 && candidates.length !== 1) candidates = embeddingsByExtent(index, found.embeddings, extents.of(0));
    return candidates.length === 1 ? { value: candidates[0], module: state.module } : state;
  });
}

/** Each block's dataflow extent, computed once and only when a fallback needs it. */
interface Extents {
  of(i: number): Extent | undefined;
  all(): readonly (Extent | undefined)[];
}

function lazyExtents(index: GraphIndex, blocks: readonly ModuleInfo[]): Extents {
  const cache = new Map<number, Extent | undefined>();
  const of = (i: number) => {
    if (!cache.has(i)) cache.set(i, blocks[i] && blockExtent(index, blocks[i]));
    return cache.get(i);
  };
  return { of, all: () => blocks.map((_, i) => of(i)) };
}

/** Fused attention ops: ONNX Runtime's contrib ops keep the probabilities inside. */
const FUSED_ATTENTION = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention']);

/** The Softmax inside block i (exactly one, over the last axis), or the probabilities of its fused Attention recomputed. */
function attentionProbs(index: GraphIndex, block: ModuleInfo, extent: () => Extent | undefined): Found {
  if (block.calls.length !== 1)
    return { reason: `'${block.name}' runs ${block.calls.length} times`, module: block.name };
  const nodes = block.calls[0].nodes.map((n) => index.nodes[n]);
  let softmaxes = nodes.filter((n) => n.opType === 'Softmax');
  const fused = nodes.filter((n) => FUSED_ATTENTION.has(n.opType ?? '') && n.domain === 'com.microsoft');
  if (softmaxes.length === 0 && fused.length === 1) return fusedProbs(index, block, fused[0]);
  if (softmaxes.length === 0 && fused.length === 0) {
    // A Softmax reading no parameter may sit outside the map's block while computed inside it.
    const found = softmaxByExtent(index, extent());
    if (typeof found === 'string') softmaxes = [index.nodes[index.producer.get(found)!]];
  }
  if (softmaxes.length !== 1 || fused.length > 0)
    return {
      reason: `'${block.name}' holds ${softmaxes.length} Softmax nodes${fused.length ? ` and ${fused.length} fused attention ops` : ''}, not the one of its attention`,
      module: block.name,
    };
  const node = softmaxes[0];
  const axis = node.attribute?.find((a) => a.name === 'axis')?.i;
  if (axis !== undefined && Number(axis) !== -1 && Number(axis) !== 3)
    return { reason: `the Softmax in '${block.name}' is over axis ${axis}, not the keys`, module: block.name };
  return { value: node.output![0], module: block.name };
}

function fusedProbs(index: GraphIndex, block: ModuleInfo, node: NodeProto): Found {
  const op = node.opType ?? '';
  if (op !== 'Attention' && op !== 'GroupQueryAttention')
    return {
      reason: `the attention is the fused op ${op}, which keeps its probabilities inside (recomputing them is done for Attention and GroupQueryAttention only: no golden of ours checks ${op}'s forms)`,
      module: block.name,
    };
  const recipe = op === 'Attention' ? attentionRecipe(index, node) : gqaRecipe(index, node);
  if ('reason' in recipe) return { reason: `the fused ${op} in '${block.name}': ${recipe.reason}`, module: block.name };
  const anchor = node.output![0];
  return {
    value: anchor,
    module: block.name,
    derive: { kind: 'attention-probs', anchor },
    recomputed:
      op === 'Attention'
        ? `from the fused Attention's input, packed QKV weights, mask and scale: softmax(QKᵀ·scale + mask${node.input?.[4] ? ', past keys from its present output' : ''})`
        : `from the fused GroupQueryAttention's query${'rotary' in recipe && recipe.rotary ? ' (rotated by its cos/sin caches)' : ''}, its present_key output and seqlens_k: causal softmax(QKᵀ·scale)${'window' in recipe && recipe.window > 0 ? ` in a window of ${recipe.window}` : ''}${'softcap' in recipe && recipe.softcap > 0 ? `, softcap ${recipe.softcap}` : ''} in float32`,
  };
}

/** The capture targets (and reports) of one preset; keys `hidden_states.0 … L` or `attentions.0 … L-1`. */
export function transformerSelection(
  map: ModuleMap,
  index: GraphIndex,
  preset: TransformerPreset,
  reduceFor: (name: string) => Reduction,
): Selection {
  const found = findBlocks(map);
  const selection: Selection = { targets: [], notObservable: [] };
  // A merged decoder runs every block in one of two If branches: each branch gives the same keys,
  // and only the taken one returns them (the other is reported as not called, then dropped).
  for (const site of branchSites(found)) addItems(selection, index, site, preset, reduceFor);
  return selection;
}

/** The blocks as one call site each: the model itself, or each If branch of a merged decoder. */
function branchSites(found: Blocks): Blocks[] {
  const modules = [...found.blocks, ...(found.finalNorm ? [found.finalNorm] : [])];
  const n = found.blocks[0].calls.length;
  const sameBranch = (k: number) => {
    const where = JSON.stringify(found.blocks[0].calls[k]?.context);
    return modules.every((m) => m.calls.length === n && JSON.stringify(m.calls[k].context) === where);
  };
  const branched = n > 1 && found.blocks[0].calls.every((c) => c.context.length > 0);
  if (!branched || ![...Array(n).keys()].every(sameBranch)) return [found];
  const at = (m: ModuleInfo | undefined, k: number) => m && { ...m, calls: [m.calls[k]] };
  return [...Array(n).keys()].map((k) => ({
    ...found,
    blocks: found.blocks.map((b) => at(b, k)!),
    finalNorm: at(found.finalNorm, k),
    embeddings: at(found.embeddings, k),
  }));
}

function addItems(
  selection: Selection,
  index: GraphIndex,
  found: Blocks,
  preset: TransformerPreset,
  reduceFor: (name: string) => Reduction,
): void {
  const extents = lazyExtents(index, found.blocks);
  const items =
    preset === 'hidden_states'
      ? hiddenStates(index, found, extents)
      : found.blocks.map((b, i) => attentionProbs(index, b, () => extents.of(i)));
  const siteContext = found.blocks[0].calls[0]?.context;
  items.forEach((item, i) => {
    const key = `${preset}.${i}`;
    if ('reason' in item) {
      selection.notObservable.push({
        key,
        module: key,
        reason: item.reason,
        hint: `Capture '${item.module}' and the modules inside it ("${item.module}.*"), or its values with the "values" preset.`,
      });
      return;
    }
    const target: CaptureTarget = {
      key,
      value: item.value,
      module: undefined,
      call: 1,
      kind: 'output',
      reduce: reduceFor(key),
      site: 1,
      tuple: '',
      ...(item.derive ? { derive: item.derive, recomputed: item.recomputed } : {}),
      ...(siteContext?.length ? { siteContext } : {}),
    };
    selection.targets.push(target);
  });
}
