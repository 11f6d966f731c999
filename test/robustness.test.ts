/**
 * Corrupted models never crash the process and never surface a raw error: every failure is a
 * NeurotapError with a code (bytes are checked before ONNX Runtime sees them).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import { fixture } from './helpers/fixtures.js';

describe('corrupted model bytes', () => {
  it('gives typed errors for 200 randomly mutated copies of a model', async () => {
    const base = new Uint8Array(readFileSync(fixture('seed-mlp').path));
    let state = 7;
    const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const bytes = base.slice();
      for (let k = 1 + Math.floor(random() * 4); k > 0; k--)
        bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      let outcome = 'ok';
      try {
        const model = await loadModel(bytes);
        await model.capture({ x: { data: new Float32Array(20), dims: [2, 10] } }, { layers: 'values' });
        await model.release();
      } catch (err) {
        assert.ok(isNeurotapError(err), `mutation ${i} threw a raw error: ${String(err)}`);
        outcome = err.code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    // All kinds happen: rejected by the decoder, by the structure check (a renamed value: the
    // node reading it is named), and by the runtime (what only it checks, such as types).
    assert.ok(
      (outcomes.get('E_NOT_ONNX') ?? 0) + (outcomes.get('E_TRUNCATED') ?? 0) > 10,
      JSON.stringify([...outcomes]),
    );
    assert.ok((outcomes.get('E_BAD_FILE') ?? 0) > 10, JSON.stringify([...outcomes]));
    assert.ok((outcomes.get('E_RUNTIME') ?? 0) > 0, JSON.stringify([...outcomes]));
  });
});
