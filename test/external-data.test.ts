/**
 * External data is read only from the model's folder: a model naming `../x.data`, an absolute
 * path, or a link leading out is refused with E_BAD_FILE before ONNX Runtime reads anything.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import { encodeModel } from '../src/onnx/codec.js';
import type { ModelProto } from '../src/onnx/types.js';

const root = mkdtempSync(join(tmpdir(), 'neurotap-external-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** y = x + w, with w ([2] float32) stored as external data at `location`. */
function modelWithExternal(location: string): Uint8Array {
  const value = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } });
  const proto: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'add',
      node: [{ opType: 'Add', name: 'add', input: ['x', 'w'], output: ['y'] }],
      initializer: [
        {
          name: 'w',
          dataType: 1,
          dims: [2],
          dataLocation: 1,
          externalData: [
            { key: 'location', value: location },
            { key: 'offset', value: '0' },
            { key: 'length', value: '8' },
          ],
        },
      ],
      input: [value('x')],
      output: [value('y')],
    },
  };
  return encodeModel(proto);
}

describe('external data outside the model folder', () => {
  const folder = join(root, 'model');
  mkdirSync(folder);
  const weights = Buffer.from(new Float32Array([10, 20]).buffer);
  writeFileSync(join(root, 'outside.data'), weights);
  writeFileSync(join(folder, 'inside.data'), weights);
  symlinkSync(join(root, 'outside.data'), join(folder, 'link.data'));
  const x = { x: { data: Float32Array.from([1, 2]), dims: [2] } };

  async function runWith(location: string) {
    const path = join(folder, `${location.replace(/\W/g, '_')}.onnx`);
    writeFileSync(path, modelWithExternal(location));
    const model = await loadModel(path);
    try {
      return await model.run(x);
    } finally {
      await model.release();
    }
  }

  it('reads weights from a file beside the model', async () => {
    const out = await runWith('inside.data');
    assert.deepEqual([...(out.y.data as Float32Array)], [11, 22]);
  });

  it("refuses '../', absolute paths and symbolic links out of the folder with E_BAD_FILE", async () => {
    for (const location of ['../outside.data', join(root, 'outside.data'), 'link.data', 'sub/../../outside.data']) {
      await assert.rejects(
        runWith(location),
        (e: unknown) =>
          isNeurotapError(e, 'E_BAD_FILE') && /lies outside its folder/.test((e as Error).message) && !!e.hint,
        location,
      );
    }
  });
});
