/**
 * The default export of the bridge's hard cases (Conv before its BatchNorm, a U-Net skip,
 * `_, h = gru(x)`) against neurotap_torch's dump of the PyTorch model: every key returned equals
 * PyTorch; every other key is reported, except the folded BatchNorms, which leave no trace.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseNpz } from '../src/formats/npz.js';
import { loadModel } from '../src/node/index.js';
import { FIXTURES, mismatch } from './helpers/fixtures.js';

const DIR = join(FIXTURES, 'bridge', 'bridge-cases');
const npz = (file: string) => parseNpz(new Uint8Array(readFileSync(join(DIR, file))));

describe('default export of the bridge cases', () => {
  it('returns only what equals the PyTorch dump and reports the rest', async () => {
    const dump = npz('dump.npz');
    const model = await loadModel(join(DIR, 'default.onnx'));
    const acts = await model.capture(Object.fromEntries(npz('input.npz')), { layers: 'modules', inputs: true });
    for (const key of acts.keys()) {
      assert.ok(dump.has(key), `'${key}' is not a key PyTorch produced`);
      assert.equal(mismatch(acts.get(key)!, dump.get(key)!), undefined, `${key} differs from PyTorch`);
    }
    // The hard cases: h of `_, h = gru(x)` is gru#1, the unused sequence is reported, not a bare 'gru'.
    assert.ok(acts.get('gru#1'));
    assert.equal(acts.get('gru'), undefined);
    assert.match(acts.whyNotObservable('gru')?.reason ?? '', /output sequence/);
    assert.match(acts.whyNotObservable('stem')?.reason ?? '', /BatchNorm/);
    const unexplained = [...dump.keys()].filter((key) => {
      if (key === '__metadata__' || key.startsWith('output:') || acts.get(key)) return false;
      const module = key.replace(/^in:/, '').split(/[:#]/)[0];
      return !/(^|\.)(stem_)?bn$/.test(module) && !acts.whyNotObservable(module);
    });
    assert.deepEqual(unexplained, []);
  });
});
