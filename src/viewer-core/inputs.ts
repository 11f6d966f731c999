/**
 * Image-like inputs: pixels (a drawing, an uploaded picture) laid out as a declared image input
 * wants, and .npy files for one input.
 *
 * ```ts
 * const layout = imageLayout(model.inputs[0]); // { channels: 1, height: 8, width: 8, layout: 'nchw' }
 * const tensor = pixelsToTensor(rgba, layout);          // [1, 1, 8, 8] float32 in [0, 1]
 * ```
 */
import { NeurotapError } from '../errors.js';
import { parseNpy } from '../formats/npy.js';
import { castToInputDtype, type ImageLayout } from '../input-fit.js';
import type { ValueInfo } from '../model.js';
import type { HostTensor } from '../tensor.js';

/**
 * RGBA pixels (already resized to the layout's width x height) as a float32 tensor in [0, 1],
 * shaped [1, C, H, W] or [1, H, W, C]; one channel is the pixels' luminance.
 */
export function pixelsToTensor(rgba: ArrayLike<number>, layout: ImageLayout): HostTensor {
  const { channels, height, width } = layout;
  const plane = width * height;
  if (rgba.length !== plane * 4) {
    throw new NeurotapError(
      'E_BAD_ARGUMENT',
      `Expected ${plane * 4} RGBA bytes for ${width}x${height} pixels; got ${rgba.length}.`,
      {
        hint: 'Resize the image to the input size before converting it.',
      },
    );
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
export function boxDownsample(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Uint8ClampedArray {
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
export function npyFeed(bytes: Uint8Array, input: ValueInfo): HostTensor {
  return castToInputDtype(input, parseNpy(bytes));
}

/** The value range to show: [0, 1] when the values fit in it, else their own min..max. */
function displayRange(data: ArrayLike<number>): [number, number] {
  let [lo, hi] = [0, 1];
  for (let i = 0; i < data.length; i++)
    if (data[i] === data[i]) [lo, hi] = [Math.min(lo, data[i]), Math.max(hi, data[i])];
  return [lo, hi > lo ? hi : lo + 1];
}

/** Sample 0 of an image-like input as RGBA pixels (width x height), the inverse of pixelsToTensor for [0, 1] data. */
export function tensorPixels(data: ArrayLike<number>, layout: ImageLayout): Uint8ClampedArray {
  const { width, height, channels } = layout;
  const [lo, hi] = displayRange(data);
  const plane = width * height;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const channel = channels === 1 ? 0 : c;
      const v = data[layout.layout === 'nchw' ? channel * plane + p : p * channels + channel];
      rgba[p * 4 + c] = ((v - lo) / (hi - lo)) * 255;
    }
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}
