/**
 * torchvision's geometric transforms on decoded pixels: `Resize(N)` (shorter side to N, the longer
 * one scaled and truncated), `Resize((H, W))`, `CenterCrop` (zero padding when the crop is larger),
 * and PIL's `convert('L')`, with Python's rounding, so the same image gives the same pixels.
 *
 * ```ts
 * const px = transformPixels(decoded, { resize: 256, centerCrop: 224 }); // 224 x 224
 * ```
 */
import { cropPixels, resizeBilinear, type Pixels } from './resample.js';

/** One number (torchvision's int: the shorter side for Resize, a square for CenterCrop) or [height, width]. */
export type ImageSize = number | readonly [number, number];

export interface ImageTransforms {
  /** torchvision `Resize(size)` with PIL's bilinear filter (antialiased). */
  resize?: ImageSize;
  /** torchvision `CenterCrop(size)`, after the resize. */
  centerCrop?: ImageSize;
}

/** [width, height] after torchvision's Resize(size) of a width x height image. */
export function resizedSize(width: number, height: number, size: ImageSize): [number, number] {
  if (typeof size !== 'number') return [size[1], size[0]];
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((size * long) / short); // Python's int(size * long / short)
  return width <= height ? [size, newLong] : [newLong, size];
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Left and top of torchvision's center crop; negative where it pads (the padding's left/top share is the floor). */
function cropOrigin(size: number, crop: number): number {
  return crop > size ? -Math.floor((crop - size) / 2) : roundHalfEven((size - crop) / 2);
}

export function centerCrop(px: Pixels, size: ImageSize): Pixels {
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  if (width === px.width && height === px.height) return px;
  return cropPixels(px, cropOrigin(px.width, width), cropOrigin(px.height, height), width, height);
}

/** Resize, then center crop, as a torchvision Compose of the two would. */
export function transformPixels(px: Pixels, transforms: ImageTransforms): Pixels {
  let out = px;
  if (transforms.resize !== undefined) {
    const [width, height] = resizedSize(px.width, px.height, transforms.resize);
    if (width !== px.width || height !== px.height) out = resizeBilinear(out, width, height);
  }
  return transforms.centerCrop === undefined ? out : centerCrop(out, transforms.centerCrop);
}

/** PIL's convert('L') of RGB pixels: ITU-R 601 luma in 16-bit fixed point, rounded. */
export function toGrayscale(px: Pixels): Pixels {
  if (px.channels === 1) return px;
  const plane = px.width * px.height;
  const out = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    const [r, g, b] = [px.data[i * px.channels], px.data[i * px.channels + 1], px.data[i * px.channels + 2]];
    out[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  return { data: out, width: px.width, height: px.height, channels: 1 };
}
