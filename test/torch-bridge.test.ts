/**
 * neurotap_torch.py on our fixture models (fixtures/bridge/, written by `make_fixtures.py bridge`):
 * `dump` records what scripts/make_fixtures.py records, and an `export`ed model shows every key of
 * the dump, equal to it, with names and classes from the markers, including what a default export
 * cannot show (a Conv before its BatchNorm, a U-Net skip, `_, h = gru(x)`). Plus the helper
 * itself run live when Debian's torch is installed, and `neurotap torch-helper`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compareCaches, inExecutionOrder } from '../src/compare/compare.js';
import * as ort from 'onnxruntime-node';
import { parseNpz } from '../src/formats/npz.js';
import { decodeModel } from '../src/onnx/codec.js';
import { parseSafetensors } from '../src/formats/safetensors.js';
import { loadModel } from '../src/node/index.js';
import type { HostTensor } from '../src/tensor.js';
import { cliFromSource } from './helpers/cli.js';
import { fixture, FIXTURES } from './helpers/fixtures.js';
import { hasTorch } from './helpers/python.js';

const ROOT = join(import.meta.dirname, '..');
/** Fixture folders with PyTorch goldens. bridge-cases has none (see fixtures/bridge/README.md): its input and default export sit in fixtures/bridge/bridge-cases/. */
const SOURCES = ['seed-mlp', 'twice', 'rnn', 'rnn-deep', 'transformer', 'attention', 'fused-bn', 'fused-transpose'];
const bridge = (source: string, file: string) => join(FIXTURES, 'bridge', source, file);
const CASES = 'bridge-cases';
const defaultExport = (source: string) =>
  source === CASES ? bridge(CASES, 'default.onnx') : join(FIXTURES, source, 'model.onnx');
const feedsOf = (source: string) =>
  Object.fromEntries(
    source === CASES ? parseNpz(new Uint8Array(readFileSync(bridge(CASES, 'input.npz')))) : fixture(source).inputs,
  );

function readDump(path: string): Map<string, HostTensor> {
  const tensors = parseNpz(new Uint8Array(readFileSync(path)));
  tensors.delete('__metadata__');
  return tensors;
}

describe('neurotap_torch.dump', () => {
  for (const source of SOURCES) {
    it(`${source}: the dump is what make_fixtures.py records`, () => {
      const dump = readDump(bridge(source, 'dump.npz'));
      const { golden, goldenInputs } = fixture(source);
      const expected = new Map([...golden].filter(([k]) => !k.startsWith('__output__')));
      for (const [k, v] of goldenInputs) expected.set(`in:${k}`, v);
      assert.deepEqual([...dump.keys()].sort(), [...expected.keys()].sort());
      const c = compareCaches(dump, expected, { atol: 1e-6, rtol: 1e-5 });
      assert.equal(c.firstDivergence, null, JSON.stringify(c.keys.find((k) => !k.ok)));
    });
  }

  it('stores the module tree in the metadata', () => {
    const raw = parseNpz(new Uint8Array(readFileSync(bridge('twice', 'dump.npz'))));
    const meta = JSON.parse(new TextDecoder().decode(raw.get('__metadata__')!.data as Uint8Array));
    assert.deepEqual(JSON.parse(meta['neurotap.modules']), [
      { name: 'proj', type: 'Linear', calls: 2 },
      { name: 'act', type: 'ReLU', calls: 2 },
      { name: 'out', type: 'Linear', calls: 1 },
    ]);
  });
});

describe('neurotap_torch.export', () => {
  for (const source of [...SOURCES, CASES]) {
    it(`${source}: every key of the dump is captured from the export, equal to it (rtol 1e-4)`, async () => {
      const model = await loadModel(bridge(source, 'model.onnx'));
      assert.equal(model.moduleNameSource, 'neurotap-export');
      const feeds = feedsOf(source);
      const acts = await model.capture(feeds, { layers: 'modules', inputs: true });
      const c = compareCaches(inExecutionOrder(model, acts), readDump(bridge(source, 'dump.npz')), {
        atol: 1e-5,
        rtol: 1e-4,
      });
      assert.deepEqual(c.unmatched, { a: [], b: [] });
      assert.equal(c.firstDivergence, null, JSON.stringify(c.keys.find((k) => !k.ok)));
      // Only modules PyTorch never called (attention's mha.out_proj), as in the dump.
      assert.ok(acts.notObservable.every((u) => u.reason.startsWith('not called when the model was exported')));
      // Plain inference: the markers change nothing.
      const plain = await (await loadModel(defaultExport(source))).run(feeds);
      const marked = await model.run(feeds);
      for (const name of Object.keys(plain)) assert.deepEqual(marked[name].dims, plain[name].dims);
    });
  }

  it('shows what the default export cannot, with true class names', async () => {
    const feeds = feedsOf(CASES);
    const plain = await loadModel(defaultExport(CASES));
    assert.ok(plain.module('stem')?.notObservable, 'the default export folds stem_bn into stem');
    const marked = await loadModel(bridge('bridge-cases', 'model.onnx'));
    assert.equal(marked.module('stem')?.notObservable, undefined);
    assert.equal(marked.module('down')?.type, 'Down');
    assert.equal(marked.module('gru')?.type, 'GRU');
    const acts = await marked.capture(feeds, { layers: ['stem', 'stem_bn', 'down.conv', 'gru'], inputs: true });
    assert.deepEqual(
      [...acts.keys()].sort(),
      [
        'gru#0',
        'gru#1',
        'in:down.conv#0',
        'in:gru#0',
        'in:stem#0',
        'in:stem_bn#0',
        'stem',
        'stem_bn',
        'down.conv',
      ].sort(),
    );
    assert.deepEqual(acts.get('gru#0')?.dims, [2, 4, 6]); // the unused output sequence
  });

  it('runs on ONNX Runtime as the default export does: its optimiser removes every marker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'neurotap-optimised-'));
    const optimisedOps = async (path: string) => {
      const out = join(dir, 'optimised.onnx');
      const options = {
        optimizedModelFilePath: out,
        graphOptimizationLevel: 'extended' as const,
        logSeverityLevel: 3 as const,
      };
      await (await ort.InferenceSession.create(path, options)).release();
      return (decodeModel(new Uint8Array(readFileSync(out))).graph?.node ?? []).map((n) => n.opType).sort();
    };
    try {
      for (const source of ['seed-mlp', 'fused-bn', 'rnn', 'transformer']) {
        const marked = await optimisedOps(bridge(source, 'model.onnx'));
        assert.ok(!marked.includes('Identity'), source);
        const plain = await optimisedOps(defaultExport(source));
        // In the transformer, ORT fuses one pattern more in the marked export (GELU's bias into BiasGelu).
        if (source === 'transformer') assert.equal(marked.length, plain.length - 1);
        else assert.deepEqual(marked, plain, source);
      }
      // `_, h = gru(x)`: the marked export keeps the output sequence PyTorch computes (its
      // batch-first layout: a Squeeze and a Transpose) that the default export drops as unused.
      const cases = await optimisedOps(bridge('bridge-cases', 'model.onnx'));
      const plainCases = await optimisedOps(defaultExport(CASES));
      assert.deepEqual(cases, [...plainCases, 'Squeeze', 'Transpose'].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names modules "from neurotap-export" in layers', async () => {
    const layers = await cliFromSource(['layers', bridge('fused-bn', 'model.onnx'), '--no-probe']);
    assert.equal(layers.code, 0, layers.stderr);
    const run = layers.stdout;
    assert.match(run, /names from neurotap-export/);
    assert.match(run, /stem\s+ConvOnly/);
  });
});

describe('neurotap_torch.py live', { skip: hasTorch() ? false : 'no /usr/bin/python3 with torch' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'neurotap-torch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('dumps to .safetensors with model outputs and the module tree, found by neurotap torch-helper --path', async () => {
    const found = await cliFromSource(['torch-helper', '--path']);
    assert.equal(found.code, 0, found.stderr);
    const helper = found.stdout.trim();
    assert.equal(helper, join(ROOT, 'python', 'neurotap_torch.py'));
    const out = join(dir, 'seed-mlp.safetensors');
    const script = [
      'import sys, torch, torch.nn as nn',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'python'))})`,
      'import neurotap_torch',
      'torch.manual_seed(0)',
      'model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)).eval()',
      'x = torch.randn(2, 10)',
      `neurotap_torch.dump(model, (x,), ${JSON.stringify(out)}, output_names=["output"])`,
    ].join('\n');
    await new Promise<void>((resolve, reject) =>
      execFile('/usr/bin/python3', ['-c', script], (err) => (err ? reject(err) : resolve())),
    );
    const file = parseSafetensors(new Uint8Array(readFileSync(out)));
    assert.deepEqual([...file.tensors.keys()], ['0', '1', '2', 'output:output']);
    assert.deepEqual(
      JSON.parse(file.metadata['neurotap.modules']).map((m: { type: string }) => m.type),
      ['Linear', 'ReLU', 'Linear'],
    );
    const { golden } = fixture('seed-mlp'); // the same seed and model as make_fixtures.py's seed-mlp
    const c = compareCaches(
      file.tensors,
      new Map([...golden].map(([k, v]) => [k.replace('__output__#0', 'output:output'), v])),
    );
    assert.equal(c.firstDivergence, null);
    assert.equal(c.keys.length, 4);
  });
});
