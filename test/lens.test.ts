/**
 * The logit lens against torch: scripts/fixtures_lens.py applies ln_f + lm_head (F.layer_norm and
 * a matmul on the exported parameters) to the fixtures' PyTorch hidden states; the lens must give
 * the same top-5 ids exactly and the same probabilities and logits (rtol 1e-3), its last row the
 * model's own prediction. Also: tokenizer.json decoding, the CLI's --json shape, the typed errors.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { parseNpz } from '../src/formats/npz.js';
import { parseTokenizer } from '../src/lens/tokenizer.js';
import type { LensResult } from '../src/lens/lens.js';
import { loadModel, type NeurotapModel, type PlainTensor } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { cli } from './helpers/dataset.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

const lensGolden = (name: string) => parseNpz(new Uint8Array(readFileSync(join(FIXTURES, 'lens', `${name}.npz`))));

/** Every layer's top ids equal torch's, probabilities and logits within rtol 1e-3. */
function assertLensEquals(result: LensResult, golden: Map<string, HostTensor>, count: number): void {
  assert.equal(result.layers.length, count);
  result.layers.forEach((layer, i) => {
    const ids = Array.from(golden.get(`top_id.${i}`)!.data as BigInt64Array, Number);
    const probs = golden.get(`top_p.${i}`)!.data as Float32Array;
    const flat = layer.top.flat(2);
    assert.deepEqual(
      flat.map((t) => t.id),
      ids,
      `${layer.key}: top ids`,
    );
    const p = { dims: [flat.length], data: Float32Array.from(flat, (t) => t.prob) };
    assert.equal(mismatch(p, { type: 'float32', dims: [probs.length], data: probs }, 1e-3, 1e-6), undefined, layer.key);
    assert.equal(mismatch(layer.logits!, golden.get(`logits.${i}`)!), undefined, `${layer.key}: logits`);
  });
}

describe('logit lens', () => {
  let gpt: NeurotapModel;
  const edits = fixture('edits-gpt');
  const feeds = Object.fromEntries(edits.inputs) as Record<string, PlainTensor>;

  before(async () => {
    gpt = await loadModel(edits.path);
  });
  after(() => gpt?.release());

  it('edits-gpt: ln_f + lm_head on each block output equals torch (top-5 ids exact)', async () => {
    const result = await gpt.lens(feeds, { layers: [/^h\.\d+$/], logits: true });
    assert.deepEqual([result.norm, result.head], ['ln_f', 'lm_head']);
    assert.deepEqual(
      result.layers.map((l) => l.key),
      Array.from({ length: 12 }, (_, i) => `h.${i}`),
    );
    assert.deepEqual([result.layers[0].top.length, result.layers[0].top[0].length], [2, 8]);
    assertLensEquals(result, lensGolden('edits-gpt'), 12);
    // The last block's output is ln_f's input: its lens is the model's own logits, bit for bit.
    assert.deepEqual(result.layers[11].logits!.data, (await gpt.run(feeds)).logits.data);
  });

  it('names the head and the value it cuts at', () => {
    assert.deepEqual(gpt.lensHead(), { norm: 'ln_f', head: 'lm_head', stream: '/h.11/Add_1_output_0' });
  });

  it('top k out of range and states of different shapes are E_BAD_ARGUMENT', async () => {
    await assert.rejects(gpt.lens(feeds, { layers: [/^h\.\d+$/], top: 0 }), { code: 'E_BAD_ARGUMENT' });
    await assert.rejects(gpt.lens(feeds, { layers: ['h.0', 'h.0.mlp.0'] }), (err: Error & { code: string }) => {
      assert.equal(err.code, 'E_BAD_ARGUMENT');
      assert.match(err.message, /h\.0\.mlp\.0 is float32 \[2, 8, 64\], h\.0 float32 \[2, 8, 16\]/);
      return true;
    });
  });

  it('a model without a final norm + LM head is E_NO_LM_HEAD naming what it found', async () => {
    const model = await loadModel(fixture('transformer').path);
    try {
      assert.throws(
        () => model.lensHead(),
        (err: Error & { code: string; hint: string }) => {
          assert.equal(err.code, 'E_NO_LM_HEAD');
          assert.match(err.message, /no module named lm_head/);
          assert.match(err.hint, /norms here: ln1, ln2/);
          return true;
        },
      );
    } finally {
      await model.release();
    }
    // A merged decoder holds its head in both If branches: named, with the export to use instead.
    const merged = await loadModel(fixture('merged-decoder').path);
    assert.throws(() => merged.lensHead(), { code: 'E_NO_LM_HEAD', message: /'lm_head' has 2 call sites/ });
    await merged.release();
    // An encoder (the tiny HF BertModel) has no LM head either.
    const bert = await loadModel(fixture('hf-bert').path);
    assert.throws(() => bert.lensHead(), { code: 'E_NO_LM_HEAD', message: /no module named lm_head/ });
    await bert.release();
  });
});

describe('logit lens on the tiny HF GPT-2 (default: the hidden_states preset)', () => {
  const gpt2 = fixture('hf-gpt2');
  const feeds = Object.fromEntries(gpt2.inputs) as Record<string, PlainTensor>;
  for (const file of ['model.onnx', 'model.ort.onnx', 'model.static.ort.onnx']) {
    it(`${file}: every hidden state through transformer.ln_f + lm_head equals torch, the last read before ln_f`, async () => {
      const model = await loadModel(join(FIXTURES, 'hf-gpt2', file));
      try {
        const result = await model.lens(feeds, { logits: true });
        assert.deepEqual([result.norm, result.head], ['transformer.ln_f', 'lm_head']);
        assert.deepEqual(
          result.layers.map((l) => [l.key, l.source]),
          [
            ['hidden_states.0', 'hidden_states.0'],
            ['hidden_states.1', 'hidden_states.1'],
            ['hidden_states.2', 'in:transformer.ln_f#0'],
          ],
        );
        assertLensEquals(result, lensGolden('hf-gpt2'), 3);
        const own = (await model.run(feeds)).logits;
        assert.equal(mismatch(result.layers[2].logits!, own as HostTensor, 1e-5, 1e-5), undefined);
        // ORT fused ln_f with the last residual add: no value enters it, the fused node runs in the lens.
        assert.equal(model.lensHead().stream === undefined, file === 'model.static.ort.onnx');
      } finally {
        await model.release();
      }
    });
  }
});

describe('logit lens on a real ONNX Runtime-fused GPT-2 (fused Attention, SkipLayerNormalization)', () => {
  it('hidden_states.0 … 5 through the fused ln_f + lm_head equal torch; the last row is the model’s logits', async () => {
    const dir = join(FIXTURES, 'hf-gpt2-ort-fused');
    const model = await loadModel(join(dir, 'model.onnx'));
    const feeds = Object.fromEntries(parseNpz(new Uint8Array(readFileSync(join(dir, 'input.npz'))))) as Record<
      string,
      PlainTensor
    >;
    try {
      const result = await model.lens(feeds, { logits: true });
      assert.deepEqual([result.norm, result.head], ['transformer.ln_f', 'lm_head']);
      assert.equal(result.layers.at(-1)!.source, 'in:transformer.ln_f#0');
      assertLensEquals(result, lensGolden('hf-gpt2-ort-fused'), 6);
    } finally {
      await model.release();
    }
  });
});

describe('logit lens on an fp16 graph', () => {
  it('a fused fp16 final norm (SkipLayerNormalization) + lm_head: the last row is the model’s own logits (fp16 rounding)', async () => {
    const model = await loadModel(join(FIXTURES, 'real-models', 'qwen-tiny-gqa-fp16.onnx'));
    const empty = { data: new Uint16Array(0), dims: [1, 2, 0, 16], type: 'float16' as const };
    const feeds: Record<string, PlainTensor> = {
      input_ids: { data: Int32Array.from([1, 5, 9, 3]), dims: [1, 4] },
      attention_mask: { data: new BigInt64Array(4).fill(1n), dims: [1, 4] },
      ...Object.fromEntries(
        ['0', '1'].flatMap((i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`].map((k) => [k, empty])),
      ),
    };
    try {
      // final_ln is the normed output (HF's last hidden state): the lens reads it before the norm.
      const result = await model.lens(feeds, { layers: ['final_ln'], logits: true, top: 3 });
      assert.deepEqual([result.norm, result.head, result.layers[0].source], ['norm', 'lm_head', 'in:norm#0']);
      const own = (await model.run(feeds)).logits;
      assert.equal(own.type, 'float16');
      const { toFloat32 } = await import('../src/tensor-summary.js');
      const expected = { type: 'float32' as const, dims: [...own.dims], data: toFloat32(own as HostTensor) };
      // Equal up to fp16 rounding: the head's MatMul runs on another row count than in the model.
      assert.equal(mismatch(result.layers[0].logits!, expected, 1e-3, 1e-4), undefined);
      const row = expected.data.slice(0, expected.dims[2]);
      const best = row.indexOf(Math.max(...row));
      assert.equal(result.layers[0].top[0][0][0].id, best);
    } finally {
      await model.release();
    }
  });
});

describe('logit lens: states the export does not hold', () => {
  it('are reported with the reason (no row), and none observable is E_NOT_OBSERVABLE', async () => {
    // ORT fused the static GPT-2's last block with ln_f: the block's output is no single value.
    const gpt2 = fixture('hf-gpt2');
    const model = await loadModel(join(FIXTURES, 'hf-gpt2', 'model.static.ort.onnx'));
    const feeds = Object.fromEntries(gpt2.inputs) as Record<string, PlainTensor>;
    try {
      const result = await model.lens(feeds, { layers: ['transformer.h.0', 'transformer.h.1'] });
      assert.deepEqual(
        result.layers.map((l) => l.key),
        ['transformer.h.0'],
      );
      assert.deepEqual(
        result.notObservable.map((u) => u.key),
        ['transformer.h.1'],
      );
      assert.ok(result.notObservable[0].reason.length > 20, result.notObservable[0].reason);
      await assert.rejects(model.lens(feeds, { layers: ['transformer.h.1'] }), {
        code: 'E_NOT_OBSERVABLE',
        message: /^No hidden state asked for is observable: transformer\.h\.1 \(/,
      });
    } finally {
      await model.release();
    }
  });
});

describe('tokenizer.json', () => {
  const file = (decoder: unknown, vocab: unknown, added: unknown[] = []) =>
    JSON.stringify({ model: { type: 'BPE', vocab }, decoder, added_tokens: added });

  it('byte-level BPE: Ġ is a space, Ċ a newline, bytes of UTF-8 characters joined; added tokens as they are', () => {
    const vocab = parseTokenizer(
      file({ type: 'ByteLevel' }, { Ġthe: 0, Ċ: 1, 'Ã©': 2, Ġna: 3, 'ä½': 4, '<|endoftext|>': 5 }, [
        { id: 5, content: '<|endoftext|>' },
      ]),
    );
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((id) => vocab.token(id)),
      [' the', '\n', 'é', ' na', '\uFFFD', '<|endoftext|>', undefined],
    );
    assert.equal(vocab.size, 6);
  });

  it('WordPiece keeps ##, Metaspace ▁ is a space, byte fallback <0x0A> a newline, Unigram lists', () => {
    assert.equal(parseTokenizer(file({ type: 'WordPiece', prefix: '##' }, { '##ing': 7 })).token(7), '##ing');
    const llama = parseTokenizer(
      file(
        {
          type: 'Sequence',
          decoders: [
            { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
            { type: 'ByteFallback' },
            { type: 'Fuse' },
          ],
        },
        { '▁the': 0, '<0x0A>': 1 },
      ),
    );
    assert.deepEqual([llama.token(0), llama.token(1)], [' the', '\n']);
    const t5 = parseTokenizer(
      JSON.stringify({
        model: {
          type: 'Unigram',
          vocab: [
            ['<pad>', 0],
            ['▁hi', -1.5],
          ],
        },
        decoder: { type: 'Metaspace' },
      }),
    );
    assert.deepEqual([t5.token(0), t5.token(1)], ['<pad>', ' hi']);
  });

  it('a file that is not a tokenizer is E_BAD_FILE', () => {
    assert.throws(() => parseTokenizer('{"model": {}}'), { code: 'E_BAD_FILE' });
    assert.throws(() => parseTokenizer('not json'), { code: 'E_BAD_FILE' });
  });
});

describe('neurotap lens', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'neurotap-lens-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--json: norm, head, top, input ids and per-layer top tokens [batch][position][k]', async () => {
    const model = fixture('edits-gpt').path;
    const run = await cli(
      'lens',
      model,
      '--input',
      join(FIXTURES, 'edits-gpt', 'input.npz'),
      '--layers',
      '/^h\\.\\d+$/',
      '--top',
      '2',
      '--json',
    );
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(out), [
      'model',
      'norm',
      'head',
      'top',
      'tokenizer',
      'input',
      'layers',
      'notObservable',
    ]);
    assert.deepEqual(out.notObservable, []);
    assert.deepEqual([out.norm, out.head, out.top, out.tokenizer], ['ln_f', 'lm_head', 2, null]);
    assert.equal(out.input.name, 'ids');
    assert.deepEqual(
      out.input.ids[0],
      Array.from(fixture('edits-gpt').inputs.get('ids')!.data as BigInt64Array, Number).slice(0, 8),
    );
    assert.equal(out.layers.length, 12);
    const golden = lensGolden('edits-gpt');
    const ids = golden.get('top_id.11')!.data as BigInt64Array;
    assert.deepEqual(Object.keys(out.layers[11].top[1][7][0]), ['id', 'prob']);
    assert.deepEqual(
      out.layers[11].top[1][7].map((t: { id: number }) => t.id),
      [Number(ids[(8 + 7) * 5]), Number(ids[(8 + 7) * 5 + 1])],
    );
  });

  it('no final norm + LM head: exit 2, E_NO_LM_HEAD, before any input is read', async () => {
    const run = await cli('lens', fixture('transformer').path, '--input', join(dir, 'absent.npy'), '--json');
    assert.equal(run.code, 2);
    assert.equal(JSON.parse(run.stdout).error.code, 'E_NO_LM_HEAD');
  });

  it('no input: E_BAD_ARGUMENT naming lens', async () => {
    const run = await cli('lens', fixture('edits-gpt').path, '--json');
    assert.equal(run.code, 2);
    const error = JSON.parse(run.stdout).error;
    assert.equal(error.code, 'E_BAD_ARGUMENT');
    assert.match(error.message, /^lens needs input data/);
  });

  it('reads the tokenizer.json beside the model', async () => {
    copyFileSync(fixture('edits-gpt').path, join(dir, 'model.onnx'));
    copyFileSync(join(FIXTURES, 'lens', 'hf-gpt2-tokenizer.json'), join(dir, 'tokenizer.json'));
    const run = await cli('lens', join(dir, 'model.onnx'), '--random', '--layers', 'h.11', '--top', '1', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.tokenizer, join(dir, 'tokenizer.json'));
    const vocab = parseTokenizer(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const first = out.layers[0].top[0][0][0];
    assert.equal(first.token, vocab.token(first.id));
    // --random draws token ids inside the vocabulary (input-roles.ts).
    assert.equal(out.input.tokens[0][0], vocab.token(out.input.ids[0][0]));
  });
});
