/**
 * Interventions against PyTorch: for every case of the edit fixtures (scripts/fixtures_edits.py),
 * a capture with `edit` returns what forward hooks returning the edited output gave in PyTorch:
 * the edited keys hold the edited values, downstream keys and logits follow, upstream keys are
 * unchanged (all within 1e-5). Plus: patching a value with its own tensor is bit-identical to a
 * plain run, one session serves a sweep, and unobservable or unknown keys fail with typed errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNeurotapError } from '../src/errors.js';
import { readFileSync } from 'node:fs';
import {
  add,
  clamp,
  loadModel,
  NeurotapModel,
  nodeRuntime,
  patchFrom,
  replace,
  scale,
  zero,
  type Runtime,
} from '../src/node/index.js';
import type { Tensor } from '../src/runtime/runtime.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';
import { editFixture, editsOf, goldenKeys } from './helpers/edits.js';

const TIGHT = [1e-5, 1e-5] as const;
const FIXTURE_NAMES = ['edits-mlp', 'edits-cnn', 'edits-twice', 'edits-gpt', 'edits-control-flow'];

describe('edits equal PyTorch forward hooks that return the edited output', () => {
  for (const name of FIXTURE_NAMES) {
    const fx = editFixture(name);
    for (const c of fx.cases) {
      it(`${name}: ${c.name} (${c.edits.map((e) => `${e.key}=${e.op}`).join(', ')})`, async () => {
        const model = await loadModel(fx.path);
        const keys = goldenKeys(fx, c);
        const layers = keys.filter((k) => !k.startsWith('__output__')).map((k) => k.split(':')[0]);
        const acts = await model.capture(fx.inputs, { layers, edit: await editsOf(model, fx, c) });
        let compared = 0;
        for (const key of keys) {
          const expected = fx.golden.get(`${c.name}/${key}`)!;
          const actual = key.startsWith('__output__')
            ? acts.outputs[model.outputNames[Number(key.split('#')[1])]]
            : acts.get(key);
          assert.ok(actual, `${key} was not captured`);
          assert.equal(
            mismatch(actual, expected, ...TIGHT),
            undefined,
            `${name}/${c.name}: ${key} differs from PyTorch`,
          );
          compared++;
        }
        assert.ok(compared >= 3);
        await model.release();
      });
    }
  }
});

describe('edit semantics', () => {
  it('patching a value with its own tensor is bit-identical to a plain run', async () => {
    const fx = editFixture('edits-gpt');
    const model = await loadModel(fx.path);
    const layers = ['h.3', 'h.7.mlp', 'h.11', 'lm_head'];
    const plain = await model.capture(fx.inputs, { layers });
    const patched = await model.capture(fx.inputs, { layers, edit: { 'h.3': patchFrom(plain) } });
    for (const key of layers) assert.deepEqual(patched.get(key)!.data, plain.get(key)!.data, key);
    assert.deepEqual(patched.outputs.logits.data, plain.outputs.logits.data);
    await model.release();
  });

  it('an edit differs from the plain run downstream only', async () => {
    const fx = editFixture('edits-mlp');
    const model = await loadModel(fx.path);
    const plain = await model.capture(fx.inputs, { layers: 'modules' });
    const edited = await model.capture(fx.inputs, { layers: 'modules', edit: { '2': zero() } });
    assert.deepEqual(edited.get('0')!.data, plain.get('0')!.data);
    assert.deepEqual(edited.get('1')!.data, plain.get('1')!.data);
    assert.ok((edited.get('2')!.data as Float32Array).every((v) => v === 0));
    assert.notDeepEqual(edited.outputs.output.data, plain.outputs.output.data);
    await model.release();
  });

  it('early stop keeps the edits upstream of the requested layers', async () => {
    const fx = editFixture('edits-gpt');
    const model = await loadModel(fx.path);
    const edit = { 'h.0.attn': zero(), 'h.1': scale(2) };
    const full = await model.capture(fx.inputs, { layers: ['h.2'], edit });
    const stopped = await model.capture(fx.inputs, { layers: ['h.2'], edit, stop: true });
    assert.deepEqual(stopped.get('h.2')!.data, full.get('h.2')!.data);
    assert.deepEqual(Object.keys(stopped.outputs), []);
    await model.release();
  });

  it('one session serves a sweep: patching each layer in turn feeds tensors, no new graph', async () => {
    const fx = editFixture('edits-gpt');
    const created: unknown[] = [];
    // A runtime that counts the sessions the model creates.
    const counting: Runtime = {
      Tensor: nodeRuntime.Tensor,
      InferenceSession: {
        create: (bytes: Uint8Array, options?: object) => (
          created.push(bytes), nodeRuntime.InferenceSession.create(bytes, options)
        ),
      } as Runtime['InferenceSession'],
    };
    const model = NeurotapModel.fromBytes(new Uint8Array(readFileSync(fx.path)), counting);
    const blocks = Array.from({ length: 12 }, (_, i) => `h.${i}.mlp`);
    const clean = await model.capture(fx.clean(), { layers: blocks });
    created.length = 0;
    const logits = [];
    for (const block of blocks) {
      const acts = await model.capture(fx.inputs, {
        layers: [],
        editable: blocks,
        edit: { [block]: patchFrom(clean) },
      });
      logits.push(acts.outputs.logits.data as Float32Array);
    }
    assert.equal(created.length, 1, 'one session for the whole sweep');
    // Each run of the sweep equals the same patch made alone, in its own graph.
    const alone = await loadModel(fx.path);
    for (const i of [0, 11]) {
      const acts = await alone.capture(fx.inputs, { layers: [], edit: { [blocks[i]]: patchFrom(clean) } });
      const expected = {
        type: 'float32' as const,
        dims: acts.outputs.logits.dims,
        data: acts.outputs.logits.data as Float32Array,
      };
      assert.equal(mismatch({ dims: expected.dims, data: logits[i] }, expected, ...TIGHT), undefined, blocks[i]);
    }
    assert.notDeepEqual(logits[0], logits[11]);
    await alone.release();
    await model.release();
  });

  it('an idle editable slot leaves the run bit-identical', async () => {
    const fx = editFixture('edits-gpt');
    const model = await loadModel(fx.path);
    const plain = await model.capture(fx.inputs, { layers: ['h.5'] });
    const idle = await model.capture(fx.inputs, { layers: ['h.5'], editable: ['h.2', 'h.5'] });
    assert.deepEqual(idle.get('h.5')!.data, plain.get('h.5')!.data);
    assert.deepEqual(idle.outputs.logits.data, plain.outputs.logits.data);
    await model.release();
  });

  it('a child sharing the edited value keeps what its own hook saw', async () => {
    // h.1.mlp is a Sequential: its output is h.1.mlp.2's, and PyTorch fires the child's hook first.
    const fx = editFixture('edits-gpt');
    const model = await loadModel(fx.path);
    const plain = await model.capture(fx.inputs, { layers: ['h.1.mlp.2'] });
    const edited = await model.capture(fx.inputs, { layers: ['h.1.mlp.2', 'h.1.mlp'], edit: { 'h.1.mlp': scale(0) } });
    assert.deepEqual(edited.get('h.1.mlp.2')!.data, plain.get('h.1.mlp.2')!.data);
    assert.ok((edited.get('h.1.mlp')!.data as Float32Array).every((v) => v === 0));
    await model.release();
  });

  it('a key the export does not hold is a typed error naming why, never an edit of another value', async () => {
    // resnet18: BatchNorm folded into conv1, so the graph holds bn1(conv1(x)) and not conv1(x).
    const resnet = await loadModel(`${FIXTURES}/resnet18/model.onnx`);
    const image = { x: { data: new Float32Array(3 * 64 * 64), dims: [1, 3, 64, 64] } };
    await assert.rejects(
      resnet.capture(image, { layers: [], edit: { conv1: zero() } }),
      (e) => isNeurotapError(e, 'E_NOT_OBSERVABLE') && /'conv1'.*folded the next BatchNorm/.test(e.message),
    );
    await resnet.release();
    // rnn-deep: the batch-first output's transpose cancelled against the next one.
    const rnn = await loadModel(`${FIXTURES}/rnn-deep/model.onnx`);
    const seq = { x: { data: new Float32Array(2 * 5 * 8), dims: [2, 5, 8] } };
    await assert.rejects(
      rnn.capture(seq, { layers: [], edit: { 'lstm#0': scale(2) } }),
      (e) => isNeurotapError(e, 'E_NOT_OBSERVABLE') && /transpose/.test(e.message),
    );
    await rnn.release();
  });

  it('unknown keys, calls and bad operations are typed errors', async () => {
    const fx = editFixture('edits-twice');
    const model = await loadModel(fx.path);
    const run = (edit: Record<string, ReturnType<typeof zero>>) => model.capture(fx.inputs, { edit });
    await assert.rejects(
      run({ prj: zero() }),
      (e) => isNeurotapError(e, 'E_UNKNOWN_LAYER') && /'proj'/.test(e.message),
    );
    await assert.rejects(
      run({ 'proj:3': zero() }),
      (e) => isNeurotapError(e, 'E_UNKNOWN_LAYER') && /proj:2/.test(e.hint!),
    );
    await assert.rejects(run({ proj: zero(), 'proj:2': zero() }), (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'));
    assert.throws(
      () => clamp({}),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
    );
    assert.throws(
      () => scale(Number.NaN),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
    );
    assert.throws(
      () => add(3 as never),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT'),
    );
    await assert.rejects(
      run({ out: replace({ data: new Float32Array(5), dims: [2, 2] }) }),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /5 elements/.test(e.message),
    );
    await assert.rejects(
      run({ out: patchFrom(new Map()) }),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /'out'/.test(e.message),
    );
    await model.release();
  });
});

describe('callback edits (the graph cut at the value, JS in between)', () => {
  const fx = editFixture('edits-gpt');
  const times = (t: Tensor, f: number) => ({
    data: Float32Array.from(t.data as Float32Array, (v) => v * f),
    dims: t.dims,
  });

  it('a callback and the declarative edit agree, downstream and in the logits', async () => {
    const model = await loadModel(fx.path);
    const layers = ['h.0', 'h.4', 'h.11'];
    const declarative = await model.capture(fx.inputs, { layers, edit: { 'h.0': scale(0.5), 'h.7.mlp': zero() } });
    const seen: string[] = [];
    const callback = await model.capture(fx.inputs, {
      layers,
      edit: {
        'h.0': (output, call) => (seen.push(`${call.key}:${output.dims}`), times(output, 0.5)),
        'h.7.mlp': (output) => times(output, 0),
      },
    });
    assert.deepEqual(seen, ['h.0:2,8,16']);
    for (const key of layers)
      assert.deepEqual(callback.get(key)!.data, declarative.get(key)!.data, `${key}: callback vs declarative`);
    assert.deepEqual(callback.outputs.logits.data, declarative.outputs.logits.data);
    await model.release();
  });

  it('callbacks mixed with declarative edits equal PyTorch; a callback returning nothing keeps the output', async () => {
    const model = await loadModel(fx.path);
    const c = fx.cases.find((x) => x.name === 'together')!;
    const edit = await editsOf(model, fx, c);
    const steer = fx.tensor(c, 'h.0').data as Float32Array;
    const keys = goldenKeys(fx, c).filter((k) => !k.startsWith('__'));
    const acts = await model.capture(fx.inputs, {
      layers: keys,
      edit: {
        ...edit,
        'h.0': (output) => ({
          data: (output.data as Float32Array).map((v, i) => v + 4 * steer[i % 16]),
          dims: output.dims,
        }),
        'h.5.mlp': () => undefined,
      },
    });
    for (const key of keys)
      assert.equal(mismatch(acts.get(key)!, fx.golden.get(`together/${key}`)!, ...TIGHT), undefined, key);
    assert.equal(mismatch(acts.outputs.logits, fx.golden.get('together/__output__#0')!, ...TIGHT), undefined);
    await model.release();
  });

  it('a forward hook returning a tensor replaces the output, chained as PyTorch chains hooks', async () => {
    const model = await loadModel(fx.path);
    const declarative = await model.capture(fx.inputs, {
      layers: ['h.3.mlp'],
      inputs: true,
      edit: { 'h.0': scale(0.25) },
    });
    const seen: string[] = [];
    const inputs: Tensor[] = [];
    {
      using _a = model.registerForwardHook('h.0', (_m, _i, out) => times(out as Tensor, 0.5));
      using _b = model.registerForwardHook('h.0', (_m, _i, out) => times(out as Tensor, 0.5));
      using _c = model.registerForwardPreHook('h.3.mlp', (m, i) => (seen.push(`pre ${m.name}`), inputs.push(...i)));
      using _d = model.registerForwardHook('h.3.mlp', (m) => void seen.push(`fwd ${m.name}`));
      const out = await model.run(fx.inputs);
      assert.deepEqual(out.logits.data, declarative.outputs.logits.data);
    }
    assert.deepEqual(seen, ['pre h.3.mlp', 'fwd h.3.mlp']);
    assert.deepEqual(inputs[0].data, declarative.get('in:h.3.mlp#0')!.data, "the hook's input follows the edit");
    const plain = await model.run(fx.inputs);
    assert.notDeepEqual(plain.logits.data, declarative.outputs.logits.data, 'hooks removed');
    await model.release();
  });

  it('a callback inside a Loop body is a typed error pointing to declarative edits', async () => {
    const model = await loadModel(`${FIXTURES}/control-flow/model.onnx`);
    const feeds = Object.fromEntries(fixture('control-flow').inputs);
    await assert.rejects(
      model.capture(feeds, { edit: { 'b.0': (o) => o } }),
      (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /declarative/.test(e.hint!),
    );
    {
      using _hook = model.registerForwardHook('b.0', (_m, _i, out) => times(out as Tensor, 2));
      await assert.rejects(
        model.run(feeds),
        (e) => isNeurotapError(e, 'E_BAD_ARGUMENT') && /Loop body/.test(e.message),
      );
    }
    const declarative = await model.capture(feeds, { layers: ['b.0', 'head'], edit: { 'b.0': zero() } });
    assert.ok((declarative.get('b.0:3')!.data as Float32Array).every((v) => v === 0));
    await model.release();
  });
});
