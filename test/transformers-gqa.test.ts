/**
 * `attentions` through ONNX Runtime's `GroupQueryAttention` (com.microsoft): the tiny Llama of
 * scripts/fixtures_transformers_gqa.py (rotary, 4 query heads over 2 key/value heads), whose
 * hf_outputs*.npz hold what torch's eager attention computes, on the unfused export and on the
 * hand-fused GQA variants (separate and packed QKV, a local window against torch's sliding window),
 * on a prompt, a right-padded prompt and a cached step.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Feeds } from '../src/capture/feeds.js';
import { parseNpz } from '../src/formats/npz.js';
import { gqaRecipe } from '../src/graph/derive-gqa.js';
import { indexGraph } from '../src/graph/graph-index.js';
import { loadModel } from '../src/node/index.js';
import { decodeModel, encodeModel } from '../src/onnx/codec.js';
import type { NodeProto } from '../src/onnx/types.js';
import { FIXTURES, mismatch } from './helpers/fixtures.js';

const DIR = join(FIXTURES, 'hf-llama-gqa');
const npz = (file: string) => parseNpz(new Uint8Array(readFileSync(join(DIR, file))));
const hf = npz('hf_outputs.npz');
const step = npz('hf_outputs_step.npz');
const KEYS = ['attentions.0', 'attentions.1', 'hidden_states.0', 'hidden_states.1', 'hidden_states.2'];
const ids = npz('input.npz').get('input_ids')!;
const ones = (n: number, dims: number[]) => ({ data: new BigInt64Array(n).fill(1n), dims });
const windowed = npz('hf_outputs_window.npz');
const capped = npz('hf_outputs_softcap.npz');
/** Torch's outputs for each fused file: the prompt's and the 7-token run's (whose last row is the cached step). */
const TORCH = {
  'model.gqa.onnx': { prompt: (k: string) => hf.get(k)!, step: (k: string) => step.get(k)! },
  'model.gqa-packed.onnx': { prompt: (k: string) => hf.get(k)!, step: (k: string) => step.get(k)! },
  // local_window_size 3 against Mistral's sliding_window 3 (the same weights).
  'model.gqa-window.onnx': {
    prompt: (k: string) => windowed.get(`prompt.${k}`)!,
    step: (k: string) => windowed.get(`step.${k}`)!,
  },
  // softcap 0.5 against Gemma 2's attn_logit_softcapping 0.5.
  'model.gqa-softcap.onnx': {
    prompt: (k: string) => capped.get(`prompt.${k}`)!,
    step: (k: string) => capped.get(`step.${k}`)!,
  },
};

/** The fused files' feeds: the prompt, its mask, empty caches [batch, kv_heads, 0, head]. */
function promptFeeds(mask = ones(12, [2, 6])): Feeds {
  const feeds: Feeds = { input_ids: ids, attention_mask: mask };
  const empty = { data: new Float32Array(0), dims: [2, 2, 0, 16] };
  for (const i of [0, 1]) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = empty;
  return feeds;
}

/** Element [b, h, q, k] of a [2, 4, Q, K] probability tensor. */
const at = (t: { data: unknown; dims: readonly number[] }, b: number, h: number, q: number, k: number) =>
  (t.data as Float32Array)[((b * 4 + h) * t.dims[2] + q) * t.dims[3] + k];

/** A model file's graph and its first GroupQueryAttention node. */
function firstGqa(path: string) {
  const proto = decodeModel(new Uint8Array(readFileSync(path)));
  const index = indexGraph(proto.graph!);
  return { proto, index, node: index.nodes.find((n) => n.opType === 'GroupQueryAttention')! };
}

describe('attentions through GroupQueryAttention', () => {
  it('the unfused export reads every hidden state and attention off the graph, equal to torch', async () => {
    const model = await loadModel(join(DIR, 'model.onnx'));
    const acts = await model.capture({ input_ids: ids }, { layers: ['hidden_states', 'attentions'] });
    assert.deepEqual([...acts.keys()].sort(), KEYS);
    for (const key of KEYS) {
      assert.equal(mismatch(acts.get(key)!, hf.get(key)!), undefined, key);
      assert.equal(acts.recomputed(key), undefined);
    }
    await model.release();
  });

  for (const [file, torch] of Object.entries(TORCH)) {
    it(`${file}: the probabilities are recomputed from the op's inputs and equal torch's`, async () => {
      const model = await loadModel(join(DIR, file));
      const feeds = promptFeeds();
      const plain = await model.run(feeds);
      // The fused file computes the torch model: its logits are torch's.
      assert.equal(mismatch(plain.logits, torch.prompt('logits'), 1e-4, 1e-5), undefined);
      const acts = await model.capture(feeds, { layers: ['hidden_states', 'attentions'] });
      assert.deepEqual([...acts.keys()].sort(), KEYS);
      for (const key of KEYS) {
        assert.deepEqual(acts.get(key)!.dims, key.startsWith('hidden') ? [2, 6, 32] : [2, 4, 6, 6]);
        assert.equal(mismatch(acts.get(key)!, torch.prompt(key), 1e-4, 1e-6), undefined, key);
        assert.equal(/GroupQueryAttention.*rotated/.test(acts.recomputed(key) ?? ''), key.startsWith('attentions'));
      }
      // Capturing changes nothing the model returns.
      for (const name of Object.keys(plain)) assert.deepEqual(acts.outputs[name].data, plain[name].data, name);

      // A cached step: one new token per sequence after the prompt's present keys and values.
      const all = step.get('input_ids')!.data as BigInt64Array;
      const next: Feeds = { input_ids: { data: BigInt64Array.from([all[6], all[13]]), dims: [2, 1] } };
      next.attention_mask = ones(14, [2, 7]);
      for (const i of [0, 1])
        for (const kv of ['key', 'value']) next[`past_key_values.${i}.${kv}`] = plain[`present.${i}.${kv}`];
      const cached = await model.capture(next, { layers: 'attentions' });
      for (const key of ['attentions.0', 'attentions.1']) {
        const got = cached.get(key)!;
        assert.deepEqual(got.dims, [2, 4, 1, 7]);
        // HF's probabilities of the 7-token run, query row 6, are this step's.
        for (let b = 0; b < 2; b++)
          for (let h = 0; h < 4; h++)
            for (let k = 0; k < 7; k++) {
              const want = at(torch.step(key), b, h, 6, k);
              assert.ok(Math.abs(at(got, b, h, 0, k) - want) < 1e-6 + 1e-4 * want, `${key} [${b},${h},0,${k}]`);
            }
      }
      await model.release();
    });
  }

  it('a right-padded sequence: its real rows equal torch, its padding keys get 0', async () => {
    const model = await loadModel(join(DIR, 'model.gqa.onnx'));
    const mask = ones(12, [2, 6]);
    mask.data.fill(0n, 10); // sequence 1 holds 4 tokens of 6
    const acts = await model.capture(promptFeeds(mask), { layers: 'attentions' });
    for (const key of ['attentions.0', 'attentions.1']) {
      const got = acts.get(key)!;
      const want = hf.get(key)!;
      // Causal: the first 4 queries never saw tokens 4 and 5, so they equal the unpadded run's.
      for (let h = 0; h < 4; h++)
        for (let q = 0; q < 6; q++)
          for (let k = 0; k < 6; k++) {
            if (q < 4)
              assert.ok(Math.abs(at(got, 1, h, q, k) - at(want, 1, h, q, k)) < 1e-6, `${key} [1,${h},${q},${k}]`);
            if (k >= 4) assert.equal(at(got, 1, h, q, k), 0);
          }
    }
    await model.release();
  });

  it('forms it does not recompute are reported with what they have', async () => {
    const { proto, index, node } = firstGqa(join(DIR, 'model.gqa.onnx'));
    assert.deepEqual(gqaRecipe(index, node), {
      heads: 4,
      kvHeads: 2,
      headSize: 16,
      packed: false,
      rotary: true,
      window: -1,
      softcap: 0,
    });
    const withAttr = (name: string, value: { i?: number; f?: number }): NodeProto => ({
      ...node,
      attribute: [...(node.attribute ?? []), { name, type: value.f === undefined ? 2 : 1, ...value }],
    });
    const reason = (n: NodeProto) => (gqaRecipe(index, n) as { reason: string }).reason;
    assert.match(reason(withAttr('softcap', { f: -1 })), /negative softcap/);
    assert.match(reason(withAttr('rotary_interleaved', { i: 1 })), /interleaved rotary/);
    assert.match(reason(withAttr('smooth_softmax', { i: 1 })), /smooth_softmax/);
    assert.match(reason({ ...node, input: [...node.input!, 'position_ids'] }), /position_ids/);
    assert.match(reason({ ...node, input: [...node.input!, '', 'bias'] }), /attention_bias/);
    assert.match(reason({ ...node, output: [node.output![0]] }), /no present_key/);

    // Through the presets: a MultiHeadAttention in the block is reported, naming the op.
    for (const n of proto.graph!.node!)
      if (n.opType === 'GroupQueryAttention' && n.name?.includes('layers.1')) n.opType = 'MultiHeadAttention';
    const model = await loadModel(encodeModel(proto));
    const plan = model.plan({ layers: 'attentions' });
    assert.deepEqual(
      plan.notObservable.map((r) => r.key),
      ['attentions.1'],
    );
    assert.match(plan.notObservable[0].reason, /fused op MultiHeadAttention, which keeps its probabilities inside/);
    await model.release();
  });

  it("model-builder's tiny Qwen names its blocks l0.*, l1.*: not HF's block list, so no preset key", async () => {
    const model = await loadModel(join(FIXTURES, 'real-models', 'qwen-tiny-gqa-fp16.onnx'));
    assert.throws(
      () => model.plan({ layers: 'attentions' }),
      (e: Error & { code?: string }) => e.code === 'E_NOT_A_TRANSFORMER',
    );
    // Its GroupQueryAttention form (no rotary, fp16, BNSH caches) is one the recompute covers.
    const { index, node } = firstGqa(join(FIXTURES, 'real-models', 'qwen-tiny-gqa-fp16.onnx'));
    assert.deepEqual(gqaRecipe(index, node), {
      heads: 4,
      kvHeads: 2,
      headSize: 16,
      packed: false,
      rotary: false,
      window: -1,
      softcap: 0,
    });
    await model.release();
  });
});
