import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { isNeurotapError, type ErrorCode } from '../src/errors.js';
import type { DType, HostTensor, TypedArray } from '../src/tensor.js';
import { readFileBytes, writeFileAtomic, writeTensors } from '../src/node/files.js';
import { IMAGENET_MEAN, IMAGENET_STD, loadImageTensor } from '../src/node/image.js';
import { encodeNpy, encodeNpyHeader, parseNpy } from '../src/formats/npy.js';
import { encodeNpz, parseNpz } from '../src/formats/npz.js';
import { encodeSafetensors, parseSafetensors } from '../src/formats/safetensors.js';
import { bfloat16ToFloat32, float16ToFloat32, summarize, toFloat32 } from '../src/tensor-summary.js';

const DATA = new URL('./data/io/', import.meta.url);
const fixture = async (name: string) => new Uint8Array(await readFile(new URL(name, DATA)));

/** The values test/data/io/make.py writes, shape (2, 3); float16 as bit patterns. */
const NUMPY: Record<string, { type: DType; values: (number | bigint)[] }> = {
  f4: { type: 'float32', values: [0, 1, -2.5, Math.fround(0.1), 3.4028234663852886e38, -Infinity] },
  f8: { type: 'float64', values: [0, 1, -2.5, 0.1, 1e300, NaN] },
  f2: { type: 'float16', values: [0x0000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00] },
  i1: { type: 'int8', values: [-128, -1, 0, 1, 127, 5] },
  u1: { type: 'uint8', values: [0, 1, 2, 127, 128, 255] },
  i2: { type: 'int16', values: [-32768, -1, 0, 1, 32767, 5] },
  u2: { type: 'uint16', values: [0, 1, 2, 32768, 65535, 7] },
  i4: { type: 'int32', values: [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 5] },
  u4: { type: 'uint32', values: [0, 1, 2, 2 ** 31, 2 ** 32 - 1, 7] },
  i8: { type: 'int64', values: [-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n, 2n ** 53n + 1n] },
  u8: { type: 'uint64', values: [0n, 1n, 2n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n] },
  b1: { type: 'bool', values: [1, 0, 1, 1, 0, 0] },
};

const ARRAY_OF: Record<Exclude<DType, 'string'>, (v: (number | bigint)[]) => TypedArray> = {
  float32: (v) => Float32Array.from(v as number[]),
  float64: (v) => Float64Array.from(v as number[]),
  float16: (v) => Uint16Array.from(v as number[]),
  bfloat16: (v) => Uint16Array.from(v as number[]),
  int8: (v) => Int8Array.from(v as number[]),
  uint8: (v) => Uint8Array.from(v as number[]),
  bool: (v) => Uint8Array.from(v as number[]),
  int16: (v) => Int16Array.from(v as number[]),
  uint16: (v) => Uint16Array.from(v as number[]),
  int32: (v) => Int32Array.from(v as number[]),
  uint32: (v) => Uint32Array.from(v as number[]),
  int64: (v) => BigInt64Array.from(v as bigint[]),
  uint64: (v) => BigUint64Array.from(v as bigint[]),
};

/** One tensor per dtype (bfloat16 included) to round-trip. */
const SAMPLES: [string, HostTensor][] = [
  ...Object.entries(NUMPY).map(([code, { type, values }]): [string, HostTensor] => [
    code,
    { type, dims: [2, 3], data: ARRAY_OF[type as Exclude<DType, 'string'>](values) },
  ]),
  ['bf16', { type: 'bfloat16', dims: [3], data: Uint16Array.from([0x3fc0, 0xc000, 0x3e20]) }], // 1.5, -2, 0.15625
  ['empty', { type: 'float32', dims: [0, 4], data: new Float32Array(0) }],
  ['scalar', { type: 'int32', dims: [], data: Int32Array.from([42]) }],
];

function assertTensor(actual: HostTensor | undefined, expected: HostTensor): void {
  assert.ok(actual, 'tensor missing');
  assert.equal(actual.type, expected.type);
  assert.deepEqual([...actual.dims], [...expected.dims]);
  assert.deepEqual(Array.from(actual.data as ArrayLike<unknown>), Array.from(expected.data as ArrayLike<unknown>));
}

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err) => isNeurotapError(err, code) && typeof err.hint === 'string');
}

async function rejectsCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (err) => isNeurotapError(err, code) && typeof err.hint === 'string');
}

describe('npy', () => {
  test('reads every dtype numpy writes, with exact values', async () => {
    for (const [code, { type, values }] of Object.entries(NUMPY)) {
      const t = parseNpy(await fixture(`${code}.npy`));
      assertTensor(t, { type, dims: [2, 3], data: ARRAY_OF[type as Exclude<DType, 'string'>](values) });
    }
  });

  test('reads big-endian, 0-d, version 2.0 and 3.0 files', async () => {
    assertTensor(parseNpy(await fixture('be_f4.npy')), parseNpy(await fixture('f4.npy')));
    assertTensor(parseNpy(await fixture('be_i8.npy')), parseNpy(await fixture('i8.npy')));
    assertTensor(parseNpy(await fixture('scalar.npy')), { type: 'float64', dims: [], data: Float64Array.from([3.5]) });
    assertTensor(parseNpy(await fixture('v2.npy')), parseNpy(await fixture('f4.npy')));
    assertTensor(parseNpy(await fixture('v3.npy')), parseNpy(await fixture('f4.npy')));
  });

  test('round-trips every dtype; bfloat16 is written as float32', () => {
    for (const [, t] of SAMPLES) {
      const back = parseNpy(encodeNpy(t));
      if (t.type === 'bfloat16')
        assertTensor(back, { type: 'float32', dims: t.dims, data: Float32Array.from([1.5, -2, 0.15625]) });
      else assertTensor(back, t);
    }
  });

  test('writes the same bytes as numpy.save (header padded to 64)', async () => {
    for (const name of [...Object.keys(NUMPY), 'scalar']) {
      const numpyBytes = await fixture(`${name}.npy`);
      assert.deepEqual(encodeNpy(parseNpy(numpyBytes)), numpyBytes, name);
    }
  });

  test('one header rule for whole and streamed files: version 1.0 until the header outgrows 16 bits', () => {
    for (const [rank, version] of [
      [21_000, 1],
      [22_000, 2],
    ] as const) {
      const dims = new Array<number>(rank).fill(1);
      const header = encodeNpyHeader('int8', dims);
      assert.equal(header[6], version, `rank ${rank}`);
      assert.equal(header.length % 64, 0);
      const whole = encodeNpy({ type: 'int8', dims, data: Int8Array.from([-7]) });
      assert.deepEqual(whole.subarray(0, header.length), header, 'encodeNpy writes the same header');
      assertTensor(parseNpy(whole), { type: 'int8', dims, data: Int8Array.from([-7]) });
    }
    throwsCode(() => encodeNpyHeader('bfloat16', [2]), 'E_BAD_ARGUMENT'); // numpy has no bfloat16
  });

  test('aligned data is a view, misaligned data is copied', async () => {
    const bytes = await fixture('f8.npy');
    const view = parseNpy(bytes);
    assert.equal((view.data as Float64Array).buffer, bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    assertTensor(parseNpy(shifted.subarray(1)), view);
  });

  test('rejects truncated, non-npy and Fortran-ordered files', async () => {
    const bytes = await fixture('f4.npy');
    throwsCode(() => parseNpy(bytes.subarray(0, bytes.length - 1)), 'E_BAD_FILE');
    throwsCode(() => parseNpy(bytes.subarray(0, 40)), 'E_BAD_FILE');
    throwsCode(() => parseNpy(new TextEncoder().encode('not an npy file at all')), 'E_BAD_FILE');
    const fortran = await fixture('fortran.npy');
    throwsCode(() => parseNpy(fortran), 'E_BAD_FILE');
    throwsCode(() => encodeNpy({ type: 'float32', dims: [3], data: new Float32Array(2) }), 'E_BAD_ARGUMENT');
  });
});

describe('npz', () => {
  test('reads stored and compressed archives from numpy, keys verbatim', async () => {
    for (const name of ['stored.npz', 'compressed.npz']) {
      const tensors = parseNpz(await fixture(name));
      assert.deepEqual([...tensors.keys()].sort(), ['a/b', 'half', 'layer1.0:out', 'x#1']);
      assertTensor(tensors.get('layer1.0:out'), parseNpy(await fixture('f4.npy')));
      assertTensor(tensors.get('a/b'), parseNpy(await fixture('i8.npy')));
      assertTensor(tensors.get('x#1'), parseNpy(await fixture('b1.npy')));
      assertTensor(tensors.get('half'), parseNpy(await fixture('f2.npy')));
    }
  });

  test('round-trips every dtype with awkward keys', () => {
    const entries = SAMPLES.map(([k, t]): [string, HostTensor] => [`layer.${k}:out#0/x`, t]);
    const back = parseNpz(encodeNpz(new Map(entries)));
    for (const [key, t] of entries) {
      if (t.type !== 'bfloat16') assertTensor(back.get(key), t);
    }
    assert.equal(back.size, entries.length);
  });

  test('rejects a non-zip file and duplicate keys', () => {
    throwsCode(() => parseNpz(new Uint8Array(100).fill(7)), 'E_BAD_FILE');
    const t = SAMPLES[0][1];
    throwsCode(
      () =>
        encodeNpz([
          ['a', t],
          ['a', t],
        ]),
      'E_BAD_ARGUMENT',
    );
  });
});

describe('safetensors', () => {
  test('reads a hand-written file with exact values and metadata', async () => {
    const { tensors, metadata } = parseSafetensors(await fixture('hand.safetensors'));
    assert.deepEqual(metadata, { format: 'pt', note: 'made by hand' });
    assert.deepEqual([...tensors.keys()], ['step', 'weight', 'bias', 'half', 'mask']);
    assertTensor(tensors.get('step'), { type: 'int64', dims: [], data: BigInt64Array.from([7n]) });
    assertTensor(tensors.get('weight'), { type: 'float32', dims: [2, 2], data: Float32Array.from([1, -2, 0.5, 3]) });
    assertTensor(tensors.get('bias'), {
      type: 'bfloat16',
      dims: [3],
      data: Uint16Array.from([0x3fc0, 0xc000, 0x3e20]),
    });
    assertTensor(tensors.get('half'), { type: 'float16', dims: [2], data: Uint16Array.from([0x3c00, 0xc000]) });
    assertTensor(tensors.get('mask'), { type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) });
  });

  test('round-trips every dtype; header padded to 8 and data aligned', () => {
    const bytes = encodeSafetensors(SAMPLES, { purpose: 'test' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(headerLength % 8, 0);
    const { tensors, metadata } = parseSafetensors(bytes);
    assert.deepEqual(metadata, { purpose: 'test' });
    for (const [name, t] of SAMPLES) {
      assertTensor(tensors.get(name), t);
      assert.equal((tensors.get(name)!.data as TypedArray).buffer, bytes.buffer, `${name} should be a view`);
    }
  });

  function withHeader(header: object, dataBytes: number): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  }

  test('rejects bad headers before reading data', () => {
    const entry = (offsets: number[], shape = [2], dtype = 'F32') => ({ x: { dtype, shape, data_offsets: offsets } });
    throwsCode(() => parseSafetensors(withHeader(entry([0, 8]), 4)), 'E_BAD_FILE'); // past the end
    throwsCode(() => parseSafetensors(withHeader(entry([4, 0]), 8)), 'E_BAD_FILE'); // begin > end
    throwsCode(() => parseSafetensors(withHeader(entry([0, 4]), 8)), 'E_BAD_FILE'); // size != dims
    throwsCode(() => parseSafetensors(withHeader(entry([0, 8], [2], 'F8_E4M3'), 8)), 'E_BAD_FILE');
    throwsCode(() => parseSafetensors(withHeader({ __metadata__: { n: 1 } }, 0)), 'E_BAD_FILE');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1000n, true);
    throwsCode(() => parseSafetensors(huge), 'E_BAD_FILE');
    throwsCode(() => parseSafetensors(new Uint8Array(3)), 'E_BAD_FILE');
    assert.equal(parseSafetensors(withHeader(entry([0, 8]), 8)).tensors.get('x')!.dims[0], 2);
  });
});

describe('stats', () => {
  test('float16 and bfloat16 decoding of known bit patterns', () => {
    assert.equal(float16ToFloat32(0x3c00), 1);
    assert.equal(float16ToFloat32(0xc000), -2);
    assert.equal(float16ToFloat32(0x7bff), 65504);
    assert.equal(float16ToFloat32(0x0001), 2 ** -24);
    assert.equal(float16ToFloat32(0x7c00), Infinity);
    assert.equal(float16ToFloat32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(float16ToFloat32(0x7e00)));
    assert.ok(Object.is(float16ToFloat32(0x8000), -0));
    assert.deepEqual([...float16ToFloat32(Uint16Array.from([0x3c00, 0x3555]))], [1, Math.fround(0.333251953125)]);
    assert.deepEqual([...bfloat16ToFloat32(Uint16Array.from([0x3f80, 0xc000, 0x7f80]))], [1, -2, Infinity]);
    assert.equal(bfloat16ToFloat32(0x3e20), 0.15625);
  });

  test('summarize gives exact statistics', () => {
    const f32 = summarize({ type: 'float32', dims: [4], data: Float32Array.from([1, 2, 3, 4]) });
    assert.deepEqual(f32, { mean: 2.5, std: Math.sqrt(1.25), min: 1, max: 4, fractionPositive: 1, nans: 0 });
    const withNaN = summarize({ type: 'float64', dims: [3], data: Float64Array.from([-1, NaN, 3]) });
    assert.deepEqual(withNaN, { mean: 1, std: 2, min: -1, max: 3, fractionPositive: 0.5, nans: 1 });
    const i64 = summarize({ type: 'int64', dims: [2], data: BigInt64Array.from([-2n, 2n]) });
    assert.deepEqual(i64, { mean: 0, std: 2, min: -2, max: 2, fractionPositive: 0.5, nans: 0 });
    const f16 = summarize({ type: 'float16', dims: [2], data: Uint16Array.from([0x3c00, 0xc000]) });
    assert.deepEqual(f16, { mean: -0.5, std: 1.5, min: -2, max: 1, fractionPositive: 0.5, nans: 0 });
    const bf16 = summarize({ type: 'bfloat16', dims: [2], data: Uint16Array.from([0x3f80, 0x4040]) });
    assert.deepEqual(bf16, { mean: 2, std: 1, min: 1, max: 3, fractionPositive: 1, nans: 0 });
    assert.ok(Number.isNaN(summarize({ type: 'float32', dims: [0], data: new Float32Array(0) }).mean));
  });

  test('toFloat32 decodes every numeric type', () => {
    assert.deepEqual([...toFloat32({ type: 'float16', dims: [2], data: Uint16Array.from([0x3c00, 0xc000]) })], [1, -2]);
    assert.deepEqual([...toFloat32({ type: 'uint64', dims: [2], data: BigUint64Array.from([3n, 5n]) })], [3, 5]);
    assert.deepEqual([...toFloat32({ type: 'int8', dims: [2], data: Int8Array.from([-3, 5]) })], [-3, 5]);
    const same = Float32Array.from([1]);
    assert.equal(toFloat32({ type: 'float32', dims: [1], data: same }), same);
  });
});

describe('files and images (node)', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'neurotap-io-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writeFileAtomic writes chunks and replaces files', async () => {
    const path = join(dir, 'a.bin');
    await writeFileAtomic(path, Uint8Array.from([1, 2]));
    await writeFileAtomic(path, [Uint8Array.from([3]), Uint8Array.from([4, 5])]);
    assert.deepEqual([...(await readFileBytes(path, 'test file'))], [3, 4, 5]);
  });

  test('writeFileAtomic failures throw E_OUTPUT_PATH and leave no temp file', async () => {
    await rejectsCode(writeFileAtomic(join(dir, 'missing', 'x.bin'), new Uint8Array(1)), 'E_OUTPUT_PATH');
    const target = join(dir, 'is-a-dir');
    await mkdir(target);
    await rejectsCode(writeFileAtomic(target, new Uint8Array(1)), 'E_OUTPUT_PATH'); // fails at rename
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  test('readFileBytes: missing file and directory', async () => {
    await rejectsCode(readFileBytes(join(dir, 'nope.npy'), 'input file'), 'E_FILE_NOT_FOUND');
    await rejectsCode(readFileBytes(dir, 'input file'), 'E_BAD_FILE');
  });

  test('writeTensors picks the format from the path', async () => {
    const entries = new Map<string, HostTensor>([
      ['conv1', SAMPLES[0][1]],
      ['layer1/0.relu', SAMPLES[9][1]],
    ]);
    assert.equal((await writeTensors(join(dir, 'o.npz'), entries)).format, 'npz');
    assertTensor(parseNpz(await readFileBytes(join(dir, 'o.npz'), 'output')).get('layer1/0.relu'), SAMPLES[9][1]);
    await writeTensors(join(dir, 'o.safetensors'), entries, { a: 'b' });
    assert.deepEqual(parseSafetensors(await readFileBytes(join(dir, 'o.safetensors'), 'output')).metadata, { a: 'b' });
    const written = await writeTensors(`${join(dir, 'acts')}/`, entries);
    assert.equal(written.format, 'npy-directory');
    const index = JSON.parse(await readFile(join(dir, 'acts', 'index.json'), 'utf8'));
    assert.deepEqual(index, { conv1: 'conv1.npy', 'layer1/0.relu': 'layer1%2F0.relu.npy' });
    assertTensor(parseNpy(await readFileBytes(join(dir, 'acts', 'layer1%2F0.relu.npy'), 'output')), SAMPLES[9][1]);
    assert.deepEqual(
      (await readdir(join(dir, 'acts'))).filter((f) => f.endsWith('.tmp')),
      [],
    );
    await rejectsCode(writeTensors(join(dir, 'o.csv'), entries), 'E_OUTPUT_PATH');
  });

  test('loadImageTensor normalizes exact pixel values', async () => {
    const pixels = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => (i * 37) % 256); // 4 wide, 2 high, RGB
    const png = join(dir, 'tiny.png');
    await sharp(pixels, { raw: { width: 4, height: 2, channels: 3 } })
      .png()
      .toFile(png);
    const t = await loadImageTensor(png, { mean: IMAGENET_MEAN, std: IMAGENET_STD });
    assert.equal(t.type, 'float32');
    assert.deepEqual(t.dims, [1, 3, 2, 4]);
    const data = t.data as Float32Array;
    for (let p = 0; p < 8; p++) {
      for (let c = 0; c < 3; c++) {
        const f = Math.fround; // float32 at each step, as torchvision's ToTensor and Normalize
        const expected = f(f(f(pixels[p * 3 + c] / 255) - f(IMAGENET_MEAN[c])) / f(IMAGENET_STD[c]));
        assert.equal(data[c * 8 + p], expected);
      }
    }
    const nhwc = await loadImageTensor(png, { layout: 'nhwc', scale: 1 });
    assert.deepEqual(nhwc.dims, [1, 2, 4, 3]);
    assert.deepEqual([...(nhwc.data as Float32Array)], [...pixels]);
    assert.deepEqual((await loadImageTensor(png, { channels: 1 })).dims, [1, 1, 2, 4]);
    assert.deepEqual((await loadImageTensor(png, { size: [1, 2] })).dims, [1, 3, 1, 2]);
    assert.deepEqual((await loadImageTensor(png, { size: 2 })).dims, [1, 3, 2, 2]);
  });

  test('loadImageTensor errors', async () => {
    await rejectsCode(loadImageTensor(join(dir, 'none.png')), 'E_FILE_NOT_FOUND');
    const notImage = join(dir, 'fake.png');
    await writeFile(notImage, 'hello');
    await rejectsCode(loadImageTensor(notImage), 'E_BAD_FILE');
    await rejectsCode(loadImageTensor(notImage, { mean: [0.5] }), 'E_BAD_ARGUMENT');
  });
});
