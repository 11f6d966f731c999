/**
 * Issue 9's tuple, recurrent, container and completeness patterns (fixtures written by
 * scripts/fixtures_tuples.py): which keys come back, equal to PyTorch's hooks, and which are reported
 * not observable with which reason. fidelity.test.ts checks the tensors of every fixture as well.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import { fixture, mismatch } from './helpers/fixtures.js';

async function captureAll(name: string) {
  const fx = fixture(name);
  const model = await loadModel(fx.path);
  const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
  for (const [key, tensor] of acts) {
    const expected = fx.golden.get(key);
    assert.ok(expected, `${name}: '${key}' is not a PyTorch hook key`);
    assert.equal(mismatch(tensor, expected), undefined, `${name}: ${key}`);
  }
  model.outputNames.forEach((out, i) =>
    assert.equal(mismatch(acts.outputs[out], fx.golden.get(`__output__#${i}`)!), undefined, `output ${out}`),
  );
  const reported = Object.fromEntries(acts.notObservable.map((u) => [u.key, u.reason]));
  return { keys: [...acts.keys()].sort(), reported, model };
}

describe('tuple outputs (issue 9, patterns 1-3)', () => {
  it('a U-Net block returning (pool(h), h), h also read inside: ambiguous order, reported whole', async () => {
    const { keys, reported } = await captureAll('tuples-unet');
    assert.deepEqual(keys, ['down.conv', 'down.pool', 'mid', 'out']);
    assert.deepEqual(Object.keys(reported), ['down']);
    assert.match(
      reported.down,
      /^ambiguous: 2 values leave this call .*\/down\/conv\/Conv_output_0' \(also read inside\)/,
    );
  });

  it('a cell returning (h, c) with c used for h: reported, never h alone under the bare key', async () => {
    const { keys, reported } = await captureAll('tuples-cell');
    assert.deepEqual(keys, ['cell.gates', 'head']);
    assert.match(reported.cell, /^ambiguous: 2 values .*'c' \(also read inside\)/);
  });

  it('a dict output {feat, logits(feat)}: reported, no key PyTorch does not have', async () => {
    const { keys, reported } = await captureAll('tuples-dict');
    assert.deepEqual(keys, ['enc.body', 'enc.head']);
    assert.match(reported.enc, /a tuple, a dict or an escaped intermediate/);
  });

  it('(q, p) both read by one Concat: no order evidence, reported instead of guessed', async () => {
    const { keys, reported } = await captureAll('tuples-order');
    assert.deepEqual(keys, ['split.p', 'split.q']);
    assert.match(reported.split, /nor in which order PyTorch returns them/);
  });

  it('an order from the outputs the elements reach (attention: output, weights)', async () => {
    const { keys } = await captureAll('attention');
    assert.ok(keys.includes('mha#0') && keys.includes('mha#1'));
  });

  it('return x, f(x): the input read next to the output outside makes it ambiguous', async () => {
    const { keys, reported } = await captureAll('tuples-pass');
    assert.deepEqual(keys, ['head', 'pair.lin', 'pre']);
    assert.match(reported.pair, /may return its input as a tuple element/);
  });

  it('a residual x + block(x) stays observable (a sum is no tuple)', async () => {
    const { keys } = await captureAll('transformer');
    assert.ok(keys.includes('ln1') && keys.includes('attn'));
  });
});

describe('recurrent outputs (issue 9, pattern 4)', () => {
  it('_, h = gru(x): gru#1 is h_n, gru#0 reported; never h_n under the bare key', async () => {
    const { keys, reported } = await captureAll('tuples-rnn-state');
    assert.ok(keys.includes('gru#1') && !keys.includes('gru'));
    assert.match(reported['gru#0'], /never uses the output sequence/);
  });
});

describe('containers dropped from scopes (issue 9, pattern 8)', () => {
  it('parameter paths name ModuleDict children: blocks.0.proj.q, heads.a (never blocks.0.q, a)', async () => {
    const { keys, model } = await captureAll('tuples-containers');
    assert.deepEqual(keys, [
      'blocks.0',
      'blocks.0.proj.k',
      'blocks.0.proj.q',
      'blocks.1',
      'blocks.1.proj.k',
      'blocks.1.proj.q',
      'heads.a',
    ]);
    // The ModuleDicts never ran: no call, so no module entry and no hook.
    assert.equal(model.module('blocks.0.proj'), undefined);
    assert.equal(model.module('heads'), undefined);
  });
});

describe('silent completeness (issue 9, pattern 15)', () => {
  it('a Dropout and an Identity (no node in eval) are listed as "no trace in the graph"', async () => {
    const { keys, reported, model } = await captureAll('tuples-no-trace');
    assert.deepEqual(keys, ['0', '3', '4']);
    assert.deepEqual(Object.keys(reported).sort(), ['1', '2']);
    assert.match(reported['1'], /^no trace in the graph: its numbered siblings ran/);
    assert.deepEqual(
      model.modules().map((m) => [m.name, m.calls]),
      [
        ['0', 1],
        ['1', 0],
        ['2', 0],
        ['3', 1],
        ['4', 1],
      ],
    );
    assert.equal(model.moduleEvidence.summary, '3 from scoped node names, 2 with no trace in the graph');
    assert.equal(model.moduleEvidence.warning, undefined);
  });

  it('counts modules named by parameter paths', async () => {
    const model = await loadModel(fixture('tuples-containers').path);
    assert.equal(model.moduleEvidence.summary, '2 from scoped node names, 5 named by parameter paths');
  });

  it('parameters naming modules that no node is scoped to: listed, and a warning', async () => {
    const f32 = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } });
    const proto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'flat',
        node: [
          { opType: 'Mul', name: '/Mul', input: ['x', 'enc.scale'], output: ['m'] },
          { opType: 'Add', name: '/Add', input: ['m', 'head.bias'], output: ['y'] },
        ],
        initializer: [
          { name: 'enc.scale', dataType: 1, dims: [2], floatData: [2, 3] },
          { name: 'head.bias', dataType: 1, dims: [2], floatData: [1, 1] },
        ],
        input: [f32('x')],
        output: [f32('y')],
      },
    };
    const model = await loadModel(encodeModel(proto));
    assert.deepEqual(
      model.modules().map((m) => [m.name, m.calls, m.notObservable?.reason.split(',')[0]]),
      [
        ['enc', 0, "no trace in the graph: the model holds its parameter 'enc.scale'"],
        ['head', 0, "no trace in the graph: the model holds its parameter 'head.bias'"],
      ],
    );
    assert.equal(model.moduleEvidence.summary, '0 from scoped node names, 2 with no trace in the graph');
    assert.match(model.moduleEvidence.warning ?? '', /^no module call was found in the graph, while 2 modules/);
  });
});
