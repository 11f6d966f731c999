/**
 * torchvision export patterns the sweep found (scripts/sweep/cases_vision.py, fixtures from
 * scripts/fixtures_vision.py): what `neurotap compare` says about modules a default export leaves no
 * trace of, and the reasons for the inputs the graph cannot key.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../src/node/index.js';
import { cliFromSource } from './helpers/cli.js';
import { fixture, FIXTURES } from './helpers/fixtures.js';

const fx = (...parts: string[]) => join(FIXTURES, ...parts);

interface Unmatched {
  key: string;
  reason: string;
}

describe('torchvision patterns', () => {
  it('compare explains folded BatchNorms, a Dropout and an Identity from the dump’s module tree', async () => {
    const r = await cliFromSource([
      'compare',
      fx('vision-untraced', 'model.onnx'),
      fx('vision-untraced', 'dump.npz'),
      '--input',
      fx('vision-untraced', 'input.npz'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as {
      keys: { key: string; ok: boolean }[];
      unmatched: { a: Unmatched[]; b: Unmatched[] };
    };
    assert.deepEqual(c.unmatched.a, []);
    assert.ok(c.keys.every((k) => k.ok));
    const why = new Map(c.unmatched.b.map((u) => [u.key, u.reason]));
    for (const key of ['bn1', 'in:bn1#0', 'block.0.1', 'block.2.1'])
      assert.match(
        why.get(key) ?? '',
        /^not observable in A: no trace in the graph: the reference's module is a BatchNorm2d, and this export folded BatchNorms into 3 Convs/,
        key,
      );
    assert.match(why.get('drop') ?? '', /is a Dropout, which is the identity in eval/);
    assert.match(why.get('skip') ?? '', /is an Identity, which is the identity in eval/);
    // The ReLU receives bn1(conv1(x)), which the graph holds, but a BatchNorm inside it would look the same.
    assert.match(why.get('in:relu#0') ?? '', /cannot tell whether that BatchNorm ran before this call/);
    // A folded Conv's own input (the model input here) is what it received: compared, not reported.
    assert.ok(c.keys.some((k) => k.key === 'in:conv1#0'));
    assert.ok(
      c.unmatched.b.every((u) => u.reason.startsWith('not observable in A: ')),
      r.stdout,
    );
  });

  it('compare explains the input of a call that reads only a constant-folded value (RAFT’s zero flow)', async () => {
    const dir = fx('vision-constant-input');
    const r = await cliFromSource([
      'compare',
      join(dir, 'model.onnx'),
      join(dir, 'dump.npz'),
      '--input',
      join(dir, 'input.npz'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as {
      keys: { key: string; ok: boolean }[];
      unmatched: { a: Unmatched[]; b: Unmatched[] };
    };
    assert.deepEqual(
      c.keys.map((k) => [k.key, k.ok]),
      [
        ['conv:1', true],
        ['in:conv:2#0', true],
        ['conv:2', true],
      ],
    );
    assert.deepEqual(c.unmatched.a, []);
    assert.equal(c.unmatched.b.length, 1);
    assert.equal(c.unmatched.b[0].key, 'in:conv:1#0');
    assert.match(c.unmatched.b[0].reason, /^not observable in A: no graph value enters this call/);
  });

  it('reports the inputs of a layer taking a list whose first op is torch.cat (DenseNet)', async () => {
    const f = fixture('vision-list-input');
    const model = await loadModel(f.path);
    const acts = await model.capture(Object.fromEntries(f.inputs), { layers: 'modules', inputs: true });
    assert.deepEqual(
      [...acts.keys()].filter((k) => /^in:block\.layers\.\d#/.test(k)),
      [],
      'no in: key of a list-taking layer',
    );
    assert.match(
      acts.whyNotObservable('in:block.layers.1#1')?.reason ?? '',
      /2 inputs go only into the Concat .*one list argument/,
    );
    assert.match(acts.whyNotObservable('in:block.layers.0#0')?.reason ?? '', /input goes only into the Concat/);
    assert.ok(f.goldenInputs.has('block.layers.1#0#1')); // PyTorch's key: one list argument
    assert.ok(acts.get('in:block.layers.1.conv#0')); // the Concat's output: what the conv received
  });
});
