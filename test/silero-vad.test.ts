/**
 * The real Silero VAD models that @ricky0123/vad-web ships (MIT; a devDependency): the legacy
 * model (names from parameters, h and c inputs) and v5 / v6 (TorchScript scopes, one state input),
 * each with the whole network inside an If on the sample rate. No PyTorch goldens exist for them,
 * so this asserts what holds without them: `layers` runs, a capture of every module and of every
 * value leaves the model's outputs bit-exact, every module is returned or reported with a reason,
 * each module is called once per run (no `:k` keys), and the untaken rate's branch is reported.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import type { Feeds } from '../src/capture/feeds.js';
import { cliFromSource } from './helpers/cli.js';

const DIST = join(import.meta.dirname, '..', 'node_modules', '@ricky0123', 'vad-web', 'dist');
const file = (version: string) => join(DIST, `silero_vad_${version}.onnx`);

/** A chunk of a sine at the rate: legacy takes 1536 samples at 16 kHz, v5 / v6 512 (half at 8 kHz). */
function feeds(version: string, sr: 8000 | 16000): Feeds {
  const n = (version === 'legacy' ? 1536 : 512) / (sr === 16000 ? 1 : 2);
  const input = { data: Float32Array.from({ length: n }, (_, i) => Math.sin(i / 5) * 0.3), dims: [1, n] };
  const rate = { data: BigInt64Array.from([BigInt(sr)]), dims: [] };
  if (version === 'legacy') {
    const zeros = () => ({ data: new Float32Array(128), dims: [2, 1, 64] });
    return { input, sr: rate, h: zeros(), c: zeros() };
  }
  return { input, state: { data: new Float32Array(256), dims: [2, 1, 128] }, sr: rate };
}

const ownKeys = (keys: readonly string[], name: string) =>
  keys.filter((k) => k === name || k.startsWith(`${name}#`) || k.startsWith(`${name}:`));

for (const version of ['legacy', 'v5', 'v6']) {
  describe(`Silero VAD ${version}`, { skip: !existsSync(file(version)) && 'package not installed' }, () => {
    it('neurotap layers lists its modules without crashing', async () => {
      const run = await cliFromSource(['layers', file(version), '--json']);
      assert.equal(run.code, 0, run.stderr);
      const body = JSON.parse(run.stdout);
      assert.ok(body.modules.length > 20, `${body.modules.length} modules`);
    });

    for (const sr of [16000, 8000] as const) {
      it(`captures every module and every value at ${sr} Hz with the outputs unchanged`, async () => {
        const model = await loadModel(file(version));
        const plain = await model.run(feeds(version, sr));
        for (const layers of ['modules', 'values'] as const) {
          const acts = await model.capture(feeds(version, sr), { layers, inputs: layers === 'modules' });
          for (const out of model.outputNames)
            assert.deepEqual(
              [...(acts.outputs[out].data as Float32Array)],
              [...(plain[out].data as Float32Array)],
              `${layers}: ${out}`,
            );
          const keys = [...acts.keys()];
          assert.ok(keys.length > 30, `${layers}: ${keys.length} keys`);
          for (const key of keys) assert.ok(acts.get(key)!.data.length > 0, key);
          if (layers === 'values') continue;
          // One call per module per run: the other rate's call site sits in the branch not taken.
          assert.deepEqual(
            keys.filter((k) => /:\d/.test(k)),
            [],
          );
          for (const m of model.modules()) {
            const reason = acts.whyNotObservable(m.name)?.reason;
            assert.ok(ownKeys(keys, m.name).length > 0 || (reason && reason.length > 20), m.name);
          }
        }
      });
    }
  });
}

describe('Silero VAD: which branch ran', { skip: !existsSync(file('v5')) && 'package not installed' }, () => {
  it('legacy: model runs at 16 kHz, model_8k at 8 kHz, the other reported not called', async () => {
    const model = await loadModel(file('legacy'));
    const dims: number[][] = [];
    for (const [sr, ran, other] of [
      [16000, 'model', 'model_8k'],
      [8000, 'model_8k', 'model'],
    ] as const) {
      const acts = await model.capture(feeds('legacy', sr), { layers: 'modules' });
      dims.push([...acts.get(`${ran}.feature_extractor`)!.dims]);
      assert.equal(acts.get(`${other}.feature_extractor`), undefined);
      assert.match(acts.whyNotObservable(`${other}.feature_extractor`)!.reason, /not called in this run/);
    }
    // Both feature extractors make the same 258 features (the frame counts differ with the hop).
    assert.deepEqual([dims[0][1], dims[1][1]], [258, 258]);
  });

  // v5 / v6 take a 32 ms chunk at either rate, and both branches make as many frames.
  it('v5 and v6: the 8 kHz chunk runs the same module names in the other branch', async () => {
    for (const version of ['v5', 'v6']) {
      const model = await loadModel(file(version));
      const [high, low] = await Promise.all(
        ([16000, 8000] as const).map((sr) => model.capture(feeds(version, sr), { layers: 'modules' })),
      );
      assert.deepEqual([...high.keys()].sort(), [...low.keys()].sort());
      assert.deepEqual(low.get('encoder.0.reparam_conv')!.dims, high.get('encoder.0.reparam_conv')!.dims);
      assert.deepEqual(low.get('decoder.rnn#0')!.dims, [1, 128]);
    }
  });
});
