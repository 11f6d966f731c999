/** Module names and types recovered from each exporter's traces, on fixtures and real models. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import { fixture, REAL_MODELS } from './helpers/fixtures.js';

const real = (file: string) => join(REAL_MODELS, file);

describe('module map', () => {
  for (const name of [
    'seed-mlp',
    'seed-cnn',
    'seed-custom',
    'twice',
    'rnn',
    'transformer',
    'digits-cnn',
    'resnet18-preserve',
  ]) {
    it(`${name}: the same modules and call counts as PyTorch's named_modules()`, async () => {
      const fx = fixture(name);
      const model = await loadModel(fx.path);
      const ours = new Map(model.modules().map((m) => [m.name, m]));
      for (const expected of fx.modules) {
        const found = ours.get(expected.name);
        assert.ok(found, `${name}: module ${expected.name} is missing`);
        assert.equal(found.calls, expected.calls, `${name}: calls of ${expected.name}`);
        assert.equal(found.leaf, expected.leaf, `${name}: leaf ${expected.name}`);
      }
      assert.deepEqual(
        [...ours.keys()].sort(),
        fx.modules
          .filter((m) => m.calls > 0)
          .map((m) => m.name)
          .sort(),
      );
    });
  }

  it('a repeated call exported as proj_1 is call 2 of proj, never a module proj_1', async () => {
    const model = await loadModel(fixture('twice').path);
    const names = model.modules().map((m) => m.name);
    assert.deepEqual(names, ['proj', 'act', 'out']);
    assert.equal(model.module('proj')!.calls.length, 2);
    assert.equal(model.module('proj')!.calls[1].outputs[0], '/proj_1/Gemm_output_0');
  });

  it('infers leaf types from ops when the export has no class names', async () => {
    const model = await loadModel(fixture('seed-cnn').path);
    assert.deepEqual(
      model.modules().map((m) => m.type),
      ['Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d', 'ReLU'],
    );
  });

  it('reports a Conv whose BatchNorm was folded into it as not observable, with the reason and the fix', async () => {
    const model = await loadModel(fixture('resnet18').path);
    const conv1 = model.modules().find((m) => m.name === 'conv1')!;
    assert.match(
      conv1.notObservable!.reason,
      /folded the next BatchNorm into this Conv \(weights renamed 'onnx::Conv_193'\)/,
    );
    assert.match(conv1.notObservable!.hint, /TrainingMode\.PRESERVE/);
    assert.equal(model.modules().find((m) => m.name === 'fc')!.notObservable, undefined);
    const preserved = await loadModel(fixture('resnet18-preserve').path);
    assert.equal(preserved.modules().find((m) => m.name === 'conv1')!.notObservable, undefined);
  });

  it('orders an LSTM output as PyTorch nests it: out, (h_n, c_n)', async () => {
    const model = await loadModel(fixture('rnn').path);
    const call = model.module('lstm')!.calls[0];
    assert.deepEqual(call.outputPaths, [[0], [1, 0], [1, 1]]);
    assert.deepEqual(call.outputs, ['/lstm/Transpose_1_output_0', '/lstm/LSTM_output_1', '/lstm/LSTM_output_2']);
    // The exporter skipped a transpose pair between lstm and gru: gru's graph input is time-major.
    assert.deepEqual(model.module('gru')!.calls[0].opaqueInputs, ['/lstm/Squeeze_output_0']);
  });

  it("a stacked, bidirectional LSTM: its unused h_n / c_n assembled from the layers' states, its time-major sequence reported", async () => {
    const model = await loadModel(fixture('rnn-deep').path);
    const lstm = model.module('lstm')!.calls[0];
    // Concats neurotap adds (recurrent-states.ts) after the last layer: PyTorch's h_n and c_n.
    assert.deepEqual(lstm.outputs, ['/lstm/LSTM_1_neurotap_h_n', '/lstm/LSTM_1_neurotap_c_n']);
    assert.deepEqual(lstm.outputPaths, [
      [1, 0],
      [1, 1],
    ]);
    assert.deepEqual(
      lstm.unobservableOutputs.map((u) => u.path),
      [[0]],
    );
    assert.match(lstm.unobservableOutputs[0].reason, /time-major/);
    // The GRU's h_n is used by the model, so the export concatenates it: both elements observable.
    assert.deepEqual(model.module('gru')!.calls[0].outputPaths, [[0], [1]]);
  });

  it('reads the dynamo exporter metadata (Llama, 2 layers)', async () => {
    const model = await loadModel(real('smollm-2layer-dynamo.onnx'));
    assert.equal(model.moduleNameSource, 'dynamo-metadata');
    const byName = new Map(model.modules().map((m) => [m.name, m]));
    assert.equal(byName.get('model.layers.0.self_attn.q_proj')!.type, 'Linear');
    assert.equal(byName.get('model.layers.1.mlp.act_fn')!.type, 'SiLU');
    assert.equal(byName.get('model.layers.0')!.type, 'LlamaDecoderLayer');
    assert.deepEqual(byName.get('model.layers.0.self_attn')!.children, [
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.k_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.0.self_attn.o_proj',
    ]);
    assert.equal(byName.size, 31);
  });

  it('reads scopes that survived an onnxscript rewrite (dynamo, one Conv)', async () => {
    const model = await loadModel(real('conv2d-pad-dynamo.onnx'));
    assert.deepEqual(
      model.modules().map((m) => [m.name, m.type]),
      [['conv1', 'Conv2d']],
    );
  });

  it('reads deep TorchScript scopes of a trained MCUNet', async () => {
    const model = await loadModel(real('mcunet-2species.onnx'));
    const conv = model.modules().find((m) => m.name === 'blocks.0.mobile_inverted_conv.depth_conv.conv')!;
    assert.equal(conv.type, 'Conv2d');
    assert.ok(conv.notObservable, 'its BatchNorm was folded');
  });

  it('keeps quantization nodes out of the module they follow (int8 dynamic quantization)', async () => {
    const model = await loadModel(real('mnist-mlp-dynamic-int8.onnx'));
    assert.deepEqual(
      model.modules().map((m) => [m.name, m.type, m.calls]),
      [
        ['flatten', 'Flatten', 1],
        ['fc1', 'Linear (int8)', 1],
        ['relu', 'ReLU', 2],
        ['fc2', 'Linear (int8)', 1],
        ['fc3', 'Linear (int8)', 1],
      ],
    );
    assert.deepEqual(model.module('flatten')!.calls[0].outputs, ['/flatten/Flatten_output_0']);
  });
});

describe('dynamo metadata without call numbers', () => {
  // The dynamo exporter gives both calls of `proj` the same name_scopes: x -> proj -> act -> proj.
  const meta = (scopes: string[], classes: string[]) => [
    { key: 'pkg.torch.onnx.name_scopes', value: `[${scopes.map((s) => `'${s}'`).join(', ')}]` },
    { key: 'pkg.torch.onnx.class_hierarchy', value: `[${classes.map((s) => `'${s}'`).join(', ')}]` },
  ];
  const linear = (name: string) =>
    meta(['', 'proj', name], ['__main__.M', 'torch.nn.modules.linear.Linear', 'aten.linear.default']);
  const f32 = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const proto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 18 }],
    graph: {
      name: 'm',
      node: [
        { opType: 'MatMul', name: 'node_MatMul_0', input: ['x', 'w'], output: ['mm'], metadataProps: linear('linear') },
        { opType: 'Add', name: 'node_Add_1', input: ['mm', 'b'], output: ['linear'], metadataProps: linear('linear') },
        {
          opType: 'Relu',
          name: 'node_Relu_2',
          input: ['linear'],
          output: ['relu'],
          metadataProps: meta(
            ['', 'act', 'relu'],
            ['__main__.M', 'torch.nn.modules.activation.ReLU', 'aten.relu.default'],
          ),
        },
        {
          opType: 'MatMul',
          name: 'node_MatMul_3',
          input: ['relu', 'w'],
          output: ['mm_1'],
          metadataProps: linear('linear_1'),
        },
        {
          opType: 'Add',
          name: 'node_Add_4',
          input: ['mm_1', 'b'],
          output: ['linear_1'],
          metadataProps: linear('linear_1'),
        },
      ],
      initializer: [
        { name: 'w', dataType: 1, dims: [2, 2], floatData: [1, -1, 2, 0] },
        { name: 'b', dataType: 1, dims: [2], floatData: [0.5, -3] },
      ],
      input: [f32('x', [1, 2])],
      output: [f32('linear_1', [1, 2])],
    },
  };

  it("splits a module's identical pieces into calls, and captures each", async () => {
    const model = await loadModel(encodeModel(proto));
    assert.deepEqual(
      model.modules().map((m) => [m.name, m.type, m.calls]),
      [
        ['proj', 'Linear', 2],
        ['act', 'ReLU', 1],
      ],
    );
    const acts = await model.capture({ x: { data: Float32Array.from([1, 2]), dims: [1, 2] } });
    // [1, 2] @ [[1, -1], [2, 0]] + [0.5, -3] = [5.5, -4]; relu -> [5.5, 0]; @ W + b = [6, -8.5]
    assert.deepEqual([...(acts.get('proj:1')!.data as Float32Array)], [5.5, -4]);
    assert.deepEqual([...(acts.get('act')!.data as Float32Array)], [5.5, 0]);
    assert.deepEqual([...(acts.get('proj:2')!.data as Float32Array)], [6, -8.5]);
  });
});

describe('module types a person reads', () => {
  const typesOf = async (path: string) => new Map((await loadModel(path)).modules().map((m) => [m.name, m.type]));
  const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

  it('a recurrent layer is named by its op, whatever plumbing the export put around it', async () => {
    // Silero VAD's decoder.rnn is Size+Equal+Not+If+LSTM in the graph; the transposed stacks add an Expand.
    const silero = await typesOf(
      join(import.meta.dirname, '..', 'node_modules', '@ricky0123', 'vad-web', 'dist', 'silero_vad_v5.onnx'),
    );
    assert.equal(silero.get('decoder.rnn'), 'LSTM');
    const transposed = await typesOf(join(FIXTURES, 'fused-transpose', 'model.onnx'));
    assert.deepEqual(
      ['l1', 'l2', 'l3'].map((n) => transposed.get(n)),
      ['LSTM', 'GRU', 'LSTM'],
    );
  });

  it('a layer whose weights are stored as int8 (QDQ, dynamic quantization) says so', async () => {
    const qdq = await typesOf(join(FIXTURES, 'fused-qdq', 'model.onnx'));
    assert.deepEqual(
      ['conv1', 'fc'].map((n) => qdq.get(n)),
      ['Conv2d (int8)', 'Linear (int8)'],
    );
    const dynamic = await typesOf(join(REAL_MODELS, 'mnist-mlp-dynamic-int8.onnx'));
    assert.equal(dynamic.get('fc1'), 'Linear (int8)');
  });
});
