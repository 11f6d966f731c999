/**
 * Models that are not well formed fail at load with E_BAD_FILE naming the node (exit 2 in the
 * CLI), not at run time as E_RUNTIME: a value nothing produces, a graph output nothing produces,
 * a cycle. Out-of-order but acyclic nodes still load (ONNX Runtime sorts them).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto, NodeProto } from '../src/onnx/types.js';

const value = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } });

function model(nodes: NodeProto[], output = 'y'): Uint8Array {
  const proto: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'g', node: nodes, input: [value('x')], output: [value(output)] },
  };
  return encodeModel(proto);
}

const relu = (name: string, input: string, output: string): NodeProto => ({
  opType: 'Relu',
  name,
  input: [input],
  output: [output],
});
const malformed = (message: RegExp) => (e: unknown) =>
  isNeurotapError(e, 'E_BAD_FILE') && message.test((e as Error).message) && !!e.hint;

describe('model structure', () => {
  it('names the node reading a value nothing produces', async () => {
    await assert.rejects(
      loadModel(model([relu('a', 'x', 'h'), relu('b', 'ghost', 'y')])),
      malformed(/node 'b' \(Relu\) reads 'ghost', which no node/),
    );
  });

  it('names a graph output nothing produces', async () => {
    await assert.rejects(
      loadModel(model([relu('a', 'x', 'h')], 'nowhere')),
      malformed(/graph output 'nowhere' is produced by no node/),
    );
  });

  it('names a node on a cycle', async () => {
    const nodes = [
      relu('a', 'x', 'h'),
      { opType: 'Add', name: 'b', input: ['h', 'z'], output: ['y'] },
      relu('c', 'y', 'z'),
    ];
    await assert.rejects(
      loadModel(model(nodes)),
      malformed(/node '[bc]' \((Add|Relu)\) depends on its own output \(a cycle\)/),
    );
  });

  it('accepts nodes out of topological order', async () => {
    const m = await loadModel(model([relu('b', 'h', 'y'), relu('a', 'x', 'h')]));
    const out = await m.run({ x: { data: Float32Array.from([-1, 3]), dims: [2] } });
    assert.deepEqual([...(out.y.data as Float32Array)], [0, 3]);
  });
});
