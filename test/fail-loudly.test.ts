/**
 * Requests that used to succeed with nothing, or fail with a runtime's raw words, fail loudly: a
 * typed error with a stable code, the exit code of bad input (2), and a message that says what
 * happened. (The CLI runs from dist/, which `npm test` builds first.)
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { isNeurotapError, loadModel } from '../src/node/index.js';
import { cli } from './helpers/dataset.js';
import { FIXTURES, REAL_MODELS } from './helpers/fixtures.js';

const RESNET = join(FIXTURES, 'resnet18', 'model.onnx'); // default export: every Conv has its BatchNorm folded
const SEED_CNN = join(FIXTURES, 'seed-cnn', 'model.onnx');
const SMOLLM = join(REAL_MODELS, 'smollm-2layer-dynamo.onnx'); // its external .data file is absent

const jsonError = (stdout: string) => JSON.parse(stdout).error as { code: string; message: string; hint: string };
const code = (c: string) => (err: unknown) => isNeurotapError(err, c as never);

describe('fail loudly', () => {
  it('a glob, RegExp or type filter that matches nothing is E_UNKNOWN_LAYER, with the nearest names', async () => {
    const run = await cli('extract', SEED_CNN, '--random', '--layers', 'layr1.*', '--json');
    assert.equal(run.code, 2);
    assert.equal(jsonError(run.stdout).code, 'E_UNKNOWN_LAYER');
    assert.match(jsonError(run.stdout).message, /'layr1\.\*' matched no module/);
    const model = await loadModel(SEED_CNN);
    await assert.rejects(model.capture({}, { layers: [{ type: 'Conv9d' }] }), code('E_UNKNOWN_LAYER'));
    await assert.rejects(model.capture({}, { layers: [/^nothing$/] }), code('E_UNKNOWN_LAYER'));
    // A pattern matching modules that an earlier one already selected still matched.
    assert.equal(model.plan({ layers: ['0', '*'] }).targets.length, model.plan({ layers: ['*'] }).targets.length);
  });

  it('a selection of only not-observable modules is E_NOT_OBSERVABLE, naming each and why', async () => {
    const run = await cli('extract', RESNET, '--random', '--layers', 'conv1,layer1.0.conv1', '--json');
    assert.equal(run.code, 2);
    const error = jsonError(run.stdout);
    assert.equal(error.code, 'E_NOT_OBSERVABLE');
    assert.match(error.message, /conv1 \(.*BatchNorm.*\); layer1\.0\.conv1 \(/);
    assert.match(error.hint, /TrainingMode\.PRESERVE/);
  });

  it("prints one hint for the not-observable modules it applies to, each module's own value name on its line", async () => {
    const run = await cli('extract', RESNET, '--random', '--layers', 'leaves');
    assert.equal(run.code, 0, run.stderr);
    const hints = run.stdout.split('\n').filter((l) => /^\s+hint/.test(l));
    const keys = run.stdout.split('\n').filter((l) => /^\s+\S+: the exporter folded/.test(l));
    assert.equal(keys.length, 20, 'every Conv of ResNet-18 has its BatchNorm folded');
    assert.equal(hints.length, 1);
    assert.match(hints[0], /hint \(all 20\): Re-export/);
    assert.match(keys[0], /^ {2}conv1: .*\(… = '\/conv1\/Conv_output_0'\)$/);
  });

  it('an explicit --probe that cannot run fails and says why; the default probe only notes it', async () => {
    const probe = await cli('layers', SMOLLM, '--probe', '--json');
    assert.equal(probe.code, 2);
    assert.equal(jsonError(probe.stdout).code, 'E_EXTERNAL_DATA_MISSING');
    assert.match(jsonError(probe.stdout).message, /--probe could not run the model .*\.onnx\.data/);
    const plain = await cli('layers', SMOLLM);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /note: output shapes are the declared ones: the probe run failed \(.*\.onnx\.data/);
  });

  const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6');
  const cudaInstalled = existsSync(join(ortBin, process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
  it('--ep cuda,cpu without the CUDA binaries runs on the CPU with a warning; --ep cuda alone is E_MISSING_DEPENDENCY', {
    skip: cudaInstalled && 'onnxruntime-node has its CUDA binaries here',
  }, async () => {
    const fallback = await cli('extract', SEED_CNN, '--random', '--ep', 'cuda,cpu', '--layers', '0', '--json');
    assert.equal(fallback.code, 0, fallback.stderr);
    assert.match(
      fallback.stderr,
      /warning: execution provider 'cuda' is not installed \(.*libonnxruntime_providers_cuda/,
    );
    assert.doesNotMatch(fallback.stderr, /onnxruntime_src|ONNXRuntimeError/, 'no raw ONNX Runtime log');
    assert.deepEqual(JSON.parse(fallback.stdout).activations[0].shape, [1, 16, 32, 32]);
    const alone = await cli('extract', SEED_CNN, '--random', '--ep', 'cuda', '--json');
    assert.equal(alone.code, 2);
    assert.equal(jsonError(alone.stdout).code, 'E_MISSING_DEPENDENCY');
    assert.match(jsonError(alone.stdout).hint, /--ep cuda,cpu/);
  });

  it('a number[] feed becomes the declared dtype; what cannot is E_INPUT_DTYPE naming it', async () => {
    const model = await loadModel(join(FIXTURES, 'seed-mlp', 'model.onnx')); // x: float32 [batch, 10]
    const values = Array.from({ length: 20 }, (_, i) => i / 7);
    const fromArray = await model.capture({ x: { data: values, dims: [2, 10] } }, { layers: ['0'] });
    const typed = await model.capture({ x: { data: Float32Array.from(values), dims: [2, 10] } }, { layers: ['0'] });
    assert.deepEqual([...(fromArray.get('0')!.data as Float32Array)], [...(typed.get('0')!.data as Float32Array)]);
    const strings = { x: { data: ['a', ...values.slice(1)], dims: [2, 10] } } as never;
    await assert.rejects(model.capture(strings), (e) => code('E_INPUT_DTYPE')(e) && /element 0 .* "a"/.test(`${e}`));
    const text = { x: { data: 'abc', dims: [2, 10] } } as never;
    await assert.rejects(model.capture(text), (e) => code('E_INPUT_DTYPE')(e) && /its data is String/.test(`${e}`));
  });

  it('a text file, an image or an archive given as the model says what the file is', async () => {
    const readme = await cli('layers', join(FIXTURES, '..', 'README.md'), '--json');
    assert.equal(readme.code, 2);
    assert.equal(jsonError(readme.stdout).code, 'E_NOT_ONNX');
    assert.match(jsonError(readme.stdout).message, /the file is text \(it starts with '# neurotap/);
    const png = new Uint8Array(readFileSync(join(FIXTURES, 'digits', 'digit-0.png')));
    await assert.rejects(loadModel(png), (e) => code('E_NOT_ONNX')(e) && /a PNG image/.test(`${e}`));
    const lfs = new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n');
    await assert.rejects(loadModel(lfs), (e) => code('E_NOT_ONNX')(e) && /Git LFS pointer/.test(`${e}`));
  });

  it('an unknown command suggests the nearest', async () => {
    const run = await cli('extrat', SEED_CNN);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Unknown command 'extrat' \(did you mean extract\?\)/);
  });
});
