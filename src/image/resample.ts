/**
 * Resizing 8-bit interleaved pixels as Pillow's `Image.resize(size, BILINEAR)` does, which is what
 * torchvision's `Resize` runs on PIL images: a triangle filter whose support widens with the
 * downscaling factor (antialiasing), a horizontal pass then a vertical one, each rounded to 8 bits,
 * with Pillow's fixed-point coefficients (22 fractional bits), so the pixels are Pillow's own.
 *
 * ```ts
 * const small = resizeBilinear({ data, width: 640, height: 480, channels: 3 }, 298, 224);
 * ```
 */

export interface Pixels {
  /** Interleaved 8-bit samples, row-major: (y * width + x) * channels + c. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** Pillow's PRECISION_BITS for 8-bit images: coefficients are integers scaled by 2^22. */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** Per output pixel: the first source index it reads and its integer weights. */
interface Coefficients {
  readonly first: Int32Array;
  readonly weights: Float64Array[];
}

const triangle = (x: number) => Math.max(0, 1 - Math.abs(x));

/** Weights of `outSize` outputs over `inSize` inputs (Pillow's precompute_coeffs and its 8-bit rounding). */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1, widened when downscaling
  const inverse = 1 / filterScale; // multiplied, as Pillow does: dividing rounds differently at the edges
  const first = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const w = new Float64Array(hi - lo);
    let total = 0;
    for (let x = 0; x < w.length; x++) {
      w[x] = triangle((x + lo - center + 0.5) * inverse);
      total += w[x];
    }
    for (let x = 0; x < w.length; x++) {
      const k = total === 0 ? 0 : (w[x] / total) * ONE;
      w[x] = k < 0 ? Math.trunc(k - 0.5) : Math.trunc(k + 0.5);
    }
    first[i] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/** Pillow's clip8: the accumulator started at half a unit, so the shift rounds. */
function clip8(sum: number): number {
  if (sum >= ONE * 256) return 255;
  if (sum <= 0) return 0;
  return Math.floor(sum / ONE);
}

function resizeHorizontal(src: Pixels, outWidth: number): Pixels {
  const { data, width, height, channels } = src;
  const { first, weights } = coefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height * channels);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < outWidth; x++) {
      const w = weights[x];
      for (let c = 0; c < channels; c++) {
        let sum = ONE / 2;
        for (let k = 0; k < w.length; k++) sum += data[(row + first[x] + k) * channels + c] * w[k];
        out[(y * outWidth + x) * channels + c] = clip8(sum);
      }
    }
  }
  return { data: out, width: outWidth, height, channels };
}

function resizeVertical(src: Pixels, outHeight: number): Pixels {
  const { data, width, height, channels } = src;
  const { first, weights } = coefficients(height, outHeight);
  const out = new Uint8Array(width * outHeight * channels);
  const stride = width * channels;
  for (let y = 0; y < outHeight; y++) {
    const w = weights[y];
    const top = first[y] * stride;
    for (let i = 0; i < stride; i++) {
      let sum = ONE / 2;
      for (let k = 0; k < w.length; k++) sum += data[top + k * stride + i] * w[k];
      out[y * stride + i] = clip8(sum);
    }
  }
  return { data: out, width, height: outHeight, channels };
}

/** Pillow's bilinear resize (antialiased when shrinking); a pass whose size does not change is skipped, as Pillow skips it. */
export function resizeBilinear(src: Pixels, outWidth: number, outHeight: number): Pixels {
  const wide = outWidth === src.width ? src : resizeHorizontal(src, outWidth);
  return outHeight === src.height ? wide : resizeVertical(wide, outHeight);
}

/**
 * The `width` x `height` window whose top-left corner is (left, top); parts outside the image are 0,
 * as torchvision pads before a center crop larger than the image.
 */
export function cropPixels(src: Pixels, left: number, top: number, width: number, height: number): Pixels {
  const { channels } = src;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= src.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= src.width) continue;
      const from = (sy * src.width + sx) * channels;
      out.set(src.data.subarray(from, from + channels), (y * width + x) * channels);
    }
  }
  return { data: out, width, height, channels };
}
