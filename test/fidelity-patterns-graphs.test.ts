/**
 * Graph-level export patterns (issue 9): values the JS API cannot return, scalar shapes, local
 * functions, dynamo's torch.cond, If inside Loop and If edge cases. Values are checked against
 * PyTorch goldens by test/fidelity.test.ts; here: keys, reasons, and that nothing crashes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto, ValueInfoProto } from '../src/onnx/types.js';
import { cliFromSource } from './helpers/cli.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

function tensor(name: string, elemType: number, dims?: (number | string)[]): ValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

const cast = (name: string, input: string, to: number) => ({
  opType: 'Cast',
  name,
  input: [input],
  output: [name],
  attribute: [{ name: 'to', type: 2, i: to }],
});

describe('values ONNX Runtime JS cannot return (pattern 13)', () => {
  it('int4-quant: the int4 module output and the input it feeds are reported, the rest returned', async () => {
    const fx = fixture('int4-quant');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    assert.deepEqual([...acts.keys()].sort(), ['dequant', 'fc', 'head', 'in:fc#0', 'in:head#0', 'in:quant#0']);
    assert.match(acts.whyNotObservable('quant')!.reason, /int4/);
    assert.match(acts.notObservable.find((u) => u.key === 'in:dequant#0')!.reason, /int4/);
    assert.equal(mismatch(acts.get('dequant')!, fx.golden.get('dequant')!), undefined);
  });

  it('never fetches bfloat16, float8 or int4 values, model outputs included', async () => {
    // x -> bf16 -> float -> float8e4m3fn -> float (y); x -> int4 (q, a model output)
    const proto: ModelProto = {
      irVersion: 10,
      opsetImport: [{ domain: '', version: 21 }],
      graph: {
        name: 'narrow',
        node: [cast('b', 'x', 16), cast('bf', 'b', 1), cast('e', 'bf', 17), cast('y', 'e', 1), cast('q', 'x', 22)],
        input: [tensor('x', 1, [4])],
        output: [tensor('y', 1, [4]), tensor('q', 22, [4])],
      },
    };
    const model = await loadModel(encodeModel(proto));
    const x = { data: Float32Array.from([1, -2, 0.5, 3]), dims: [4] };
    const acts = await model.capture({ x }, { layers: 'values' });
    assert.deepEqual([...acts.keys()].sort(), ['bf', 'y']);
    assert.deepEqual([...(acts.get('y')!.data as Float32Array)], [1, -2, 0.5, 3]);
    assert.match(acts.whyNotObservable('b')!.reason, /bfloat16/);
    assert.match(acts.whyNotObservable('e')!.reason, /float8e4m3fn/);
    assert.match(acts.whyNotObservable('q')!.reason, /int4/);
    assert.match(acts.whyNotObservable('output:q')!.reason, /model output of type int4/);
    assert.deepEqual(Object.keys(acts.outputs), ['y']);
    assert.deepEqual(Object.keys(await model.run({ x })), ['y']);
  });

  it('neurotap layers probes an int4 model without aborting and names the reason', async () => {
    // In a child process: an abort there must not kill the test run.
    const run = await cliFromSource(['layers', join(FIXTURES, 'int4-quant', 'model.onnx')]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /quant .*not observable: a tensor of type int4/);
    assert.match(run.stdout, /4 modules, 4 leaves, 1 not observable/);
  });
});

describe('scalar shapes (pattern 14)', () => {
  it('a declared shape [] is a scalar, distinct from no shape, in modules() and inputs', async () => {
    const proto: ModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'scalars',
        node: [
          {
            opType: 'ReduceSum',
            name: '/total/ReduceSum',
            input: ['x'],
            output: ['s'],
            attribute: [{ name: 'keepdims', type: 2, i: 0 }],
          },
          { opType: 'Mul', name: '/scale/Mul', input: ['s', 'g'], output: ['y'] },
          { opType: 'Relu', name: '/act/Relu', input: ['y'], output: ['z'] },
        ],
        input: [tensor('x', 1, [3]), tensor('g', 1, [])],
        valueInfo: [tensor('s', 1, []), tensor('y', 1)],
        output: [tensor('z', 1, [])],
      },
    };
    const model = await loadModel(encodeModel(proto));
    const shapes = Object.fromEntries(model.modules().map((m) => [m.name, m.outputShapes]));
    assert.deepEqual(shapes, { total: [[[]]], scale: [[null]], act: [[[]]] });
    const acts = await model.capture({
      x: { data: Float32Array.from([1, 2, 3]), dims: [3] },
      g: { data: Float32Array.from([2]), dims: [] },
    });
    assert.deepEqual(acts.get('act')!.dims, []);
    assert.equal((acts.get('act')!.data as Float32Array)[0], 12);
  });

  it('scalar-input: --random makes the 0-d input, layers --json declares it []', async () => {
    const path = join(FIXTURES, 'scalar-input', 'model.onnx');
    const layers = JSON.parse((await cliFromSource(['layers', path, '--json', '--no-probe'])).stdout);
    assert.deepEqual(
      layers.inputs.map((v: { name: string; shape: unknown }) => [v.name, v.shape]),
      [
        ['x', ['batch', 4]],
        ['gain', []],
      ],
    );
    assert.deepEqual(
      layers.modules.map((m: { outputShapes: unknown }) => m.outputShapes),
      [[[null]], [[['batch', 3]]]],
    );
    const run = await cliFromSource(['extract', path, '--random', '--json']);
    assert.equal(run.code, 0);
    const out = JSON.parse(run.stdout);
    assert.ok(JSON.stringify(out).includes('"act"'), run.stdout.slice(0, 300));
  });
});

/** x -> If(cond) { a: Relu } else { b: Neg } -> y, the condition given by `cond`. */
function ifModel(cond: { initializer?: boolean; input?: boolean }, withElse = true): ModelProto {
  const branch = (name: string, op: string, module: string) => ({
    name,
    node: [{ opType: op, name: `/${module}/${op}`, input: ['x'], output: [`${module}_out`] }],
    output: [tensor(`${module}_out`, 1, [2])],
  });
  const branches = [{ name: 'then_branch', type: 5, g: branch('then', 'Relu', 'a') }];
  if (withElse) branches.push({ name: 'else_branch', type: 5, g: branch('else', 'Neg', 'b') });
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'if',
      node: [
        { opType: 'If', name: '/If', input: ['c'], output: ['h'], attribute: branches },
        { opType: 'Sigmoid', name: '/head/Sigmoid', input: ['h'], output: ['y'] },
      ],
      input: [tensor('x', 1, [2]), ...(cond.input ? [tensor('c', 9, [])] : [])],
      initializer:
        cond.initializer === undefined
          ? []
          : [{ name: 'c', dataType: 9, dims: [], int32Data: [cond.initializer ? 1 : 0] }],
      output: [tensor('y', 1, [2])],
    },
  };
}

describe('If inside Loop and If edge cases (pattern 11)', () => {
  it('loop-branch: each iteration’s taken branch gets its own key, counted as PyTorch counts calls', async () => {
    const fx = fixture('loop-branch');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
    const expected = [...fx.golden.keys()].filter((k) => !k.startsWith('__output__'));
    assert.deepEqual([...acts.keys()].sort(), expected.sort());
    // shared:2 ran in iteration 1 (the else branch), between the then branch's shared:1 and shared:3.
    for (const key of expected) assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
    assert.equal(mismatch(acts.outputs.output, fx.golden.get('__output__#0')!), undefined);
  });

  it('loop-branch with one iteration: step_b reported not called in any iteration', async () => {
    const fx = fixture('loop-branch');
    const model = await loadModel(fx.path);
    const feeds = { x: fx.inputs.get('x')!, steps: { data: BigInt64Array.from([1n]), dims: [] } };
    const acts = await model.capture(feeds, { layers: ['step_a', 'step_b', 'shared'] });
    assert.deepEqual([...acts.keys()].sort(), ['shared', 'step_a']);
    assert.match(acts.whyNotObservable('step_b')!.reason, /not called in this run/);
  });

  it('an If whose condition is an initializer or a graph input', async () => {
    const x = { data: Float32Array.from([1, -2]), dims: [2] };
    for (const value of [true, false]) {
      const fromInit = await loadModel(encodeModel(ifModel({ initializer: value })));
      const acts = await fromInit.capture({ x }, { layers: 'leaves' });
      assert.deepEqual([...acts.keys()].sort(), [value ? 'a' : 'b', 'head']);
      assert.match(acts.whyNotObservable(value ? 'b' : 'a')!.reason, /not called in this run/);
      const fromInput = await loadModel(encodeModel(ifModel({ input: true })));
      const c = { data: Uint8Array.from([value ? 1 : 0]), dims: [], type: 'bool' as const };
      const acts2 = await fromInput.capture({ x, c }, { layers: 'leaves' });
      assert.deepEqual([...acts2.keys()].sort(), [value ? 'a' : 'b', 'head']);
      assert.deepEqual([...(acts2.get(value ? 'a' : 'b')!.data as Float32Array)], value ? [1, 0] : [-1, 2]);
    }
  });

  it('an If without else_branch: listed, its branch values reported, the run fails as a typed error', async () => {
    const model = await loadModel(encodeModel(ifModel({ input: true }, false)));
    assert.deepEqual(
      model.modules().map((m) => m.name),
      ['a', 'head'],
    );
    const plan = model.plan({ layers: 'leaves' });
    assert.match(plan.notObservable.find((u) => u.key === 'a')!.reason, /without an else_branch/);
    const x = { data: Float32Array.from([1, -2]), dims: [2] };
    const c = { data: Uint8Array.from([1]), dims: [], type: 'bool' as const };
    // ONNX Runtime itself refuses such a model (else_branch is required): a NeurotapError, no TypeError.
    await assert.rejects(model.capture({ x, c }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_RUNTIME');
      assert.match(err.message, /else_branch/);
      return true;
    });
  });
});

describe('modules exported as ONNX local functions (pattern 9)', () => {
  for (const name of ['local-functions', 'local-functions-all']) {
    it(`${name}: each function call is a module call, class from the function, values inside captured`, async () => {
      const fx = fixture(name);
      const model = await loadModel(fx.path);
      assert.deepEqual(
        model.modules().map((m) => [m.name, m.type, m.calls]),
        [
          ['b1', 'FnBlock', 2],
          ['b1.fc', 'Linear', 2],
          ['b2', 'FnBlock2', 1],
          ['b2.fc1', 'Linear', 1],
          ['b2.fc2', 'Linear', 1],
          ['head', 'Linear', 1],
        ],
      );
      const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
      const expected = [...fx.golden.keys()].filter((k) => !k.startsWith('__output__'));
      assert.deepEqual([...acts.keys()].sort(), expected.sort());
      // b1.fc:2 lives inside the second call of the b1 function.
      assert.equal(mismatch(acts.get('b1.fc:2')!, fx.golden.get('b1.fc:2')!), undefined);
      // The plain run (original bytes, functions not inlined) gives the same outputs.
      const plain = await model.run(Object.fromEntries(fx.inputs));
      assert.equal(mismatch(plain[model.outputNames[0]], fx.golden.get('__output__#0')!), undefined);
    });
  }

  it('layers lists the function modules instead of 0 modules', async () => {
    const run = await cliFromSource(['layers', join(FIXTURES, 'local-functions', 'model.onnx'), '--no-probe']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /6 modules, 4 leaves, 0 not observable/);
    assert.match(run.stdout, /b1 +FnBlock +2/);
  });
});

describe('dynamo export of torch.cond (pattern 10)', () => {
  // dynamo-cond-functions: the same graph with each branch a pkg.torch.__subgraph__ local function.
  for (const name of ['dynamo-cond', 'dynamo-cond-functions']) {
    it(`${name}: names the modules inside the If from parameter names and the branch structure`, async () => {
      const fx = fixture(name);
      const model = await loadModel(fx.path);
      assert.equal(model.moduleNameSource, 'dynamo-metadata');
      assert.deepEqual(
        model
          .modules()
          .map((m) => m.name)
          .sort(),
        ['encoder', 'encoder.0', 'encoder.1', 'encoder.2', 'head_neg', 'head_pos'],
      );
      const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
      assert.deepEqual([...acts.keys()].sort(), ['encoder', 'encoder.0', 'encoder.2', 'head_pos']);
      for (const key of acts.keys()) assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
      assert.match(acts.whyNotObservable('encoder.1')!.reason, /no node of the export is named after it/);
      assert.match(acts.whyNotObservable('head_neg')!.reason, /not called in this run/);
    });

    it(`${name}: the other branch, a negative sum, runs head_neg and its own encoder call site`, async () => {
      const fx = fixture(name);
      const model = await loadModel(fx.path);
      const x = { data: Float32Array.from((fx.inputs.get('x')!.data as Float32Array).map((v) => -v)), dims: [2, 4] };
      const acts = await model.capture({ x }, { layers: 'modules' });
      assert.deepEqual([...acts.keys()].sort(), ['encoder', 'encoder.0', 'encoder.2', 'head_neg']);
      const plain = await model.run({ x });
      assert.deepEqual([...(acts.outputs.getitem.data as Float32Array)], [...(plain.getitem.data as Float32Array)]);
    });
  }
});

describe('string inputs (the conformance corpus has them)', () => {
  it('a string input takes a string[] feed', async () => {
    const proto: ModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'strings',
        node: [
          { opType: 'Cast', name: 'cast', input: ['s'], output: ['f'], attribute: [{ name: 'to', type: 2, i: 1 }] },
        ],
        input: [tensor('s', 8, [2])],
        output: [tensor('f', 1, [2])],
      },
    };
    const model = await loadModel(encodeModel(proto));
    const acts = await model.capture({ s: { type: 'string', dims: [2], data: ['1.5', '-2'] } }, { layers: 'values' });
    assert.deepEqual([...(acts.get('f')!.data as Float32Array)], [1.5, -2]);
  });
});

describe('local functions wrapping containers (pattern 9)', () => {
  it('local-functions-nested: a ReLU between two children of a Sequential belongs to it, not to the call', async () => {
    const fx = fixture('local-functions-nested');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
    assert.deepEqual([...acts.keys()].sort(), ['b1', 'b1.seq', 'b1.seq.0', 'b1.seq.2', 'head']);
    for (const key of acts.keys()) assert.equal(mismatch(acts.get(key)!, fx.golden.get(key)!), undefined, key);
    assert.match(acts.whyNotObservable('b1.seq.1')!.reason, /no node of the export is named after it/);
  });

  it('local-functions-wrapper: a call holding exactly its child’s parameters reports the child ambiguous', async () => {
    const fx = fixture('local-functions-wrapper');
    const model = await loadModel(fx.path);
    assert.equal(model.module('b1')?.type, 'WrapperBlock');
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules' });
    assert.deepEqual([...acts.keys()].sort(), ['b1', 'b1.seq.0', 'b1.seq.2', 'head']);
    assert.match(acts.whyNotObservable('b1.seq')!.reason, /^ambiguous: a local function call of class WrapperBlock/);
  });
});
