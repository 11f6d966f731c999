/**
 * What users reach for: the file formats and `acts.save` from the library, typed accessors, keys
 * renamed as torchvision's return_nodes, values between modules by module-relative names, hooks on
 * `capture`, and `--layers type:…` / `/re/` on the command line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { npyFileName } from '../src/node/files.js';
import {
  encodeNpy,
  encodeNpz,
  encodeSafetensors,
  isNeurotapError,
  loadModel,
  parseNpy,
  parseNpz,
  parseSafetensors,
} from '../src/node/index.js';
import { cli } from './helpers/dataset.js';
import { FIXTURES, fixture } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'neurotap-user-api-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const twice = fixture('twice'); // proj and act called twice, out once
const x = () => twice.inputs.get('x')!;
const code = (c: string) => (err: unknown) => isNeurotapError(err, c as never);
const values = (t: { data: unknown }) => [...(t.data as Float32Array)];

describe('formats from the library entry', () => {
  it('npy, npz and safetensors round-trip through the exported readers and writers', () => {
    const t = { type: 'float32' as const, dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) };
    assert.deepEqual(values(parseNpy(encodeNpy(t))), values(t));
    assert.deepEqual(parseNpz(encodeNpz([['a:1', t]])).get('a:1')?.dims, [2, 3]);
    assert.deepEqual(values(parseSafetensors(encodeSafetensors(new Map([['k', t]]))).tensors.get('k')!), values(t));
  });

  it('.npy file names are valid on every OS: no `:` or separators, reserved names escaped; index.json keeps the key', () => {
    assert.equal(npyFileName('proj:2#0'), 'proj%3A2#0.npy');
    assert.equal(npyFileName('/fc/Add_output_0'), '%2Ffc%2FAdd_output_0.npy');
    assert.equal(npyFileName('a<b>|c?*"'), 'a%3Cb%3E%7Cc%3F%2A%22.npy');
    assert.equal(npyFileName('CON'), 'CON%.npy');
    assert.equal(npyFileName('x.'), 'x.%.npy');
  });
});

describe('what a capture gives back', async () => {
  const model = await loadModel(join(FIXTURES, 'twice', 'model.onnx'));

  it('acts.save writes npz, safetensors or a directory that read back as the capture (outputs as output:NAME)', async () => {
    const acts = await model.capture({ x: x() });
    for (const out of ['a.npz', 'a.safetensors', 'dir/']) {
      const path = join(tmp, out);
      const saved = await acts.save(path);
      const back = out.endsWith('/')
        ? new Map(
            Object.entries(JSON.parse(readFileSync(join(path, 'index.json'), 'utf8')) as Record<string, string>).map(
              ([key, file]) => [key, parseNpy(new Uint8Array(readFileSync(join(path, file))))],
            ),
          )
        : out.endsWith('.npz')
          ? parseNpz(new Uint8Array(readFileSync(path)))
          : parseSafetensors(new Uint8Array(readFileSync(path))).tensors;
      assert.deepEqual(
        [...back.keys()].sort(),
        [...acts.keys(), ...Object.keys(acts.outputs).map((o) => `output:${o}`)].sort(),
      );
      for (const [key, t] of acts) assert.deepEqual(values(back.get(key)!), values(t), `${out} ${key}`);
      if (out.endsWith('/'))
        assert.ok(
          readdirSync(path).every((f) => !f.includes(':')),
          saved.files.join(),
        );
    }
  });

  it('typed accessors: acts.float32(key) without a cast; a wrong dtype or an absent key is a typed error', async () => {
    const acts = await model.capture({ x: x() }, { layers: ['proj'] });
    const data: Float32Array = acts.float32('proj:1');
    assert.equal(data, acts.get('proj:1')!.data);
    assert.throws(() => acts.int64('proj:1'), code('E_BAD_ARGUMENT'));
    assert.throws(
      () => acts.float32('proj'),
      (e) => code('E_UNKNOWN_LAYER')(e) && /proj:1, proj:2/.test(`${e}`),
    );
  });

  it("renames keys as torchvision's return_nodes: call, tuple and input suffixes follow; values unchanged", async () => {
    const plain = await model.capture({ x: x() }, { layers: ['proj', 'out'], inputs: true });
    const renamed = await model.capture({ x: x() }, { layers: { proj: 'p', out: 'head' }, inputs: true });
    assert.deepEqual([...renamed.keys()], ['p:1', 'in:p:1#0', 'p:2', 'in:p:2#0', 'head', 'in:head#0']);
    assert.deepEqual(values(renamed.get('p:2')!), values(plain.get('proj:2')!));
    assert.deepEqual(
      model.plan({ layers: { proj: 'p' } }).targets.map((t) => t.key),
      ['p:1', 'p:2'],
    );
    await assert.rejects(model.capture({ x: x() }, { layers: { proj: 'same', out: 'same' } }), code('E_BAD_ARGUMENT'));
    await assert.rejects(model.capture({ x: x() }, { layers: { nope: 'n' } }), code('E_UNKNOWN_LAYER'));
  });

  it('forward hooks fire on capture as on run, once per call, and the capture returns only what it asked for', async () => {
    const seen: string[] = [];
    using _hook = model.registerForwardHook('act', (m, _inputs, output) =>
      seen.push(`${m.name}:${m.call} ${values(output as { data: unknown })[0]}`),
    );
    const acts = await model.capture({ x: x() }, { layers: ['out'] });
    assert.deepEqual([...acts.keys()], ['out']);
    const golden = twice.golden;
    assert.deepEqual(seen, [`act:1 ${values(golden.get('act:1')!)[0]}`, `act:2 ${values(golden.get('act:2')!)[0]}`]);
    await assert.rejects(model.capture({ x: x() }, { reduce: 'mean' }), code('E_BAD_ARGUMENT'));
  });
});

describe('values between modules by module-relative names', async () => {
  const resnet = await loadModel(join(FIXTURES, 'resnet18', 'model.onnx'));

  it("lists ResNet's residual adds and its flatten as torchvision names them, and captures them under those names", async () => {
    const names = resnet.valueNames();
    assert.deepEqual(
      names.map((v) => v.name),
      ['1.0', '1.1', '2.0', '2.1', '3.0', '3.1', '4.0', '4.1'].map((b) => `layer${b}/add`).concat('flatten'),
    );
    assert.equal(names[0].value, '/layer1/layer1.0/Add_output_0');
    const feeds = { x: fixture('resnet18').inputs.get('x')! };
    const byName = await resnet.capture(feeds, { layers: ['layer1.0/add'] });
    const byValue = await resnet.capture(feeds, { layers: ['/layer1/layer1.0/Add_output_0'] });
    assert.deepEqual([...byName.keys()], ['layer1.0/add']);
    assert.deepEqual(values(byName.get('layer1.0/add')!), values(byValue.get('/layer1/layer1.0/Add_output_0')!));
  });

  it('neurotap layers --values lists them', async () => {
    const run = await cli('layers', join(FIXTURES, 'resnet18', 'model.onnx'), '--values', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).values[8].name, 'flatten');
  });
});

describe('--layers type:… and /re/ on the command line', () => {
  it('selects by module type and by regular expression (commas inside it kept)', async () => {
    const model = join(FIXTURES, 'digits-cnn.onnx');
    const run = await cli('extract', model, '--random', '--layers', 'type:Conv2d,/^fc[1,2]$/', '--json');
    assert.equal(run.code, 0, run.stderr);
    const keys = JSON.parse(run.stdout).activations.map((a: { key: string }) => a.key);
    assert.deepEqual(keys, ['conv1', 'conv2', 'fc1', 'fc2']);
    const bad = await cli('extract', model, '--random', '--layers', '/(/', '--json');
    assert.equal(bad.code, 2);
    assert.equal(JSON.parse(bad.stdout).error.code, 'E_BAD_ARGUMENT');
  });
});
