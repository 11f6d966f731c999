/**
 * Control flow beyond one Loop (issue 9, pattern 11): an If inside a Scan body (captured through
 * the equivalent Loop), nested loops (in: keys only where the branch ran, calls numbered across
 * depths). Values are checked against PyTorch goldens by test/fidelity.test.ts; here: the exact
 * key sets, the model's outputs under capture, and when the Scan rewrite applies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scansAsLoops } from '../src/graph/scan-as-loop.js';
import { loadModel } from '../src/node/index.js';
import { decodeModel } from '../src/onnx/codec.js';
import type { GraphProto, ModelProto, NodeProto } from '../src/onnx/types.js';
import { parseNpz } from '../src/formats/npz.js';
import { FIXTURES, fixture, mismatch } from './helpers/fixtures.js';

const goldenKeys = (fx: ReturnType<typeof fixture>) =>
  [...fx.golden.keys(), ...[...fx.goldenInputs.keys()].map((k) => `in:${k}`)]
    .filter((k) => !k.startsWith('__output__'))
    .sort();
/** A capture key's golden: golden_inputs.npz holds `in:` keys without the prefix. */
const goldenOf = (fx: ReturnType<typeof fixture>, key: string) =>
  key.startsWith('in:') ? fx.goldenInputs.get(key.slice(3))! : fx.golden.get(key)!;

function opTypes(graph: GraphProto): string[] {
  return (graph.node ?? []).flatMap((n) => [
    n.opType ?? '',
    ...(n.attribute ?? []).flatMap((a) => (a.g ? opTypes(a.g) : [])),
  ]);
}

describe('If inside a Scan body', () => {
  it('scan-branch: each step’s taken branch gets its own key, inputs only where it ran', async () => {
    const fx = fixture('scan-branch');
    const model = await loadModel(fx.path);
    const feeds = Object.fromEntries(fx.inputs);
    const acts = await model.capture(feeds, { layers: 'modules', inputs: true });
    // Steps 0, 2, 4 took the else branch (neg), steps 1, 3 the then branch (pos).
    assert.deepEqual([...acts.keys()].sort(), goldenKeys(fx));
    assert.ok(acts.get('neg:3') && acts.get('pos:2') && !acts.get('pos:3'));
    for (const key of goldenKeys(fx)) {
      assert.equal(mismatch(acts.get(key)!, goldenOf(fx, key)), undefined, key);
    }
    // The rewritten graph computes what the Scan computes: outputs equal the plain run's, bit for bit.
    const plain = await model.run(feeds);
    for (const name of model.outputNames)
      assert.deepEqual([...(acts.outputs[name].data as Float32Array)], [...(plain[name].data as Float32Array)], name);
  });

  it('a Scan is rewritten only when its body holds an If, and only from opset 11', () => {
    const proto = decodeModel(new Uint8Array(readFileSync(fixture('scan-branch').path)));
    const rewritten = scansAsLoops(proto)!;
    assert.deepEqual(
      opTypes(rewritten.graph!).filter((op) => op === 'Scan' || op === 'Loop' || op === 'If'),
      ['Loop', 'If'],
    );
    // The original model is untouched (plain runs use it).
    assert.ok(opTypes(proto.graph!).includes('Scan'));
    const scan = proto.graph!.node![0];
    const body = scan.attribute!.find((a) => a.name === 'body')!.g!;
    const withoutIf: NodeProto = {
      ...scan,
      attribute: scan.attribute!.map((a) =>
        a.name === 'body' ? { ...a, g: { ...body, node: body.node!.filter((n) => n.opType !== 'If') } } : a,
      ),
    };
    const noIf: ModelProto = { ...proto, graph: { ...proto.graph, node: [withoutIf] } };
    assert.equal(scansAsLoops(noIf), undefined);
    assert.equal(scansAsLoops({ ...proto, opsetImport: [{ domain: '', version: 9 }] }), undefined);
  });
});

describe('nested loops', () => {
  it('loop-nested: in: keys only for the iterations that ran the branch, calls numbered across depths', async () => {
    const fx = fixture('loop-nested');
    const model = await loadModel(fx.path);
    const acts = await model.capture(Object.fromEntries(fx.inputs), { layers: 'modules', inputs: true });
    assert.deepEqual([...acts.keys()].sort(), goldenKeys(fx));
    // f:1 is the outer body's call in iteration 0, f:2 the inner body's first; c ran once (iteration 2).
    for (const key of ['f:1', 'f:2', 'f:12', 'in:even:4#0', 'in:b#0', 'c', 'in:c#0'])
      assert.equal(mismatch(acts.get(key)!, goldenOf(fx, key)), undefined, key);
  });
});

describe('TorchScript names without any scope', () => {
  it('scripted-scopeless: every module reported (none guessed), the outputs unchanged', async () => {
    const dir = join(FIXTURES, 'scripted-scopeless');
    const npz = (f: string) => parseNpz(new Uint8Array(readFileSync(join(dir, f))));
    const hooks = npz('hooks.npz');
    const model = await loadModel(join(dir, 'model.onnx'));
    assert.match(model.moduleEvidence.warning ?? '', /^no module call was found in the graph/);
    const acts = await model.capture(Object.fromEntries(npz('input.npz')), { layers: 'modules', inputs: true });
    assert.deepEqual([...acts.keys()], []);
    assert.equal(mismatch(acts.outputs.output, hooks.get('__output__#0')!), undefined);
    // Each module PyTorch called (its parameters or its container's name prove it) is listed "no trace";
    // only tail.1, a trailing ReLU, leaves no evidence at all.
    const modules = new Set([...hooks.keys()].filter((k) => !k.startsWith('__')).map((k) => k.split(':')[0]));
    for (const name of modules)
      if (name === 'tail.1') assert.equal(acts.whyNotObservable(name), undefined);
      else assert.match(acts.whyNotObservable(name)?.reason ?? '', /^no trace in the graph/, name);
  });
});
