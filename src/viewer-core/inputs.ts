/**
 * Inputs for a run without a file: random values of the declared shapes (the CLI's `--random`,
 * so the viewer and `neurotap report --random` see the same numbers for the same seed), and
 * image-like pixels (a drawing, an uploaded picture) laid out as a declared image input wants.
 *
 * ```ts
 * const feeds = defaultFeeds(model);            // seed 0; symbolic sizes: batch 1, others 16
 * const tensor = pixelsToTensor(rgba, layout);   // [1, C, H, W] float32 in [0, 1]
 * ```
 */
import { NeurotapError } from '../errors.js';
import { isBatchName, symbolsOf } from '../cli/dims.js';
import { declaredInputs, type DeclaredValue } from '../cli/model-info.js';
import { randomFeeds } from '../cli/random.js';
import { parseNpy } from '../io/npy.js';
import type { NeurotapModel } from '../model.js';
import type { HostTensor } from '../tensor.js';

/** Size given to symbolic dimensions that are not a batch (sequence lengths, mostly). */
export const DEFAULT_SYMBOL_SIZE = 16;

/** Random normal values at each input's declared shape; batch-like dimensions 1, other symbols 16. */
export function defaultFeeds(model: NeurotapModel, seed = 0): Record<string, HostTensor> {
  const sizes = new Map<string, number>();
  for (const input of declaredInputs(model)) {
    for (const d of input.shape ?? []) {
      if (typeof d === 'string') for (const s of symbolsOf(d)) if (!isBatchName(s)) sizes.set(s, DEFAULT_SYMBOL_SIZE);
    }
  }
  return randomFeeds(model, model.inputNames, sizes, seed);
}

export interface ImageLayout {
  readonly input: string;
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
  readonly layout: 'nchw' | 'nhwc';
}

/** How pixels feed an input declared float [N, C, H, W] or [N, H, W, C] with C of 1 or 3 and fixed H, W; else undefined. */
export function imageLayout(input: DeclaredValue): ImageLayout | undefined {
  const shape = input.shape;
  if (!input.dtype.startsWith('float') || shape?.length !== 4) return undefined;
  const isChannels = (d: number | string) => d === 1 || d === 3;
  const layout = isChannels(shape[1]) ? 'nchw' : isChannels(shape[3]) ? 'nhwc' : undefined;
  if (!layout) return undefined;
  const [c, h, w] = layout === 'nhwc' ? [shape[3], shape[1], shape[2]] : [shape[1], shape[2], shape[3]];
  if (typeof h !== 'number' || typeof w !== 'number') return undefined;
  return { input: input.name, channels: c as 1 | 3, height: h, width: w, layout };
}

/**
 * RGBA pixels (already resized to the layout's width x height) as a float32 tensor in [0, 1],
 * shaped [1, C, H, W] or [1, H, W, C]; one channel is the pixels' luminance.
 */
export function pixelsToTensor(rgba: ArrayLike<number>, layout: ImageLayout): HostTensor {
  const { channels, height, width } = layout;
  const plane = width * height;
  if (rgba.length !== plane * 4) {
    throw new NeurotapError('E_BAD_ARGUMENT', `Expected ${plane * 4} RGBA bytes for ${width}x${height} pixels; got ${rgba.length}.`, {
      hint: 'Resize the image to the input size before converting it.',
    });
  }
  const data = new Float32Array(plane * channels);
  const planar = layout.layout === 'nchw';
  for (let p = 0; p < plane; p++) {
    const [r, g, b] = [rgba[p * 4], rgba[p * 4 + 1], rgba[p * 4 + 2]];
    const values = channels === 1 ? [0.2126 * r + 0.7152 * g + 0.0722 * b] : [r, g, b];
    values.forEach((v, c) => (data[planar ? c * plane + p : p * channels + c] = v / 255));
  }
  return { type: 'float32', dims: planar ? [1, channels, height, width] : [1, height, width, channels], data };
}

/** Averages RGBA pixels over blocks: a width x height drawing to the outWidth x outHeight an input takes. */
export function boxDownsample(rgba: ArrayLike<number>, width: number, height: number, outWidth: number, outHeight: number): Uint8ClampedArray {
  const sums = new Float64Array(outWidth * outHeight * 4);
  const counts = new Float64Array(outWidth * outHeight);
  for (let y = 0; y < height; y++) {
    const oy = Math.min(outHeight - 1, Math.floor((y * outHeight) / height));
    for (let x = 0; x < width; x++) {
      const cell = oy * outWidth + Math.min(outWidth - 1, Math.floor((x * outWidth) / width));
      for (let c = 0; c < 4; c++) sums[cell * 4 + c] += rgba[(y * width + x) * 4 + c];
      counts[cell]++;
    }
  }
  return Uint8ClampedArray.from(sums, (v, i) => v / Math.max(1, counts[i >> 2]));
}

/** An .npy file for one input; float64 data for a float32 input is converted, as numpy writes float64 by default. */
export function npyFeed(bytes: Uint8Array, input: DeclaredValue): HostTensor {
  const tensor = parseNpy(bytes);
  if (tensor.type !== 'float64' || input.dtype !== 'float32') return tensor;
  return { type: 'float32', dims: tensor.dims, data: Float32Array.from(tensor.data as Float64Array) };
}

export { declaredInputs, type DeclaredValue };
export { declaredOutputs } from '../cli/model-info.js';
