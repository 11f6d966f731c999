/**
 * An uploaded image to the tensor an image input takes, with the same preprocessing as the CLI's
 * image flags (`neurotap view MODEL --resize 256 --center-crop 224 --imagenet` passes them to the page):
 * torchvision's Resize / CenterCrop with Pillow's filter, then ToTensor + Normalize. Without them the
 * image is resized to the declared height and width.
 */
import { NeurotapError } from '../errors.js';
import type { Pixels } from '../image/resample.js';
import { pixelsToFloatTensor } from '../image/tensor.js';
import { toGrayscale, transformPixels, type ImageSize } from '../image/transforms.js';
import type { ImageLayout } from '../input-fit.js';
import type { HostTensor } from '../tensor.js';

/** The image flags the viewer honours (the config.json `image` field). */
export interface ImagePreprocessing {
  readonly resize?: ImageSize;
  readonly centerCrop?: ImageSize;
  /** One value for all channels, or one per channel. */
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

const perChannel = (v: readonly number[] | undefined, channels: number) =>
  v?.length === 1 ? Array<number>(channels).fill(v[0]) : v;

export function imageInput(rgb: Pixels, layout: ImageLayout, pre: ImagePreprocessing = {}): HostTensor {
  const px = layout.channels === 1 ? toGrayscale(rgb) : rgb;
  const sized = pre.resize !== undefined || pre.centerCrop !== undefined;
  const out = transformPixels(
    px,
    sized ? { resize: pre.resize, centerCrop: pre.centerCrop } : { resize: [layout.height, layout.width] },
  );
  if (out.width !== layout.width || out.height !== layout.height) {
    throw new NeurotapError(
      'E_INPUT_SHAPE',
      `Input '${layout.input}' takes ${layout.height}x${layout.width} images; this one came out ${out.height}x${out.width} after resize and center crop.`,
      { hint: `Open the viewer with a center crop of ${layout.height},${layout.width} after the resize.` },
    );
  }
  const mean = perChannel(pre.mean, layout.channels);
  const std = perChannel(pre.std, layout.channels);
  return pixelsToFloatTensor(out, { layout: layout.layout, ...(mean ? { mean } : {}), ...(std ? { std } : {}) });
}
