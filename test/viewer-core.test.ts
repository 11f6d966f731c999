/**
 * The pure drawing helpers shared by the viewer and the report: shape to view, colour scales,
 * histograms, top units, exact number formatting, figures and their pixel-to-element mapping,
 * image inputs and random inputs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { colorOf, scaleFor } from '../src/viewer-core/colors.js';
import { drawFigure } from '../src/viewer-core/figure.js';
import { formatExact, formatStat } from '../src/viewer-core/format.js';
import { histogram, histogramBars, topUnits } from '../src/viewer-core/histogram.js';
import { imageLayout } from '../src/input-fit.js';
import { boxDownsample, pixelsToTensor, tensorPixels } from '../src/viewer-core/inputs.js';
import { layerData } from '../src/viewer-core/layer-data.js';
import { unravel, viewOf } from '../src/viewer-core/layer-view.js';
import { topClasses } from '../src/viewer-core/predict.js';
import { randomInputs } from '../src/viewer-core/random-input.js';
import { modulesInCallOrder, treeRows } from '../src/viewer-core/module-tree.js';
import { loadModel } from '../src/node/index.js';
import type { ValueInfo } from '../src/model.js';

const ramp = (n: number, f = (i: number) => i) => Float32Array.from({ length: n }, (_, i) => f(i));

describe('layer views', () => {
  it('picks maps, units or sequences from the shape', () => {
    assert.deepEqual(viewOf([1, 16, 8, 8]), {
      kind: 'maps',
      batch: 1,
      channels: 16,
      rows: 8,
      cols: 8,
      sampleSize: 1024,
    });
    assert.equal(viewOf([2, 10]).kind, 'units');
    assert.equal(viewOf([1, 64, 1, 1]).kind, 'units');
    assert.deepEqual(viewOf([1, 12, 32]), {
      kind: 'sequence',
      batch: 1,
      channels: 1,
      rows: 12,
      cols: 32,
      sampleSize: 384,
    });
    assert.deepEqual(viewOf([1, 4, 3, 5, 6]), {
      kind: 'maps',
      batch: 1,
      channels: 4,
      rows: 15,
      cols: 6,
      sampleSize: 360,
    });
    assert.equal(viewOf([]).sampleSize, 1);
    assert.deepEqual(unravel(1 * 64 + 5 * 8 + 2, [1, 16, 8, 8]), [0, 1, 5, 2]);
  });
});

describe('colours, histograms, numbers', () => {
  it('uses a zero-centred diverging scale as soon as a value is negative', () => {
    assert.deepEqual(scaleFor(-2, 5), { kind: 'diverging', lo: -5, hi: 5 });
    assert.deepEqual(scaleFor(0, 3), { kind: 'sequential', lo: 0, hi: 3 });
    assert.deepEqual(colorOf(scaleFor(-1, 1), 0).map(Math.round), [247, 247, 247]);
    assert.deepEqual(colorOf(scaleFor(0, 1), NaN), [128, 128, 128]);
  });

  it('counts values into bins and skips NaN', () => {
    const h = histogram([0, 0.5, 1, NaN, 1], 0, 1, 4);
    assert.deepEqual(h.counts, [1, 0, 1, 2]);
    assert.deepEqual(histogram([2, 2], 2, 2).counts, [2]);
    const bars = histogramBars(h, 40, 20);
    assert.equal(bars[3].height, 20);
    assert.equal(bars[1].height, 0);
  });

  it('finds the largest units, largest first', () => {
    assert.deepEqual(topUnits([3, 9, NaN, 7, 1], 0, 5, 2), [
      { index: 1, value: 9 },
      { index: 3, value: 7 },
    ]);
    assert.deepEqual(
      topUnits([5, 1, 6], 1, 2, 5).map((u) => u.index),
      [1, 0],
    );
  });

  it('prints the shortest text that reads back as the same float32', () => {
    assert.equal(formatExact(Math.fround(0.1)), '0.1');
    assert.equal(formatExact(Math.fround(1 / 3)), '0.33333334');
    assert.equal(Math.fround(Number(formatExact(Math.fround(2.316)))), Math.fround(2.316));
    assert.equal(formatStat(1234.5678), '1235');
    assert.equal(formatStat(1e-5), '1.000e-5');
  });

  it('ranks classes by softmax', () => {
    const top = topClasses([1, 3], [0, 2, 1], 2)!;
    assert.deepEqual(
      top.map((c) => c.index),
      [1, 2],
    );
    assert.ok(Math.abs(top[0].probability - Math.exp(2) / (1 + Math.exp(1) + Math.exp(2))) < 1e-12);
    assert.equal(topClasses([1, 3, 4], ramp(12)), undefined);
  });
});

describe('figures', () => {
  it('maps every pixel of a feature-map grid back to its element', () => {
    const values = ramp(16 * 8 * 8);
    const figure = drawFigure(values, viewOf([1, 16, 8, 8]), scaleFor(0, 1023), { maxWidth: 300 });
    assert.ok(figure.width <= 300 && figure.width > 0);
    const seen = new Set<number>();
    for (let y = 0; y < figure.height; y++) {
      for (let x = 0; x < figure.width; x++) {
        const index = figure.indexAt(x, y);
        const alpha = figure.rgba[(y * figure.width + x) * 4 + 3];
        assert.equal(alpha === 255, index >= 0, `pixel ${x},${y}`);
        if (index >= 0) seen.add(index);
      }
    }
    assert.equal(seen.size, 1024, 'every element is drawn');
  });

  it('caps the number of maps and reports how many it drew', () => {
    const figure = drawFigure(ramp(300 * 4), viewOf([1, 300, 2, 2]), scaleFor(0, 1), { maxMaps: 128 });
    assert.deepEqual([figure.shown, figure.total], [128, 300]);
  });

  it('draws few units as bars and many as a strip, with the top units', () => {
    const bars = drawFigure(
      ramp(10, (i) => i - 3),
      viewOf([1, 10]),
      scaleFor(-3, 6),
    );
    assert.deepEqual(
      bars.top.map((u) => u.index),
      [9, 8, 7, 6, 5],
    );
    assert.equal(bars.indexAt(bars.width - 1, 5), 9);
    const strip = drawFigure(ramp(256), viewOf([1, 256]), scaleFor(0, 255), { maxWidth: 640 });
    assert.equal(strip.indexAt(0, 0), 0);
    assert.equal(strip.indexAt(strip.width - 1, strip.height - 1), 255);
  });

  it('draws a sequence as time x units', () => {
    const figure = drawFigure(ramp(12 * 32), viewOf([1, 12, 32]), scaleFor(0, 383));
    assert.equal(figure.indexAt(0, figure.height - 1), 11 * 32);
    assert.equal(figure.indexAt(figure.width - 1, 0), 31);
  });

  it('summarizes a captured tensor once, for drawing', () => {
    const layer = layerData('fc', 'fc', { type: 'float32', dims: [1, 4], data: Float32Array.from([-1, 0, 1, 2]) })!;
    assert.equal(layer.summary.mean, 0.5);
    assert.equal(layer.summary.fractionPositive, 0.5);
    assert.equal(
      layer.histogram.counts.reduce((a, b) => a + b),
      4,
    );
    assert.equal(layerData('s', undefined, { type: 'string', dims: [1], data: ['a'] }), undefined);
  });
});

describe('inputs', () => {
  const digits: ValueInfo = { name: 'image', dtype: 'float32', shape: ['batch', 1, 8, 8] };

  it('recognises image inputs and converts pixels both ways', () => {
    const layout = imageLayout(digits)!;
    assert.deepEqual(layout, { input: 'image', channels: 1, height: 8, width: 8, layout: 'nchw' });
    assert.equal(imageLayout({ name: 'x', dtype: 'float32', shape: ['batch', 'time', 8] }), undefined);
    assert.equal(imageLayout({ name: 'x', dtype: 'int64', shape: [1, 3, 8, 8] }), undefined);
    const rgba = new Uint8ClampedArray(64 * 4).map((_, i) => (i % 4 === 3 ? 255 : Math.floor(i / 4) * 4));
    const tensor = pixelsToTensor(rgba, layout);
    assert.deepEqual(tensor.dims, [1, 1, 8, 8]);
    assert.ok(Math.abs((tensor.data as Float32Array)[10] - 40 / 255) < 1e-6);
    assert.deepEqual(Array.from(tensorPixels(tensor.data as Float32Array, layout)).slice(40, 44), [40, 40, 40, 255]);
  });

  it('averages a drawing down to the input size', () => {
    const big = new Uint8ClampedArray(4 * 4 * 4);
    for (let i = 0; i < 4; i++) big.set([255, 255, 255, 255], (i * 4 + i) * 4); // the diagonal
    const small = boxDownsample(big, 4, 4, 2, 2);
    assert.deepEqual([small[0], small[4], small[8], small[12]], [128, 0, 0, 128]);
  });

  it('makes seeded random normal inputs at the declared shapes', () => {
    const inputs: ValueInfo[] = [
      { name: 'x', dtype: 'float32', shape: ['batch', 'time', 8] },
      { name: 'ids', dtype: 'int64', shape: [1, 'seq'] },
    ];
    const a = randomInputs(inputs, 0);
    assert.deepEqual(a.x.dims, [1, 16, 8]);
    assert.deepEqual(a.ids.dims, [1, 16]);
    assert.deepEqual(a.x.data, randomInputs(inputs, 0).x.data);
    assert.notDeepEqual(a.x.data, randomInputs(inputs, 1).x.data);
    const values = a.x.data as Float32Array;
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    assert.ok(Math.abs(mean) < 0.25, `mean ${mean}`);
    assert.throws(() => randomInputs([{ name: 'x', dtype: 'float32', shape: null }], 0), { code: 'E_BAD_ARGUMENT' });
  });
});

describe('module tree', () => {
  it('lists modules depth-first in the order the forward pass calls them', async () => {
    const model = await loadModel(join(import.meta.dirname, '..', 'fixtures', 'transformer', 'model.onnx'));
    const rows = treeRows(modulesInCallOrder(model)).map((r) => `${r.depth}:${r.module.name}`);
    assert.deepEqual(rows.slice(0, 6), ['0:ln1', '0:attn', '1:attn.q', '1:attn.k', '1:attn.v', '1:attn.o']);
    assert.equal(rows.length, model.modules().length);
  });
});
