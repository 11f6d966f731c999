/** Images in and out of the page: decoding an uploaded file to pixels, and drawing an input tensor. */
import type { HostTensor } from '../src/web.js';
import type { ImageLayout } from '../src/input-fit.js';
import { tensorPixels } from '../src/viewer-core/inputs.js';
import { el } from './dom.js';

/** The file decoded and resized to width x height, as RGBA bytes. */
export async function imageFilePixels(file: Blob, width: number, height: number): Promise<Uint8ClampedArray> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (cause) {
    throw new Error(`The browser could not decode this file as an image (${(cause as Error).message}).`);
  }
  const canvas = el('canvas', { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return ctx.getImageData(0, 0, width, height).data;
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
