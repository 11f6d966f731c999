/**
 * Decoded pixels to a model input, as torchvision's ToTensor + Normalize compute it: float32 at each
 * step, (pixel / 255 - mean[c]) / std[c], laid out [1, C, H, W] (or [1, H, W, C]). Shared by the
 * Node image loader and the viewer, so an image gives the same tensor in both.
 */
import type { HostTensor } from '../tensor.js';
import type { Pixels } from './resample.js';

export interface PixelNormalization {
  /** Per channel, subtracted after scaling (default 0). */
  mean?: readonly number[];
  /** Per channel, divided by after subtracting the mean (default 1). */
  std?: readonly number[];
  /** 'nchw' (default): [1, C, H, W]; 'nhwc': [1, H, W, C]. */
  layout?: 'nchw' | 'nhwc';
  /** Multiplies 8-bit pixel values first (default: divides by 255, as ToTensor does). */
  scale?: number;
}

export function pixelsToFloatTensor(px: Pixels, opts: PixelNormalization = {}): HostTensor {
  const { data, width, height, channels } = px;
  const f32 = Math.fround;
  const mean = (opts.mean ?? Array(channels).fill(0)).map(f32);
  const std = (opts.std ?? Array(channels).fill(1)).map(f32);
  const { scale } = opts;
  const unit = scale === undefined ? (p: number) => p / 255 : (p: number) => p * scale;
  const planar = (opts.layout ?? 'nchw') === 'nchw';
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  for (let pixel = 0; pixel < plane; pixel++) {
    for (let c = 0; c < channels; c++) {
      const value = f32(f32(f32(unit(data[pixel * channels + c])) - mean[c]) / std[c]);
      out[planar ? c * plane + pixel : pixel * channels + c] = value;
    }
  }
  const dims = planar ? [1, channels, height, width] : [1, height, width, channels];
  return { type: 'float32', dims, data: out };
}
