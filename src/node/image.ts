/**
 * Image files to model input tensors (Node only: decoding and resizing by sharp).
 */
import { NeurotapError } from '../errors.js';
import type { HostTensor } from '../tensor.js';
import { readFileBytes } from './files.js';

/** torchvision's ImageNet normalization, for images scaled to [0, 1]. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

export interface ImageTensorOptions {
  /** [height, width]: exact resize (aspect ratio not kept). N: shorter side to N, then center crop N x N. */
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
  const sizeOk =
    size === undefined ||
    isPositiveInteger(size) ||
    (Array.isArray(size) && size.length === 2 && size.every(isPositiveInteger));
  if (!sizeOk) {
    throw badOption(
      `Expected size as [height, width] or one number, positive integers; got ${JSON.stringify(size)}.`,
      'E.g. size: [224, 224] to resize exactly, or size: 224 to resize the shorter side and center-crop.',
    );
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

/** Decodes, converts and resizes to 8-bit interleaved pixels. */
async function decodePixels(bytes: Uint8Array, path: string, size: ImageTensorOptions['size'], channels: 1 | 3) {
  // Loaded on the first image: data sets of arrays or tokens never load sharp's native library.
  const { default: sharp } = await import('sharp');
  let pipeline = sharp(bytes).removeAlpha();
  pipeline = channels === 1 ? pipeline.grayscale() : pipeline.toColourspace('srgb');
  if (Array.isArray(size)) pipeline = pipeline.resize({ height: size[0], width: size[1], fit: 'fill' });
  else if (size !== undefined)
    pipeline = pipeline.resize({ height: size, width: size, fit: 'cover', position: 'centre' });
  try {
    return await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
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

/**
 * Loads an image as a float32 model input: value = (pixel * scale - mean[c]) / std[c],
 * shaped [1, C, H, W] (or [1, H, W, C] with layout 'nhwc').
 */
export async function loadImageTensor(path: string, opts: ImageTensorOptions = {}): Promise<HostTensor> {
  const channels = opts.channels ?? 3;
  checkOptions(opts, channels);
  const bytes = await readFileBytes(path, 'an image file');
  const { data, info } = await decodePixels(bytes, path, opts.size, channels);
  if (info.channels !== channels || data.length !== info.width * info.height * channels) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `Expected ${channels}-channel 8-bit pixels from ${path}; got ${info.channels} channels, ${data.length} bytes.`,
      {
        hint: 'Convert the image to 8-bit RGB or grayscale PNG/JPEG.',
      },
    );
  }
  const { width, height } = info;
  const mean = opts.mean ?? Array(channels).fill(0);
  const std = opts.std ?? Array(channels).fill(1);
  const scale = opts.scale ?? 1 / 255;
  const planar = (opts.layout ?? 'nchw') === 'nchw';
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  for (let pixel = 0; pixel < plane; pixel++) {
    for (let c = 0; c < channels; c++) {
      const value = (data[pixel * channels + c] * scale - mean[c]) / std[c];
      out[planar ? c * plane + pixel : pixel * channels + c] = value;
    }
  }
  const dims = planar ? [1, channels, height, width] : [1, height, width, channels];
  return { type: 'float32', dims, data: out };
}
