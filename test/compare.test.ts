/**
 * `compareCaches` / `compareModels` and `neurotap compare`: a model against itself, a copy with one
 * weight perturbed, int8 against float, fp16 against fp32, a PyTorch reference file, the exit codes,
 * and the HTML report drawn in Chromium.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { compareCaches, compareModels } from '../src/compare/compare.js';
import { float32ToFloat16Bits } from '../src/compare/cast-feeds.js';
import { compareValues } from '../src/compare/metrics.js';
import { decodeModel, loadModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { fixture, FIXTURES, REAL_MODELS } from './helpers/fixtures.js';
import { cliFromSource } from './helpers/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const fx = (...parts: string[]) => join(FIXTURES, ...parts);

/** The bytes of an ONNX file with one float of one initializer changed (initializers are views into the bytes). */
async function perturbed(path: string, initializer: string, delta: number): Promise<Uint8Array> {
  const model = await loadModel(path);
  const t = decodeModel(model.bytes).graph!.initializer!.find((i) => i.name === initializer);
  assert.ok(t?.rawData, `${initializer} in ${path}`);
  const bytes = model.bytes.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset + (t.rawData.byteOffset - model.bytes.byteOffset), 4);
  view.setFloat32(0, view.getFloat32(0, true) + delta, true);
  return bytes;
}

const run = (...args: string[]) => cliFromSource(args);

const t32 = (values: number[]): HostTensor => ({
  type: 'float32',
  dims: [values.length],
  data: Float32Array.from(values),
});

describe('compare metrics', () => {
  it('computes maxAbs, maxRel, SQNR, cosine and the share over tolerance', () => {
    const m = compareValues(Float32Array.from([1, 2, 3, 4]), Float32Array.from([1, 2, 3, 5]), { atol: 0.1, rtol: 0 });
    assert.equal(m.maxAbs, 1);
    assert.equal(m.maxRel, 0.2);
    assert.equal(m.overTolerance, 0.25);
    assert.ok(Math.abs(m.sqnrDb - 10 * Math.log10(1 + 4 + 9 + 25)) < 1e-12);
    assert.ok(Math.abs(m.cosine - 34 / Math.sqrt(30 * 39)) < 1e-12);
  });

  it('counts NaN and Inf; the same non-finite value on both sides agrees', () => {
    const same = compareCaches(
      new Map([['k', t32([Number.NaN, Infinity, 1])]]),
      new Map([['k', t32([Number.NaN, Infinity, 1])]]),
    );
    assert.deepEqual(
      [same.keys[0].nanA, same.keys[0].infB, same.keys[0].overTolerance, same.keys[0].ok],
      [1, 1, 0, true],
    );
    const one = compareCaches(new Map([['k', t32([Number.NaN, 1])]]), new Map([['k', t32([0, 1])]]));
    assert.deepEqual(
      [one.keys[0].nanA, one.keys[0].nanB, one.keys[0].overTolerance, one.firstDivergence],
      [1, 0, 0.5, 'k'],
    );
  });

  it('reports differing shapes without metrics, and keys of one side with a reason', () => {
    const c = compareCaches(
      new Map([
        ['a', t32([1, 2])],
        ['x', t32([1])],
      ]),
      new Map([
        ['a', t32([1, 2, 3])],
        ['y', t32([1])],
      ]),
    );
    assert.equal(c.keys[0].problem, 'shapes differ');
    assert.equal(c.keys[0].maxAbs, undefined);
    assert.equal(c.firstDivergence, 'a');
    assert.deepEqual(c.unmatched, {
      a: [{ key: 'x', reason: "B holds no key 'x'" }],
      b: [{ key: 'y', reason: "A holds no key 'y'" }],
    });
  });

  it('casts float32 to float16 bits as numpy does (round to nearest even)', () => {
    assert.deepEqual(
      [1, -2, 65504, 1e6, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 0.1].map(float32ToFloat16Bits),
      [0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x3c00, 0x3c02, 0x2e66],
    );
  });
});

describe('compareModels', () => {
  it('gives all zeros for a model compared with itself', async () => {
    const { path, inputs } = fixture('resnet18-preserve');
    const c = await compareModels(await loadModel(path), await loadModel(path), Object.fromEntries(inputs));
    assert.equal(c.keys.length, 75); // every module call of resnet18, containers included
    assert.ok(c.keys.every((k) => k.ok && k.maxAbs === 0 && k.sqnrDb === Infinity && k.cosine === 1));
    assert.equal(c.firstDivergence, null);
    assert.deepEqual(c.unmatched, { a: [], b: [] });
  });

  it('names a key of the perturbed block first, every earlier key ok', async () => {
    const { path, inputs } = fixture('resnet18-preserve');
    const bytes = await perturbed(path, 'layer3.0.conv1.weight', 5);
    const c = await compareModels(await loadModel(bytes), await loadModel(path), Object.fromEntries(inputs));
    assert.equal(c.firstDivergence, 'layer3.0.conv1');
    const first = c.keys.findIndex((k) => k.key === c.firstDivergence);
    assert.ok(first > 30 && c.keys.slice(0, first).every((k) => k.ok && k.maxAbs === 0));
    assert.ok(c.keys.slice(0, first).every((k) => !k.key.startsWith('layer3') && !k.key.startsWith('layer4')));
    assert.ok(!c.keys.find((k) => k.key === 'layer3')!.ok && !c.keys.find((k) => k.key === 'fc')!.ok);
  });

  it('matches an int8 model with its float twin by module name', async () => {
    const { path, inputs } = fixture('mnist-mlp-float');
    const int8 = await loadModel(join(REAL_MODELS, 'mnist-mlp-dynamic-int8.onnx'));
    const c = await compareModels(int8, await loadModel(path), Object.fromEntries(inputs), { atol: 0.05, rtol: 0.05 });
    assert.deepEqual(
      c.keys.map((k) => k.key),
      ['flatten', 'fc1', 'relu:1', 'fc2', 'relu:2', 'fc3'],
    );
    assert.deepEqual(c.unmatched, { a: [], b: [] });
    assert.equal(c.keys[0].maxAbs, 0); // before any quantization
    for (const k of c.keys.slice(1)) {
      assert.equal(k.dtypeA, 'float32'); // dequantized
      assert.ok(k.cosine! > 0.999 && k.sqnrDb! > 25 && k.sqnrDb! < 80, `${k.key}: ${k.cosine} ${k.sqnrDb}`);
    }
  });

  it('matches an fp16 export with its fp32 export key by key within fp16 tolerance', async () => {
    const { path, inputs } = fixture('seed-cnn');
    const fp16 = await loadModel(fx('compare', 'seed-cnn-fp16.onnx'));
    const c = await compareModels(fp16, await loadModel(path), Object.fromEntries(inputs), { atol: 1e-2, rtol: 1e-2 });
    assert.deepEqual(
      c.keys.map((k) => [k.key, k.dtypeA, k.dtypeB, k.ok]),
      ['0', '1', '2', '3', '4'].map((key) => [key, 'float16', 'float32', true]),
    );
    assert.ok(c.keys.every((k) => k.maxAbs! > 0 && k.sqnrDb! > 50));
  });
});

describe('neurotap compare', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'neurotap-compare-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for a model and itself, 3 with the first divergence when a weight differs, 2 on bad input', async () => {
    const model = fx('digits-cnn', 'model.onnx');
    const input = fx('digits-cnn', 'input.npz');
    const self = await run('compare', model, model, '--input', input, '--json');
    assert.equal(self.code, 0, self.stderr);
    const same = JSON.parse(self.stdout);
    assert.equal(same.firstDivergence, null);
    assert.ok(
      same.keys.length === 9 &&
        same.keys.every((k: { maxAbs: number; sqnrDb: null }) => k.maxAbs === 0 && k.sqnrDb === null),
    );
    const changed = join(dir, 'changed.onnx');
    writeFileSync(changed, await perturbed(model, 'fc1.weight', 1));
    const diverged = await run('compare', changed, model, '--input', input);
    assert.equal(diverged.code, 3, diverged.stderr);
    assert.match(diverged.stdout, /first divergence: fc1 \(3 of 9 keys over atol 0\.0001, rtol 0\.001\)/);
    const bad = await run('compare', model, model, '--json');
    assert.equal(bad.code, 2);
    assert.equal(JSON.parse(bad.stdout).error.code, 'E_BAD_ARGUMENT');
    const badTol = await run('compare', model, model, '--input', input, '--atol', 'x', '--json');
    assert.equal(JSON.parse(badTol.stdout).error.code, 'E_BAD_ARGUMENT');
  });

  it('compares against a reference .npz of PyTorch activations, naming what the export cannot show', async () => {
    const r = await run(
      'compare',
      fx('resnet18', 'model.onnx'),
      fx('resnet18', 'golden.npz'),
      '--input',
      fx('resnet18', 'input.npz'),
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.ok(c.keys.some((k: { key: string }) => k.key === 'layer4.1.relu:2'));
    const conv1 = c.unmatched.b.find((u: { key: string }) => u.key === 'conv1');
    assert.match(conv1.reason, /^not observable in A: .*BatchNorm/);
  });

  it('finds every key of a neurotap_torch dump in the marked export, within 1e-4, on two execution providers', async () => {
    const dir = fx('bridge', 'fused-bn');
    const r = await run(
      'compare',
      join(dir, 'model.onnx'),
      join(dir, 'dump.npz'),
      '--input',
      fx('fused-bn', 'input.npz'),
      '--rtol',
      '1e-4',
      '--atol',
      '1e-5',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.equal(c.keys.length, 24); // 12 modules: outputs and inputs
    assert.deepEqual(c.unmatched, { a: [], b: [] });
    const eps = await run(
      'compare',
      join(dir, 'model.onnx'),
      join(dir, 'model.onnx'),
      '--input',
      fx('fused-bn', 'input.npz'),
      '--ep-a',
      'cpu',
      '--ep-b',
      'cpu',
      '--json',
    );
    assert.equal(eps.code, 0, eps.stderr);
    assert.ok(JSON.parse(eps.stdout).keys.every((k: { maxAbs: number }) => k.maxAbs === 0));
  });

  it('writes a self-contained report whose SQNR chart Chromium draws', {
    skip: existsSync(CHROMIUM) || process.env.CI ? false : 'no Chromium',
    timeout: 60_000,
  }, async () => {
    const model = fx('digits-cnn', 'model.onnx');
    const changed = join(dir, 'changed-report.onnx');
    writeFileSync(changed, await perturbed(model, 'conv2.weight', 0.3));
    const report = join(dir, 'cmp.html');
    const r = await run('compare', changed, model, '--input', fx('digits-cnn', 'input.npz'), '--report', report);
    assert.equal(r.code, 3, r.stderr);
    const html = readFileSync(report, 'utf8');
    assert.ok(!/<script|src="http|href="http/.test(html));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${report}`);
      const drawn = await page.evaluate(() => {
        const line = document.querySelector('#sqnr-chart polyline') as SVGPolylineElement;
        const box = line.getBBox();
        return {
          points: line.points.length,
          width: box.width,
          height: box.height,
          over: document.querySelectorAll('#sqnr-chart circle.over').length,
          cards: document.querySelectorAll('section.card').length,
          bars: document.querySelectorAll('section.card.over .err-hist rect').length,
        };
      });
      assert.equal(drawn.points, 9);
      assert.ok(drawn.width > 500 && drawn.height > 50, JSON.stringify(drawn));
      assert.equal(drawn.over, 7); // conv2 and everything after it
      assert.equal(drawn.cards, 9);
      assert.ok(drawn.bars > 0);
    } finally {
      await browser.close();
    }
  });
});
