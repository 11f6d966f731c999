/**
 * The one input-fitting rule (src/input-fit.ts) that the CLI, the data-set sources and the viewer
 * share: only float64 -> float32 is converted silently, and the channel axis of an image input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { castToInputDtype, channelLayout, imageLayout } from '../src/input-fit.js';
import type { ValueInfo } from '../src/model.js';
import type { HostTensor } from '../src/tensor.js';

const input = (dtype: ValueInfo['dtype'], shape: ValueInfo['shape'] = [1, 3]): ValueInfo => ({
  name: 'x',
  dtype,
  shape,
});
const f64: HostTensor = { type: 'float64', dims: [1, 3], data: Float64Array.from([0.1, -2, 1e-40]) };

describe('castToInputDtype', () => {
  it('converts float64 data for a float32 input, rounding as Float32Array does', () => {
    const out = castToInputDtype(input('float32'), f64);
    assert.equal(out.type, 'float32');
    assert.deepEqual(out.dims, [1, 3]);
    assert.deepEqual(Array.from(out.data as Float32Array), Array.from(Float32Array.from([0.1, -2, 1e-40])));
  });

  it('returns anything else unchanged (the same object) for the capture to accept or report', () => {
    const i64: HostTensor = { type: 'int64', dims: [1], data: BigInt64Array.from([3n]) };
    assert.equal(castToInputDtype(input('float64'), f64), f64);
    assert.equal(castToInputDtype(input('float16'), f64), f64);
    assert.equal(castToInputDtype(input('float32'), i64), i64);
    assert.equal(castToInputDtype(input('unknown'), f64), f64);
  });
});

describe('channelLayout and imageLayout', () => {
  it('puts channels on axis 1 when it holds 1 or 3 (a tie goes to PyTorch), else on axis 3', () => {
    assert.equal(channelLayout([1, 3, 224, 224]), 'nchw');
    assert.equal(channelLayout([1, 3, 3, 3]), 'nchw');
    assert.equal(channelLayout(['batch', 224, 224, 3]), 'nhwc');
    assert.equal(channelLayout([1, 16, 8, 8]), undefined);
    assert.equal(channelLayout([1, 3, 8]), undefined);
    assert.equal(channelLayout(null), undefined);
  });

  it('an image input needs a float dtype and fixed height and width', () => {
    assert.deepEqual(imageLayout(input('float32', ['N', 28, 28, 1])), {
      input: 'x',
      channels: 1,
      height: 28,
      width: 28,
      layout: 'nhwc',
    });
    assert.equal(imageLayout(input('int64', [1, 3, 8, 8])), undefined);
    assert.equal(imageLayout(input('float32', [1, 3, 'h', 'w'])), undefined);
  });
});
