/** The library API: capture options, hooks, feeds, errors. */
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isNeurotapError, loadModel, type HookOutput } from '../src/node/index.js';
import { fixture, mismatch, REAL_MODELS } from './helpers/fixtures.js';

const cnn = fixture('seed-cnn');
const x = () => cnn.inputs.get('x')!;

describe('capture', () => {
  it('captures the leaves by default, with the seed CNN shapes', async () => {
    const model = await loadModel(cnn.path);
    const acts = await model.capture({ x: x() });
    assert.deepEqual([...acts.keys()], ['0', '1', '2', '3', '4']);
    assert.deepEqual(acts.get('0')!.dims, [1, 16, 32, 32]);
    assert.deepEqual(acts.get('3')!.dims, [1, 32, 16, 16]);
  });

  it('selects by exact name, glob, RegExp and type', async () => {
    const model = await loadModel(fixture('resnet18-preserve').path);
    const feeds = { x: fixture('resnet18-preserve').inputs.get('x')! };
    const plan = (layers: NonNullable<Parameters<typeof model.plan>[0]>['layers']) =>
      model.plan({ layers }).targets.map((t) => t.key);
    assert.deepEqual(plan(['layer1.0.conv1', 'fc']), ['layer1.0.conv1', 'fc']);
    // 2 blocks and their conv1, bn1, relu, conv2, bn2; relu runs twice per block: 12 modules, 14 keys.
    assert.equal(plan('layer1.*').length, 14);
    assert.deepEqual(plan(/^layer4\.1\.bn\d$/), ['layer4.1.bn1', 'layer4.1.bn2']);
    assert.equal(plan({ type: 'BatchNorm2d' }).length, 20);
    assert.ok(plan('values').length > 60);
    const acts = await model.capture(feeds, { layers: ['layer1.0.relu'] });
    assert.deepEqual([...acts.keys()], ['layer1.0.relu:1', 'layer1.0.relu:2']);
    assert.equal(acts.calls('layer1.0.relu').length, 2);
  });

  it('captures module inputs on request, under in:<key>#i', async () => {
    const fx = fixture('seed-custom');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: ['linear2'], inputs: true });
    assert.equal(mismatch(acts.get('in:linear2#0')!, fx.goldenInputs.get('linear2#0')!), undefined);
  });

  it('fires forward hooks once per call, in order, with PyTorch tuple nesting; disposal removes them', async () => {
    const fx = fixture('rnn');
    const model = await loadModel(fx.path);
    const seen: string[] = [];
    let lstmOut: HookOutput | undefined;
    {
      using _a = model.registerForwardHook('lstm', (_m, _inputs, output) => {
        lstmOut = output;
        seen.push('lstm');
      });
      using _b = model.registerForwardPreHook('head', (m, inputs) => seen.push(`pre:${m.name}:${inputs.length}`));
      const out = await model.run(Object.fromEntries(fx.inputs));
      assert.equal(mismatch(out.output, fx.golden.get('__output__#0')!), undefined);
    }
    assert.deepEqual(seen, ['lstm', 'pre:head:1']);
    const [y, [h, c]] = lstmOut as [HookOutput, HookOutput[]];
    assert.equal(mismatch(y as never, fx.golden.get('lstm#0')!), undefined);
    assert.equal(mismatch(h as never, fx.golden.get('lstm#1#0')!), undefined);
    assert.equal(mismatch(c as never, fx.golden.get('lstm#1#1')!), undefined);
    await model.run(Object.fromEntries(fx.inputs));
    assert.equal(seen.length, 2, 'hooks removed at the end of the using block');
  });

  it('calls a hook of a module called twice once per call', async () => {
    const fx = fixture('twice');
    const model = await loadModel(fx.path);
    const calls: number[] = [];
    const handle = model.registerForwardHook('proj', (m, _i, out) => {
      calls.push(m.call);
      assert.equal(mismatch(out as never, fx.golden.get(`proj:${m.call}`)!), undefined);
    });
    await model.run(Object.fromEntries(fx.inputs));
    handle.remove();
    assert.deepEqual(calls, [1, 2]);
  });

  it('accepts plain { data, dims } feeds and reuses the capture session', async () => {
    const model = await loadModel(fixture('seed-mlp').path);
    const feeds = { x: { data: new Float32Array(20).fill(0.5), dims: [2, 10] } };
    const a = await model.capture(feeds, { layers: ['0'] });
    const b = await model.capture(feeds, { layers: ['0'] });
    assert.deepEqual([...(a.get('0')!.data as Float32Array)], [...(b.get('0')!.data as Float32Array)]);
    assert.deepEqual(a.get('0')!.dims, [2, 20]);
  });
});

describe('errors', () => {
  const code = (c: string) => (err: unknown) => isNeurotapError(err) && err.code === c && !!err.hint;

  it('lists every unknown layer at once, with the nearest names', async () => {
    const model = await loadModel(fixture('seed-custom').path);
    await assert.rejects(
      model.capture({ x: fixture('seed-custom').inputs.get('x')! }, { layers: ['linear3', 'relu2', 'linear1'] }),
      (err: unknown) => {
        assert.ok(code('E_UNKNOWN_LAYER')(err));
        const e = err as Error & { details: { unknown: string[] } };
        assert.deepEqual(e.details.unknown, ['linear3', 'relu2']);
        assert.match(e.message, /'linear3' \(did you mean 'linear1', 'linear2'/);
        return true;
      },
    );
  });

  it('names the expected and given dtype, shape and inputs', async () => {
    const model = await loadModel(cnn.path);
    await assert.rejects(
      model.capture({ x: { data: new Float64Array(3072), dims: [1, 3, 32, 32] } }),
      (e: Error) => code('E_INPUT_DTYPE')(e) && /expects float32, got float64/.test(e.message),
    );
    await assert.rejects(
      model.capture({ x: { data: new Float32Array(3 * 16 * 16), dims: [1, 3, 16, 16] } }),
      (e: Error) => code('E_INPUT_SHAPE')(e) && /\[batch, 3, 32, 32\], got \[1, 3, 16, 16\]/.test(e.message),
    );
    await assert.rejects(
      model.capture({ x: { data: new Float32Array(5), dims: [1, 3, 32, 32] } }),
      code('E_INPUT_SHAPE'),
    );
    await assert.rejects(model.capture({}), (e: Error) => code('E_MISSING_INPUT')(e) && /'x'/.test(e.message));
    await assert.rejects(
      model.capture({ x: x(), y: x() }),
      (e: Error) => code('E_UNKNOWN_INPUT')(e) && /'y'/.test(e.message),
    );
  });

  it('names a missing external-data file when a session is prepared or run, while the module map still works', async () => {
    const model = await loadModel(join(REAL_MODELS, 'smollm-2layer-dynamo.onnx'));
    assert.ok(model.modules().length > 30);
    const missing = (e: unknown) =>
      isNeurotapError(e, 'E_EXTERNAL_DATA_MISSING') &&
      /model_SmolLM17b_2Layer-onnx_dynamo-ir-d1rt1\.onnx\.data/.test((e as Error).message);
    await assert.rejects(model.prepare({ layers: ['model.layers.0.mlp'] }), missing);
  });

  it('rejects files that are not ONNX before the native runtime sees them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'neurotap-test-'));
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from('this is not a model at all, just some text\n'.repeat(4)));
    await assert.rejects(
      loadModel(junk),
      (e: unknown) => isNeurotapError(e) && ['E_NOT_ONNX', 'E_TRUNCATED'].includes(e.code),
    );
    await assert.rejects(loadModel(join(dir, 'absent.onnx')), code('E_FILE_NOT_FOUND'));
    await assert.rejects(loadModel(dir), code('E_NOT_ONNX'));
  });
});

describe('hook order', () => {
  it('fires pre-hooks outer first and forward hooks inner first, calls in order, as PyTorch does', async () => {
    const fx = fixture('transformer');
    const model = await loadModel(fx.path);
    const events: string[] = [];
    const handles = ['attn', 'attn.q', 'attn.o', 'mlp', 'mlp.2'].flatMap((name) => [
      model.registerForwardPreHook(name, (m) => events.push(`pre ${m.name}`)),
      model.registerForwardHook(name, (m) => events.push(`fwd ${m.name}`)),
    ]);
    await model.run(Object.fromEntries(fx.inputs));
    for (const h of handles) h.remove();
    assert.deepEqual(events, [
      'pre attn',
      'pre attn.q',
      'fwd attn.q',
      'pre attn.o',
      'fwd attn.o',
      'fwd attn',
      'pre mlp',
      'pre mlp.2',
      'fwd mlp.2',
      'fwd mlp',
    ]);
  });
});
