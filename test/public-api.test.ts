/**
 * The public API, pinned: the runtime exports of each package entry, and the public members of
 * NeurotapModel. A change here is a change to what users import, so it must be deliberate (update
 * the lists and the README); internals (the graph index, the module map, the decoded proto) stay private.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NeurotapModel } from '../src/model.js';

const CORE = [
  'ActivationCache',
  'NeurotapError',
  'NeurotapModel',
  'add',
  'clamp',
  'compareCaches',
  'compareModels',
  'decodeModel',
  'encodeModel',
  'encodeNpy',
  'encodeNpz',
  'encodeSafetensors',
  'float16ToFloat32',
  'isNeurotapError',
  'parseNpy',
  'parseNpz',
  'parseSafetensors',
  'parseTokenizer',
  'patchFrom',
  'replace',
  'scale',
  'zero',
];

const ENTRIES: Record<string, { path: string; exports: string[] }> = {
  'neurotap/core': { path: '../src/index.js', exports: CORE },
  neurotap: {
    path: '../src/node/index.js',
    exports: [...CORE, 'loadModel', 'loadTokenizer', 'nodeRuntime', 'resolveExecutionProviders'],
  },
  'neurotap/web': { path: '../src/web.js', exports: [...CORE, 'loadModel', 'loadWebRuntime'] },
  'neurotap/dataset': {
    path: '../src/node/dataset/index.js',
    exports: [
      'MANIFEST_FORMAT',
      'S3DatasetStore',
      'SHARD_VARIABLES',
      'arraySource',
      'chunkCount',
      'chunkRange',
      'computeNeuronStats',
      'defaultChunkSize',
      'defaultNeuronAxis',
      'extractDataset',
      'listStore',
      'openDataSource',
      'shardChunks',
      'shardFromEnvironment',
      'statsToCsv',
      'statsToJson',
      'verifyStore',
      'writeDataset',
    ],
  },
};

/** Every public member of a model; `keyof` leaves out private ones, and the literal must list exactly these. */
const MODEL_MEMBERS: Record<keyof NeurotapModel, true> = {
  bytes: true,
  callOrder: true,
  capture: true,
  inputNames: true,
  inputRole: true,
  inputs: true,
  lens: true,
  lensHead: true,
  module: true,
  moduleEvidence: true,
  moduleNameSource: true,
  modules: true,
  outputNames: true,
  outputs: true,
  plan: true,
  prepare: true,
  registerForwardHook: true,
  registerForwardPreHook: true,
  release: true,
  run: true,
  valueInfo: true,
  valueNames: true,
  valuePosition: true,
  weightBytes: true,
};

describe('public API', () => {
  for (const [entry, { path, exports }] of Object.entries(ENTRIES)) {
    it(`${entry} exports exactly what it documents`, async () => {
      const module = await import(path);
      assert.deepEqual(Object.keys(module).sort(), [...exports].sort());
    });
  }

  it('NeurotapModel has exactly its public members at run time (methods and getters; bytes is a field)', () => {
    const onPrototype = Object.getOwnPropertyNames(NeurotapModel.prototype).filter((n) => n !== 'constructor');
    assert.deepEqual([...onPrototype, 'bytes'].sort(), Object.keys(MODEL_MEMBERS).sort());
  });
});
