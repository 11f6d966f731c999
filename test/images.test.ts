/**
 * Images preprocessed as torchvision preprocesses them: Resize (PIL bilinear, antialiased), CenterCrop
 * (zero padding), Grayscale, ToTensor + Normalize, against torchvision 0.14 / PIL 9.4 goldens
 * (scripts/fixtures_images.py writes fixtures/images/). PNGs decode to the same pixels in sharp and
 * PIL, so their results must be PIL's to the grey level; a JPEG decodes differently by a level or two.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseNpz } from '../src/formats/npz.js';
import { resizedSize } from '../src/image/transforms.js';
import { imageInput } from '../src/viewer-core/image-input.js';
import sharp from 'sharp';
import { IMAGENET_MEAN, IMAGENET_STD, loadImageTensor, type ImageTensorOptions } from '../src/node/image.js';
import { cliFromSource } from './helpers/cli.js';
import { FIXTURES } from './helpers/fixtures.js';
import { isNeurotapError } from '../src/errors.js';

const cli = (...args: string[]) => cliFromSource(args);

const DIR = join(FIXTURES, 'images');
const goldens = parseNpz(new Uint8Array(readFileSync(join(DIR, 'torchvision.npz'))));

const TRANSFORMS: Record<string, ImageTensorOptions> = {
  'resize256-crop224': { resize: 256, centerCrop: 224 },
  'resize64-crop56': { resize: 64, centerCrop: 56 },
  resize50x70: { resize: [50, 70] },
  resize150: { resize: 150 },
  crop150: { centerCrop: 150 },
  'grayscale-resize64-crop56': { resize: 64, centerCrop: 56, channels: 1 },
};

/** Largest absolute difference, and how many values differ at all. */
function difference(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; differing: number } {
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0) differing++;
    max = Math.max(max, d);
  }
  return { max, differing };
}

describe('images like torchvision', () => {
  for (const [key, golden] of goldens) {
    const [file, transform] = key.split('|');
    if (!(transform in TRANSFORMS)) continue;
    it(`${file}: ${transform} gives PIL's pixels`, async () => {
      const channels = golden.dims[2] as 1 | 3;
      const options = { ...TRANSFORMS[transform], channels, layout: 'nhwc' as const, scale: 1 };
      const t = await loadImageTensor(join(DIR, file), options);
      assert.deepEqual(t.dims, [1, ...golden.dims]);
      const { max, differing } = difference(t.data as Float32Array, golden.data as Uint8Array);
      // PNG: exact. JPEG: libjpeg-turbo (sharp) and PIL's libjpeg decode a few pixels one or two levels apart.
      if (file.endsWith('.png')) assert.equal(max, 0, `${differing} values differ, by up to ${max}`);
      else assert.ok(max <= 2 && differing < golden.data.length * 0.05, `${differing} differ, up to ${max}`);
    });
  }

  it('ToTensor + Normalize: the float tensor torchvision gives, bit for bit', async () => {
    const golden = goldens.get('photo-b.png|resize64-crop56-imagenet')!;
    const t = await loadImageTensor(join(DIR, 'photo-b.png'), {
      resize: 64,
      centerCrop: 56,
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
    });
    assert.deepEqual(t.dims, golden.dims);
    assert.equal(difference(t.data as Float32Array, golden.data as Float32Array).max, 0);
  });

  it("Resize(N) sets the shorter side and truncates the longer, as torchvision's int() does", () => {
    assert.deepEqual(resizedSize(320, 240, 256), [341, 256]);
    assert.deepEqual(resizedSize(131, 197, 64), [64, 96]);
    assert.deepEqual(resizedSize(197, 131, 64), [96, 64]);
    assert.deepEqual(resizedSize(10, 20, [5, 7]), [7, 5]);
  });

  it('the CLI: --resize --center-crop --imagenet feed the tensor the library makes; a size that does not fit says which flag fits', async () => {
    const model = join(FIXTURES, 'seed-cnn', 'model.onnx'); // input x: [batch, 3, 32, 32]
    const photo = join(DIR, 'photo-b.png');
    const args = ['--input', photo, '--resize', '36', '--center-crop', '32', '--imagenet'];
    const run = await cli('extract', model, ...args, '--inputs-of-modules', '--layers', '0', '--json');
    assert.equal(run.code, 0, run.stderr);
    const input = JSON.parse(run.stdout).activations.find((a: { key: string }) => a.key === 'in:0#0');
    const expected = await loadImageTensor(photo, {
      resize: 36,
      centerCrop: 32,
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
    });
    const data = expected.data as Float32Array;
    assert.deepEqual(input.shape, [1, 3, 32, 32]);
    assert.ok(Math.abs(input.mean - data.reduce((a, b) => a + b, 0) / data.length) < 1e-6);
    assert.equal(input.min, Math.min(...data));

    const wrong = await cli('extract', model, '--input', photo, '--resize', '256', '--json');
    assert.equal(wrong.code, 2);
    const { error } = JSON.parse(wrong.stdout);
    assert.equal(error.code, 'E_INPUT_SHAPE');
    assert.match(error.message, /takes 32x32 images; .*photo-b\.png came out 384x256/);
    assert.match(error.hint, /--center-crop 32/);
  });

  it("the viewer's image input: the same tensor from the same flags (config.json's image), a misfit size is E_INPUT_SHAPE", async () => {
    const golden = goldens.get('photo-b.png|resize64-crop56-imagenet')!;
    const { data, info } = await sharp(join(DIR, 'photo-b.png'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const rgb = { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
    const layout = { input: 'x', channels: 3 as const, height: 56, width: 56, layout: 'nchw' as const };
    const pre = { resize: 64, centerCrop: 56, mean: IMAGENET_MEAN, std: IMAGENET_STD };
    const t = imageInput(rgb, layout, pre);
    assert.deepEqual(t.dims, golden.dims);
    assert.equal(difference(t.data as Float32Array, golden.data as Float32Array).max, 0);
    assert.throws(
      () => imageInput(rgb, layout, { resize: 64 }),
      (e) => isNeurotapError(e, 'E_INPUT_SHAPE') && /takes 56x56 images; this one came out 96x64/.test(`${e}`),
    );
  });
});
