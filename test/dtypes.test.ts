/** True dtypes of captured values, and dequantization of int8 models inside the graph. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';
import { REAL_MODELS } from './helpers/fixtures.js';

const INT8 = join(REAL_MODELS, 'mnist-mlp-dynamic-int8.onnx');

describe('dtypes', () => {
  it('returns float16, int64 and bool values with their own dtype', async () => {
    // x (float16) -> Cast to float32 -> Greater 0 (bool); Shape (int64)
    const tensor = (name: string, elemType: number, dims: (number | string)[]) => ({
      name,
      type: {
        tensorType: {
          elemType,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const proto: ModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'dtypes',
        node: [
          { opType: 'Relu', name: 'relu', input: ['x'], output: ['h'] },
          { opType: 'Cast', name: 'cast', input: ['h'], output: ['f'], attribute: [{ name: 'to', type: 2, i: 1 }] },
          { opType: 'Shape', name: 'shape', input: ['f'], output: ['s'] },
          { opType: 'Greater', name: 'gt', input: ['f', 'zero'], output: ['y'] },
        ],
        initializer: [{ name: 'zero', dataType: 1, dims: [], floatData: [0] }],
        input: [tensor('x', 10, [2])],
        output: [tensor('y', 9, [2]), tensor('s', 7, [1])],
      },
    };
    const model = await loadModel(encodeModel(proto));
    const half = Uint16Array.from([0x3c00, 0xc000]); // 1, -2
    const acts = await model.capture({ x: { data: half, dims: [2], type: 'float16' } }, { layers: 'values' });
    assert.equal(acts.get('h')!.type, 'float16');
    assert.deepEqual([...(acts.get('h')!.data as Uint16Array)], [0x3c00, 0]);
    assert.equal(acts.get('f')!.type, 'float32');
    assert.equal(acts.get('s')!.type, 'int64');
    assert.deepEqual([...(acts.get('s')!.data as BigInt64Array)], [2n]);
    assert.equal(acts.get('y')!.type, 'bool');
  });
});

describe('dequantize (dynamic int8 MLP)', () => {
  const feeds = () => ({ input: { data: Float32Array.from({ length: 50 }, (_, i) => (i % 7) / 6), dims: [2, 25] } });

  it('keeps uint8 by default and turns it into floats on request', async () => {
    const model = await loadModel(INT8);
    const q = '/flatten/Flatten_output_0_quantized';
    const raw = await model.capture(feeds(), { layers: [q, '/flatten/Flatten_output_0'] });
    assert.equal(raw.get(q)!.type, 'uint8');
    const deq = await model.capture(feeds(), {
      layers: [q, '/flatten/Flatten_output_0', '/flatten/Flatten_output_0_scale'],
      dequantize: true,
    });
    const floats = deq.get(q)!.data as Float32Array;
    const reference = deq.get('/flatten/Flatten_output_0')!.data as Float32Array;
    const scale = (deq.get('/flatten/Flatten_output_0_scale')!.data as Float32Array)[0];
    assert.equal(deq.get(q)!.type, 'float32');
    for (let i = 0; i < reference.length; i++)
      assert.ok(Math.abs(floats[i] - reference[i]) <= scale / 2 + 1e-6, `element ${i}`);
  });
});
