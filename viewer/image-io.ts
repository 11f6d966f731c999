/** Images in and out of the page: decoding an uploaded file to pixels, and drawing an input tensor. */
import type { HostTensor } from '../src/web.js';
import type { ImageLayout } from '../src/input-fit.js';
import type { Pixels } from '../src/image/resample.js';
import { tensorPixels } from '../src/viewer-core/inputs.js';
import { el } from './dom.js';

/** The file decoded at its own size, as RGB bytes (resizing is the core's, Pillow's filter, not the canvas's). */
export async function imageFileRgb(file: Blob): Promise<Pixels> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (cause) {
    throw new Error(`The browser could not decode this file as an image (${(cause as Error).message}).`);
  }
  const { width, height } = bitmap;
  const canvas = el('canvas', { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
  return { data: rgb, width, height, channels: 3 };
}

/** An image-like input tensor (sample 0) as a canvas of `size` pixels on its longer side, pixels kept sharp. */
export function tensorThumbnail(tensor: HostTensor, layout: ImageLayout, size: number): HTMLCanvasElement {
  const { width, height } = layout;
  const canvas = el('canvas', { class: 'thumbnail', width, height });
  const scale = size / Math.max(width, height);
  canvas.style.width = `${Math.round(width * scale)}px`;
  canvas.style.height = `${Math.round(height * scale)}px`;
  const pixels = tensorPixels(tensor.data as ArrayLike<number>, layout);
  canvas.getContext('2d')!.putImageData(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  return canvas;
}
