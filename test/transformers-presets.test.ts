/**
 * The `hidden_states` and `attentions` presets against Hugging Face's own convention: the tiny GPT-2
 * and BERT of scripts/fixtures_transformers.py, whose hf_outputs.npz holds what
 * `output_hidden_states=True` / `output_attentions=True` return, on the unfused export and on ONNX
 * Runtime's optimised variants (scripts/optimize-fixtures.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { parseNpz } from '../src/formats/npz.js';
import { attentionRecipe } from '../src/graph/derive.js';
import { indexGraph } from '../src/graph/graph-index.js';
import { buildCaptureGraph, requestKey } from '../src/graph/rewrite.js';
import { selectTargets } from '../src/capture/select.js';
import { buildModuleMap } from '../src/modules/module-map.js';
import { loadModel } from '../src/node/index.js';
import { decodeModel, encodeModel } from '../src/onnx/codec.js';
import { cli } from './helpers/dataset.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

const LAYERS = 2;
const SHAPES = {
  'hf-gpt2': { hidden: [2, 8, 32], attention: [2, 4, 8, 8] },
  'hf-bert': { hidden: [2, 8, 32], attention: [2, 4, 8, 8] },
};
const VARIANTS = ['model.onnx', 'model.ort.onnx', 'model.static.ort.onnx', 'model.fused-attention.onnx'];
function hfOutputs(name: string) {
  return parseNpz(new Uint8Array(readFileSync(join(FIXTURES, name, 'hf_outputs.npz'))));
}

const expectedKeys = (preset: string, n: number) => Array.from({ length: n }, (_, i) => `${preset}.${i}`);

describe('hidden_states and attentions presets', () => {
  for (const name of ['hf-gpt2', 'hf-bert'] as const) {
    const fx = fixture(name);
    const hf = hfOutputs(name);
    for (const variant of VARIANTS.filter((v) => existsSync(join(FIXTURES, name, v)))) {
      it(`${name}/${variant}: every hidden state and attention equals HF's`, async () => {
        const model = await loadModel(join(FIXTURES, name, variant));
        const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['hidden_states', 'attentions'] });
        const keys = [...expectedKeys('hidden_states', LAYERS + 1), ...expectedKeys('attentions', LAYERS)];
        const reported = keys.filter((k) => acts.whyNotObservable(k));
        assert.deepEqual([...acts.keys()].sort(), keys.filter((k) => !reported.includes(k)).sort());
        for (const key of keys) {
          const actual = acts.get(key);
          if (!actual) continue;
          const shape = key.startsWith('hidden') ? SHAPES[name].hidden : SHAPES[name].attention;
          assert.deepEqual(actual.dims, shape, `${key} shape`);
          assert.equal(mismatch(actual, hf.get(key)!), undefined, `${variant}: ${key} differs from HF`);
          // Only a fused Attention's probabilities are recomputed; everything else is read from the graph.
          const fused = variant === 'model.fused-attention.onnx' && key.startsWith('attentions');
          assert.equal(acts.recomputed(key) !== undefined, fused, `${variant}: ${key} recomputed`);
        }
        const why = (k: string) => acts.whyNotObservable(k)?.reason ?? '';
        assert.deepEqual(reported, [], `${variant}: reported ${reported.map((k) => `${k} (${why(k)})`)}`);
        await model.release();
      });
    }
  }

  it('the padded keys of BERT get probability 0, and every row sums to 1', async () => {
    const fx = fixture('hf-bert');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'attentions' });
    const probs = acts.get('attentions.1')!;
    const data = probs.data as Float32Array;
    // Sequence 1 has 5 real tokens of 8: keys 5..7 are masked for every head and query.
    for (let h = 0; h < 4; h++)
      for (let q = 0; q < 8; q++) {
        const row = data.subarray(((1 * 4 + h) * 8 + q) * 8, ((1 * 4 + h) * 8 + q + 1) * 8);
        assert.ok(row.subarray(5).every((p) => p === 0));
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      }
    await model.release();
  });

  it('a model without a block list is a typed error saying what was looked for', async () => {
    // MCUNet's `blocks.{i}` is a CNN's list, not one of HF's block lists.
    const mcunet = await loadModel(join(FIXTURES, 'real-models', 'mcunet-2species.onnx'));
    assert.throws(
      () => mcunet.plan({ layers: 'attentions' }),
      (e: Error & { code?: string }) => e.code === 'E_NOT_A_TRANSFORMER' && /blocks\.0/.test(e.message),
    );
    const model = await loadModel(fixture('seed-cnn').path);
    await assert.rejects(
      model.capture(Object.fromEntries(fixture('seed-cnn').inputs), { layers: 'hidden_states' }),
      (e: Error & { code?: string }) =>
        e.code === 'E_NOT_A_TRANSFORMER' && /transformer\.h\.\{i\}/.test(e.message) && /encoder\.layer/.test(e.message),
    );
    await model.release();
  });

  it('mixes with module names: a block output is both its module key and its hidden state', async () => {
    const fx = fixture('hf-gpt2');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['transformer.h.0', 'hidden_states'] });
    assert.deepEqual(acts.get('transformer.h.0')!.data, acts.get('hidden_states.1')!.data);
    assert.equal(mismatch(acts.get('transformer.h.0')!, fx.golden.get('transformer.h.0')!), undefined);
    await model.release();
  });

  it("recomputes a fused Attention's probabilities beside it (real ORT-fused GPT-2, causal, padded, empty past)", async () => {
    const dir = join(FIXTURES, 'hf-gpt2-ort-fused');
    const hf = hfOutputs('hf-gpt2-ort-fused');
    const inputs = parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz'))));
    const proto = decodeModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
    const requests = [0, 1, 2, 3, 4].map((i) => {
      const anchor = `GptAttention_${i}_output`;
      return { value: anchor, reduce: 'none' as const, derive: { kind: 'attention-probs' as const, anchor } };
    });
    const graph = buildCaptureGraph(proto, indexGraph(proto.graph!), requests, true);
    const session = await ort.InferenceSession.create(encodeModel(graph.model));
    const feeds = Object.fromEntries(
      [...inputs].map(([k, v]) => [k, new ort.Tensor(v.type as 'float32', v.data as Float32Array, [...v.dims])]),
    );
    const out = await session.run(feeds);
    // The torch model is this file's model: its logits are the file's.
    assert.equal(mismatch(out.logits, hf.get('logits')!), undefined);
    requests.forEach((r, i) => {
      const probs = out[graph.outputOf.get(requestKey(r))!];
      assert.deepEqual(probs.dims, [2, 4, 8, 8]);
      assert.equal(mismatch(probs, hf.get(`attentions.${i}`)!), undefined, `attentions.${i}`);
    });
    await session.release();
  });

  it('a dynamo-exported Llama with a KV cache: the hidden state is what one block computes and the next reads', () => {
    // SmolLM cut to 2 layers (fixtures/real-models/README.md); its weights are absent, so selection only.
    const proto = decodeModel(new Uint8Array(readFileSync(join(FIXTURES, 'real-models', 'smollm-2layer-dynamo.onnx'))));
    const index = indexGraph(proto.graph!);
    const map = buildModuleMap(index, proto.metadataProps ?? []);
    const plan = selectTargets(map, index, { layers: ['hidden_states', 'attentions'] });
    const value = (key: string) => plan.targets.find((t) => t.key === key)?.value;
    assert.deepEqual(plan.notObservable, []);
    assert.equal(value('hidden_states.0'), map.get('model.embed_tokens')!.calls[0].outputs[0]);
    assert.ok(map.get('model.layers.1')!.calls[0].inputs.includes(value('hidden_states.1')!));
    // The blocks return their present keys and values too: the hidden state is the one block 1 reads.
    assert.ok(map.get('model.layers.0')!.calls[0].unobservableOutputs.length > 0);
    assert.equal(value('hidden_states.2'), map.get('model.norm')!.calls[0].outputs[0]);
    for (const key of ['attentions.0', 'attentions.1'])
      assert.equal(index.nodes[index.producer.get(value(key)!)!].opType, 'Softmax');
  });

  it('the CLI: --layers hidden_states,attentions gives the keys in --json; a CNN gives E_NOT_A_TRANSFORMER', async () => {
    const gpt2 = join(FIXTURES, 'hf-gpt2');
    const run = await cli(
      'extract',
      join(gpt2, 'model.onnx'),
      '--input',
      join(gpt2, 'input.npz'),
      '--layers',
      'hidden_states,attentions',
      '--json',
    );
    assert.equal(run.code, 0, run.stderr);
    const rows = JSON.parse(run.stdout).activations as { key: string; shape: number[]; recomputed?: string }[];
    assert.deepEqual(
      rows.map((r) => [r.key, r.shape]),
      [
        ...expectedKeys('hidden_states', 3).map((k) => [k, [2, 8, 32]]),
        ...expectedKeys('attentions', 2).map((k) => [k, [2, 4, 8, 8]]),
      ],
    );
    assert.ok(rows.every((r) => r.recomputed === undefined));
    // A fused Attention's probabilities say they are recomputed, in --json and in the table.
    const bert = join(FIXTURES, 'hf-bert');
    const fusedArgs = ['extract', join(bert, 'model.fused-attention.onnx'), '--input', join(bert, 'input.npz')];
    const fused = await cli(...fusedArgs, '--layers', 'attentions', '--json');
    assert.equal(fused.code, 0, fused.stderr);
    const fusedRows = JSON.parse(fused.stdout).activations as { key: string; recomputed?: string }[];
    assert.deepEqual(
      fusedRows.map((r) => r.key),
      ['attentions.0', 'attentions.1'],
    );
    assert.ok(fusedRows.every((r) => /fused Attention/.test(r.recomputed ?? '')));
    const table = await cli(...fusedArgs, '--layers', 'attentions');
    assert.match(table.stdout, /recomputed \(not read from the graph\): attentions\.0, attentions\.1/);
    const cnn = await cli('extract', fixture('seed-cnn').path, '--random', '--layers', 'hidden_states', '--json');
    assert.equal(cnn.code, 2);
    assert.equal(JSON.parse(cnn.stdout || cnn.stderr).error.code, 'E_NOT_A_TRANSFORMER');
  });

  it('a fused Attention that cannot be recomputed exactly is reported with what it has', () => {
    const proto = decodeModel(new Uint8Array(readFileSync(join(FIXTURES, 'hf-gpt2-ort-fused', 'model.onnx'))));
    const index = indexGraph(proto.graph!);
    const node = index.nodes.find((n) => n.opType === 'Attention')!;
    assert.deepEqual(attentionRecipe(index, node), { heads: 4, hidden: 32 });
    const withAttr = (name: string, i: number) => ({
      ...node,
      attribute: [...(node.attribute ?? []), { name, type: 2, i }],
    });
    const reason = (n: typeof node) => (attentionRecipe(index, n) as { reason: string }).reason;
    assert.match(reason(withAttr('do_rotary', 1)), /rotary/);
    assert.match(reason(withAttr('past_present_share_buffer', 1)), /shared with the past/);
    assert.match(reason({ ...node, output: [node.output![0]] }), /past without a present/);
    assert.match(reason({ ...node, input: [...node.input!.slice(0, 5), 'bias4d'] }), /attention bias/);
  });

  it("optimum's DistilBERT, named from parameters only: blocks by dataflow, every key equals torch", async () => {
    const dir = join(FIXTURES, 'hf-distilbert-optimum');
    const hf = hfOutputs('hf-distilbert-optimum');
    const inputs = parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz'))));
    const model = await loadModel(join(dir, 'model.onnx'));
    const acts = await model.capture(Object.fromEntries(inputs), { layers: ['hidden_states', 'attentions'] });
    // The torch DistilBERT is this file's model: its logits are the file's.
    assert.equal(mismatch(acts.outputs.logits, hf.get('logits')!, 1e-3, 1e-7), undefined);
    const keys = [...expectedKeys('hidden_states', 3), ...expectedKeys('attentions', 2)];
    assert.deepEqual([...acts.keys()].sort(), keys.sort());
    for (const key of keys) {
      assert.deepEqual(acts.get(key)!.dims, key.startsWith('hidden') ? [2, 8, 2] : [2, 2, 8, 8], key);
      assert.equal(mismatch(acts.get(key)!, hf.get(key)!), undefined, `${key} differs from torch`);
    }
    await model.release();
  });
  it("the real ORT-fused GPT-2: hidden states from the fused norms' sums, attentions recomputed, all equal torch", async () => {
    const dir = join(FIXTURES, 'hf-gpt2-ort-fused');
    const hf = hfOutputs('hf-gpt2-ort-fused');
    const inputs = parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz'))));
    const model = await loadModel(join(dir, 'model.onnx'));
    const acts = await model.capture(Object.fromEntries(inputs), { layers: ['hidden_states', 'attentions'] });
    const keys = [...expectedKeys('hidden_states', 6), ...expectedKeys('attentions', 5)];
    assert.deepEqual([...acts.keys()].sort(), keys.sort());
    for (const key of keys) {
      assert.deepEqual(acts.get(key)!.dims, key.startsWith('hidden') ? [2, 8, 32] : [2, 4, 8, 8], key);
      assert.equal(mismatch(acts.get(key)!, hf.get(key)!), undefined, `${key} differs from torch`);
      // Only the attentions are recomputed; the hidden states are values the fused ops compute.
      assert.equal(acts.recomputed(key) !== undefined, key.startsWith('attentions'), key);
    }
    assert.match(acts.recomputed('attentions.0')!, /fused Attention/);
    await model.release();
  });

  it('a merged decoder: both If branches give the same keys, the taken one returns them', async () => {
    const fx = fixture('merged-decoder');
    const model = await loadModel(fx.path);
    const plan = model.plan({ layers: ['hidden_states', 'attentions'] });
    const keys = ['hidden_states.0', 'hidden_states.1', 'attentions.0'];
    assert.deepEqual(plan.targets.map((t) => t.key).sort(), [...keys, ...keys].sort());
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['hidden_states', 'attentions'] });
    assert.deepEqual([...acts.keys()].sort(), [...keys].sort());
    assert.deepEqual(acts.notObservable, []);
    assert.equal(mismatch(acts.get('hidden_states.0')!, fx.golden.get('embed_tokens')!), undefined);
    assert.equal(mismatch(acts.get('hidden_states.1')!, fx.golden.get('norm')!), undefined);
    await model.release();
  });

  it("re-opens a SkipLayerNormalization's unnamed sum output (3) in the capture graph: the block output torch saw", async () => {
    // In the static-shape ORT variant, transformer.h.1's residual add and ln_f are one SkipLayerNormalization.
    const fx = fixture('hf-gpt2');
    const proto = decodeModel(new Uint8Array(readFileSync(join(FIXTURES, 'hf-gpt2', 'model.static.ort.onnx'))));
    const node = proto.graph!.node!.find((n) => n.opType === 'SkipLayerNormalization')!;
    assert.equal(node.output?.[3] ?? '', '');
    const request = {
      value: node.output![0],
      reduce: 'none' as const,
      derive: { kind: 'optional-output' as const, anchor: node.output![0], output: 3 },
    };
    const graph = buildCaptureGraph(proto, indexGraph(proto.graph!), [request], true);
    const session = await ort.InferenceSession.create(encodeModel(graph.model));
    const ids = fx.inputs.get('input_ids')!;
    const out = await session.run({ input_ids: new ort.Tensor('int64', ids.data as BigInt64Array, [...ids.dims]) });
    const sum = out[graph.outputOf.get(requestKey(request))!];
    assert.equal(mismatch(sum, fx.golden.get('transformer.h.1')!), undefined);
    await session.release();
  });
});
