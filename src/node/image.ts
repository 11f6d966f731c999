/**
 * Image files to model input tensors (Node only: decoding and resizing by sharp).
 */
import { NeurotapError } from '../errors.js';
import type { Pixels } from '../image/resample.js';
import { pixelsToFloatTensor } from '../image/tensor.js';
import { toGrayscale, transformPixels, type ImageTransforms } from '../image/transforms.js';
import type { HostTensor } from '../tensor.js';
import { readFileBytes } from './files.js';

/** torchvision's ImageNet normalization, for images scaled to [0, 1]. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

export interface ImageTensorOptions extends ImageTransforms {
  /**
   * Shorthand: [height, width] resizes exactly (aspect ratio not kept); N is `resize: N, centerCrop: N`
   * (shorter side to N, then the center N x N). Ignored when `resize` or `centerCrop` is given.
   */
  size?: [number, number] | number;
  /** 3 (RGB, default) or 1 (grayscale). Alpha is dropped, as PIL's convert('RGB') does. */
  channels?: 1 | 3;
  /** Per channel, subtracted after scaling (default 0). */
  mean?: readonly number[];
  /** Per channel, divided by after subtracting the mean (default 1). */
  std?: readonly number[];
  /** 'nchw' (default): [1, C, H, W]; 'nhwc': [1, H, W, C]. */
  layout?: 'nchw' | 'nhwc';
  /** Multiplies 8-bit pixel values first (default 1/255, giving [0, 1]). */
  scale?: number;
}

function badOption(message: string, hint: string): NeurotapError {
  return new NeurotapError('E_BAD_ARGUMENT', message, { hint });
}

function isPositiveInteger(n: unknown): boolean {
  return Number.isSafeInteger(n) && (n as number) > 0;
}

function checkOptions(opts: ImageTensorOptions, channels: number): void {
  const { size, layout = 'nchw', scale = 1 / 255 } = opts;
  if (channels !== 1 && channels !== 3)
    throw badOption(`Expected channels 1 or 3; got ${channels}.`, 'Use 3 for RGB models, 1 for grayscale.');
  for (const [name, value] of [
    ['size', size],
    ['resize', opts.resize],
    ['centerCrop', opts.centerCrop],
  ] as const) {
    const ok =
      value === undefined ||
      isPositiveInteger(value) ||
      (Array.isArray(value) && value.length === 2 && value.every(isPositiveInteger));
    if (!ok) {
      throw badOption(
        `Expected ${name} as [height, width] or one number, positive integers; got ${JSON.stringify(value)}.`,
        "E.g. resize: 256, centerCrop: 224 (torchvision's Resize(256) then CenterCrop(224)), or size: [224, 224].",
      );
    }
  }
  if (layout !== 'nchw' && layout !== 'nhwc')
    throw badOption(`Expected layout 'nchw' or 'nhwc'; got ${JSON.stringify(layout)}.`, 'PyTorch models take nchw.');
  if (!Number.isFinite(scale))
    throw badOption(`Expected a finite scale; got ${scale}.`, 'Use 1/255 for [0, 1] inputs, 1 for [0, 255].');
  for (const [name, values, fallback] of [
    ['mean', opts.mean, 0],
    ['std', opts.std, 1],
  ] as const) {
    const list: readonly number[] = values ?? Array<number>(channels).fill(fallback);
    const valid = list.length === channels && list.every((v) => Number.isFinite(v) && (name === 'mean' || v !== 0));
    if (!valid) {
      throw badOption(
        `Expected ${name} as ${channels} finite${name === 'std' ? ', non-zero' : ''} numbers (one per channel); got ${JSON.stringify(values)}.`,
        'E.g. mean: IMAGENET_MEAN, std: IMAGENET_STD for RGB ImageNet models.',
      );
    }
  }
}

/** Decodes to 8-bit RGB at the file's own size (alpha dropped, as PIL's convert('RGB') drops it). */
async function decodeRgb(bytes: Uint8Array, path: string): Promise<Pixels> {
  // Loaded on the first image: data sets of arrays or tokens never load sharp's native library.
  const { default: sharp } = await import('sharp');
  try {
    const { data, info } = await sharp(bytes)
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ...info };
  } catch (cause) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `Expected an image (PNG, JPEG, WebP, GIF, TIFF, AVIF...) at ${path}; sharp could not decode it: ${(cause as Error).message}.`,
      {
        hint: 'Check that the file is an image and not truncated; .npy inputs are read with parseNpy.',
        cause,
      },
    );
  }
}

/** The transforms an options object asks for: `resize`/`centerCrop`, else what `size` stands for. */
function transformsOf(opts: ImageTensorOptions): ImageTransforms {
  if (opts.resize !== undefined || opts.centerCrop !== undefined)
    return { resize: opts.resize, centerCrop: opts.centerCrop };
  if (opts.size === undefined) return {};
  return typeof opts.size === 'number' ? { resize: opts.size, centerCrop: opts.size } : { resize: opts.size };
}

/** Decodes, converts to the channel count, then resizes and crops as torchvision does on a PIL image. */
async function decodePixels(bytes: Uint8Array, path: string, opts: ImageTensorOptions, channels: 1 | 3) {
  const rgb = await decodeRgb(bytes, path);
  if (rgb.channels !== 3 || rgb.data.length !== rgb.width * rgb.height * 3) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `Expected 3-channel 8-bit pixels from ${path}; got ${rgb.channels} channels, ${rgb.data.length} bytes.`,
      { hint: 'Convert the image to 8-bit RGB or grayscale PNG/JPEG.' },
    );
  }
  return transformPixels(channels === 1 ? toGrayscale(rgb) : rgb, transformsOf(opts));
}

/**
 * Loads an image as a float32 model input: value = (pixel * scale - mean[c]) / std[c],
 * shaped [1, C, H, W] (or [1, H, W, C] with layout 'nhwc').
 */
export async function loadImageTensor(path: string, opts: ImageTensorOptions = {}): Promise<HostTensor> {
  const channels = opts.channels ?? 3;
  checkOptions(opts, channels);
  const bytes = await readFileBytes(path, 'an image file');
  const px = await decodePixels(bytes, path, opts, channels);
  return pixelsToFloatTensor(px, opts);
}
