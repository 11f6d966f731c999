/**
 * Module names and types on the Hugging Face exports JavaScript users have (fixtures/real-models):
 * ONNX Runtime-fused GPT-2, an fp16 GroupQueryAttention decoder, optimum's DistilBERT.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { randomFeeds } from '../src/cli/random.js';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel } from '../src/node/index.js';
import { decodeModel, encodeModel } from '../src/onnx/codec.js';
import { float16ToFloat32 } from '../src/tensor-summary.js';
import { cli } from './helpers/dataset.js';
import { assertMatchesGoldens, FIXTURES, fixture, mismatch, REAL_MODELS } from './helpers/fixtures.js';

const GPT2 = join(REAL_MODELS, 'gpt2-tiny-ort-fused.onnx');

/** The reason a capture of `key` reports, or undefined when it is observable. */
function reasonOf(model: Awaited<ReturnType<typeof loadModel>>, key: string): string | undefined {
  return model.plan({ layers: [key] }).notObservable.find((u) => u.key === key)?.reason;
}

describe('ONNX Runtime-fused GPT-2 (EmbedLayerNormalization, Attention, SkipLayerNormalization, FastGelu)', () => {
  it('names each Linear after the weight only it reads, each fused LayerNorm after its output value', async () => {
    const model = await loadModel(GPT2);
    const types = new Map(model.modules().map((m) => [m.name, m.type]));
    for (let i = 0; i < 5; i++) {
      for (const linear of ['attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'])
        assert.equal(types.get(`transformer.h.${i}.${linear}`), 'Linear', `transformer.h.${i}.${linear}`);
      assert.deepEqual(
        model.module(`transformer.h.${i}`)?.children.sort(),
        [
          ...(i === 0 ? [] : [`transformer.h.${i}.ln_1`]),
          `transformer.h.${i}.attn`,
          ...(i === 0 ? [`transformer.h.0.ln_1`] : []),
          `transformer.h.${i}.mlp`,
        ].sort(),
      );
    }
    assert.deepEqual(model.module('transformer.h.0.attn')?.children, [
      'transformer.h.0.attn.c_proj',
      'transformer.h.0.attn.c_attn',
    ]);
    assert.equal(types.get('transformer.h.1.ln_1'), 'LayerNorm');
    assert.equal(types.get('transformer.h.1.attn'), 'Attention');
    assert.deepEqual(model.module('transformer.h.1.ln_1')?.calls[0].outputs, ['/transformer/h.1/ln_1/Add_1_output_0']);
    assert.deepEqual(model.module('transformer.ln_f')?.calls[0].outputs, ['/transformer/ln_f/Add_1_output_0']);
    assert.deepEqual(model.module('transformer.h.0.mlp.c_fc')?.calls[0].outputs, ['FullyConnect_MatMul_0_output']);
    assert.equal(types.get('lm_head'), 'Linear');
    for (const [name, type] of types) assert.ok(!/Add|Mul|\+|Skip/.test(type), `${name} is typed ${type}`);
  });

  it('a block whose residual sum only the next fused norm computes is reported, not given its summand', async () => {
    const model = await loadModel(GPT2);
    assert.match(reasonOf(model, 'transformer.h.4') ?? '', /residual sum.*SkipLayerNorm_AddBias_9/);
    // h.1's sum is the next norm's output 3: with the KV cache, the block returns a tuple.
    assert.match(reasonOf(model, 'transformer.h.1') ?? '', /present_1.*\/transformer\/h\.1\/Add_1_output_0/);
  });

  it('a Linear whose bias the optimiser moved into FastGelu / SkipLayerNormalization is not observable', async () => {
    const proto = decodeModel(new Uint8Array(readFileSync(GPT2)));
    for (const name of ['transformer.h.0.mlp.c_fc.bias', 'transformer.h.0.ln_1.bias']) {
      const t = proto.graph!.initializer!.find((i) => i.name === name)!;
      t.rawData = new Uint8Array(new Float32Array(t.rawData!.length / 4).fill(0.5).buffer);
    }
    const model = await loadModel(encodeModel(proto));
    assert.match(
      reasonOf(model, 'transformer.h.0.mlp.c_fc') ?? '',
      /bias into the fused FastGelu 'FastGelu_AddBias_0'/,
    );
    assert.match(
      reasonOf(model, 'transformer.h.2.attn.c_proj') ?? '',
      /SkipLayerNormalization 'SkipLayerNorm_AddBias_4'/,
    );
    // With the biases all zero (the file as it is), the same values are the Linears' outputs.
    assert.equal(reasonOf(await loadModel(GPT2), 'transformer.h.0.mlp.c_fc'), undefined);
  });

  it('captures ln_1 as the LayerNorm of the previous block output (both read from the fused nodes)', async () => {
    const model = await loadModel(GPT2);
    const feeds = randomFeeds(model, model.inputNames, new Map([['seq_len', 3]]), 1);
    assert.deepEqual(feeds.past_0.dims, [2, 1, 4, 0, 8]);
    assert.deepEqual([...(feeds.position_ids.data as Int32Array)], [0, 1, 2]);
    assert.deepEqual([...(feeds.attention_mask.data as Int32Array)], [1, 1, 1]);
    const acts = await model.capture(feeds as never, {
      layers: ['transformer.h.2.ln_1', '/transformer/h.1/Add_1_output_0'],
    });
    const x = acts.get('/transformer/h.1/Add_1_output_0')!.data as Float32Array;
    const y = acts.get('transformer.h.2.ln_1')!.data as Float32Array;
    assert.deepEqual(acts.get('transformer.h.2.ln_1')!.dims, [1, 3, 32]);
    for (let row = 0; row < 3; row++) {
      const v = x.subarray(row * 32, row * 32 + 32);
      const mean = v.reduce((a, b) => a + b, 0) / 32;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / 32;
      // The file's LayerNorm weights are all 1 and biases 0.
      for (let i = 0; i < 32; i++) {
        const expected = (v[i] - mean) / Math.sqrt(variance + 1e-5);
        assert.ok(Math.abs(y[row * 32 + i] - expected) <= 1e-3 * Math.max(1, Math.abs(expected)), `row ${row}, ${i}`);
      }
    }
    await model.release();
  });
});

describe("optimum's DistilBERT (anonymous Linear weights, decomposed LayerNorms)", () => {
  const DISTILBERT = join(REAL_MODELS, 'distilbert-2layer-optimum.onnx');

  it('types every Linear and LayerNorm from its ops, its MatMul and statistics included', async () => {
    const model = await loadModel(DISTILBERT);
    const layer0 = model
      .modules()
      .filter((m) => m.name.startsWith('distilbert.transformer.layer.0.') && m.leaf)
      .map((m) => `${m.name.slice('distilbert.transformer.layer.0.'.length)} ${m.type}`);
    assert.deepEqual(layer0, [
      'attention.q_lin Linear',
      'attention.k_lin Linear',
      'attention.v_lin Linear',
      'attention.out_lin Linear',
      'sa_layer_norm LayerNorm',
      'ffn.lin1 Linear',
      'ffn.lin2 Linear',
      'output_layer_norm LayerNorm',
    ]);
    assert.equal(model.modules().find((m) => m.name === 'distilbert.embeddings.LayerNorm')?.type, 'LayerNorm');
    assert.equal(model.modules().find((m) => m.name === 'distilbert.embeddings.word_embeddings')?.type, 'Embedding');
  });

  it("q_lin's input and output are x and x W + b (the MatMul reading the anonymous weight is the Linear's)", async () => {
    const model = await loadModel(DISTILBERT);
    const proto = decodeModel(new Uint8Array(readFileSync(DISTILBERT)));
    const nodes = proto.graph!.node!;
    const add = nodes.find((n) => n.input?.includes('distilbert.transformer.layer.0.attention.q_lin.bias'))!;
    const matmul = nodes.find((n) => add.input?.includes(n.output![0]))!;
    const tensor = (name: string) => {
      const t = proto.graph!.initializer!.find((i) => i.name === name)!;
      return { dims: t.dims!.map(Number), data: new Float32Array(t.rawData!.slice().buffer) };
    };
    const w = tensor(matmul.input![1]);
    const b = tensor('distilbert.transformer.layer.0.attention.q_lin.bias').data;
    const feeds = randomFeeds(model, model.inputNames, new Map([['sequence', 3]]), 2);
    const acts = await model.capture(feeds as never, {
      layers: ['distilbert.transformer.layer.0.attention.q_lin'],
      inputs: true,
    });
    const x = acts.get('in:distilbert.transformer.layer.0.attention.q_lin#0')!;
    const y = acts.get('distilbert.transformer.layer.0.attention.q_lin')!.data as Float32Array;
    const [k, n] = w.dims;
    assert.deepEqual(x.dims, [1, 3, k]);
    for (let row = 0; row < 3; row++)
      for (let j = 0; j < n; j++) {
        let sum = b[j];
        for (let i = 0; i < k; i++) sum += (x.data as Float32Array)[row * k + i] * w.data[i * n + j];
        assert.ok(Math.abs(y[row * n + j] - sum) <= 1e-4 * Math.max(1, Math.abs(sum)), `row ${row}, column ${j}`);
      }
    await model.release();
  });
});

describe('fp16 GroupQueryAttention decoder with a KV cache (qwen-tiny-gqa-fp16)', () => {
  const QWEN = join(REAL_MODELS, 'qwen-tiny-gqa-fp16.onnx');

  it('names every module after its parameters (`l0.q.w` → l0.q), typed from its op', async () => {
    const model = await loadModel(QWEN);
    const leaves = model.modules().filter((m) => m.leaf);
    const expected = ['ln1 LayerNorm', 'q Linear', 'k Linear', 'v Linear', 'o Linear', 'ln2 LayerNorm', 'up Linear'];
    for (const layer of ['l0', 'l1'])
      assert.deepEqual(
        leaves.filter((m) => m.name.startsWith(`${layer}.`)).map((m) => `${m.name.slice(3)} ${m.type}`),
        [...expected, 'dn Linear'],
      );
    assert.deepEqual(
      leaves.filter((m) => !m.name.includes('.')).map((m) => `${m.name} ${m.type}`),
      ['embed_tokens Embedding', 'norm LayerNorm', 'lm_head Linear'],
    );
    // A SkipLayerNormalization's output 0 is the norm; its output 3 (the residual sum) is not.
    assert.deepEqual(model.module('l0.ln2')?.calls[0].outputs, ['l0.ln2']);
  });

  it('returns float16 values as the graph computes them, float32 with float32: true', async () => {
    const model = await loadModel(QWEN);
    const feeds = randomFeeds(model, model.inputNames, new Map([['seq_len', 3]]), 0);
    assert.deepEqual(feeds['past_key_values.0.key'].dims, [1, 2, 0, 16]);
    const ids = [...(feeds.input_ids.data as Int32Array)];
    assert.ok(ids.every((id) => id >= 0 && id < 1000) && new Set(ids).size > 1, `token ids ${ids}`);
    const half = await model.capture(feeds as never, { layers: ['l0.q', 'norm'] });
    const full = await model.capture(feeds as never, { layers: ['l0.q', 'norm'], float32: true });
    for (const key of ['l0.q', 'norm']) {
      assert.equal(half.get(key)!.type, 'float16');
      assert.ok(half.get(key)!.data instanceof Uint16Array);
      assert.equal(full.get(key)!.type, 'float32');
      assert.deepEqual([...full.float32(key)], [...float16ToFloat32(half.get(key)!.data as Uint16Array)]);
    }
    assert.equal(full.outputs.logits.type, 'float32');
    await model.release();
  });

  it('neurotap extract --random runs it on an empty cache; --float32 upcasts', async () => {
    const args = ['extract', QWEN, '--random', '--dim', 'seq_len=4', '--layers', 'l1.ln2,lm_head', '--json'];
    for (const [flags, dtype] of [
      [[], 'float16'],
      [['--float32'], 'float32'],
    ] as const) {
      const run = await cli(...args, ...flags);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      assert.deepEqual(out.inputs['past_key_values.1.value'].shape, [1, 2, 0, 16]);
      assert.deepEqual(
        out.activations.map((a: { key: string; dtype: string; shape: number[] }) => [a.key, a.dtype, a.shape]),
        [
          ['l1.ln2', dtype, [1, 4, 64]],
          ['lm_head', dtype, [1, 4, 1000]],
        ],
      );
    }
  });
});

describe("a merged decoder (optimum's decoder_model_merged.onnx: an If on use_cache_branch)", () => {
  const MERGED = join(FIXTURES, 'merged-decoder', 'model.onnx');

  it('both branches give the same keys, from the branch that ran', async () => {
    const model = await loadModel(MERGED);
    const ids = { type: 'int64', dims: [1, 3], data: new BigInt64Array([3n, 17n, 5n]) } as const;
    const empty = { type: 'float32', dims: [1, 2, 0, 8], data: new Float32Array(0) } as const;
    const feeds = (cache: boolean) => ({
      input_ids: ids,
      'past_key_values.0.key': empty,
      'past_key_values.0.value': empty,
      use_cache_branch: { type: 'bool', dims: [1], data: new Uint8Array([cache ? 1 : 0]) },
    });
    const layers = ['layers.0.self_attn.q_proj', 'layers.0.mlp', 'norm', 'lm_head'];
    const cached = await model.capture(feeds(true) as never, { layers });
    const fresh = await model.capture(feeds(false) as never, { layers });
    assert.deepEqual([...cached.keys()], layers);
    assert.deepEqual([...fresh.keys()], layers);
    // With an empty past both branches compute the same decoder step.
    for (const key of layers) assert.equal(mismatch(cached.get(key)!, fresh.get(key) as never), undefined, key);
    await model.release();
  });
});

describe("onnxruntime-genai's model builder layout with 4-bit weights (MatMulNBits)", () => {
  const BUILDER = join(FIXTURES, 'builder-q4', 'model.onnx');

  it('gives the HF names where certain (attn → self_attn, the final norm → model.norm), types Linear (q4)', async () => {
    const model = await loadModel(BUILDER);
    const leaves = model
      .modules()
      .filter((m) => m.leaf && !m.name.startsWith('model.attn_mask_reformat'))
      .map((m) => `${m.name} ${m.type}`);
    assert.deepEqual(leaves, [
      'model.embed_tokens Embedding',
      'model.layers.0.input_layernorm RMSNorm',
      'model.layers.0.self_attn.q_proj Linear (q4)',
      'model.layers.0.self_attn.k_proj Linear (q4)',
      'model.layers.0.self_attn.v_proj Linear (q4)',
      'model.layers.0.self_attn.o_proj Linear (q4)',
      'model.layers.0.post_attention_layernorm RMSNorm',
      'model.layers.0.mlp.gate_proj Linear (q4)',
      'model.layers.0.mlp.up_proj Linear (q4)',
      'model.layers.0.mlp.act_fn SiLU',
      'model.layers.0.mlp.down_proj Linear (q4)',
      'model.norm RMSNorm',
      'lm_head Linear (q4)',
    ]);
    assert.match(model.module('model.layers.0.self_attn')?.notObservable?.reason ?? '', /several values/);
  });

  it('q_proj and down_proj are x W of the weights the 4-bit blocks stand for, on an empty KV cache', async () => {
    const model = await loadModel(BUILDER);
    const reference = parseNpz(new Uint8Array(readFileSync(join(FIXTURES, 'builder-q4', 'reference.npz'))));
    const feeds = randomFeeds(model, model.inputNames, new Map([['sequence_length', 3]]), 4);
    assert.deepEqual(feeds['past_key_values.0.key'].dims, [1, 2, 0, 8]);
    const layers = ['model.layers.0.self_attn.q_proj', 'model.layers.0.mlp.down_proj'];
    const acts = await model.capture(feeds as never, { layers, inputs: true });
    for (const [name, weight] of [
      [layers[0], 'model.layers.0.attn.q_proj'],
      [layers[1], 'model.layers.0.mlp.down_proj'],
    ]) {
      const w = reference.get(weight)!;
      const [k, n] = w.dims;
      const x = acts.float32(`in:${name}#0`);
      const y = acts.float32(name);
      for (let row = 0; row < 3; row++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let i = 0; i < k; i++) sum += x[row * k + i] * (w.data as Float32Array)[i * n + j];
          assert.ok(Math.abs(y[row * n + j] - sum) <= 1e-3 * Math.max(1, Math.abs(sum)), `${name} [${row}, ${j}]`);
        }
    }
    await model.release();
  });
});

describe('external data as transformers.js ships it (model.onnx_data beside model.onnx)', () => {
  it('loads and captures in Node; a missing data file is E_EXTERNAL_DATA_MISSING', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'neurotap-onnx-data-'));
    try {
      const value = (name: string) => ({
        name,
        type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } },
      });
      const weight = (name: string, offset: number) => ({
        name,
        dataType: 1,
        dims: [2],
        dataLocation: 1,
        externalData: [
          { key: 'location', value: 'model.onnx_data' },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: '8' },
        ],
      });
      const bytes = encodeModel({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: {
          name: 'g',
          node: [
            { opType: 'Mul', name: '/scale/Mul', input: ['x', 'scale.weight'], output: ['/scale/Mul_output_0'] },
            { opType: 'Add', name: '/shift/Add', input: ['/scale/Mul_output_0', 'shift.bias'], output: ['y'] },
          ],
          initializer: [weight('scale.weight', 0), weight('shift.bias', 8)],
          input: [value('x')],
          output: [value('y')],
        },
      });
      writeFileSync(join(folder, 'model.onnx'), bytes);
      writeFileSync(join(folder, 'model.onnx_data'), Buffer.from(new Float32Array([2, 3, 10, 20]).buffer));
      const model = await loadModel(join(folder, 'model.onnx'));
      const acts = await model.capture({ x: { data: Float32Array.from([1, 2]), dims: [2] } }, { layers: 'modules' });
      assert.deepEqual([...acts.float32('scale')], [2, 6]);
      assert.deepEqual([...acts.float32('shift')], [12, 26]);
      await model.release();
      rmSync(join(folder, 'model.onnx_data'));
      const run = await cli('extract', join(folder, 'model.onnx'), '--random', '--json');
      assert.equal(run.code, 2);
      assert.equal(JSON.parse(run.stdout).error.code, 'E_EXTERNAL_DATA_MISSING');
      assert.match(JSON.parse(run.stdout).error.message, /model\.onnx_data/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("onnxruntime-node's optimised variants of the tiny HF GPT-2 and BERT (fixtures hf-gpt2, hf-bert)", () => {
  // Dropouts leave no node in eval; BERT's pooler.activation became FusedGemm's activation (pooler.dense is reported).
  const INVISIBLE = /(^|\.)(drop|attn_dropout|resid_dropout|dropout)$|^pooler\.activation$/;
  for (const name of ['hf-gpt2', 'hf-bert'])
    for (const variant of ['model.ort.onnx', 'model.static.ort.onnx'])
      it(`${name}/${variant}: every key equals PyTorch's hook or is reported, none invented`, async () => {
        const fx = fixture(name);
        const model = await loadModel(join(FIXTURES, name, variant));
        const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
        const compared = assertMatchesGoldens(acts, fx, `${name}/${variant}`, INVISIBLE);
        assert.ok(compared >= 20, `${variant}: only ${compared} keys compared`);
        await model.release();
      });
});
