/**
 * Fitting data to a model input (isomorphic): the one rule, shared by the CLI's `--input` files,
 * the data-set sources and the viewer, for what may be converted silently and how an image
 * feeds a 4-d input. Anything else that does not fit is reported by the capture, never guessed.
 *
 * ```ts
 * castToInputDtype(model.valueInfo('x'), parseNpy(bytes)); // float64 from numpy -> float32
 * imageLayout(model.inputs[0]); // { input: 'image', channels: 1, height: 8, width: 8, layout: 'nchw' }
 * ```
 */
import type { ValueInfo } from './model.js';
import type { HostTensor } from './tensor.js';

export interface ImageLayout {
  readonly input: string;
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
  readonly layout: 'nchw' | 'nhwc';
}

const isChannels = (d: number | string) => d === 1 || d === 3;

/**
 * Where the channels of a 4-d image input are: 'nchw' when axis 1 holds 1 or 3 of them (PyTorch's
 * layout, so it wins a tie such as [1, 3, 3, 3]), 'nhwc' when only axis 3 does; undefined otherwise.
 */
export function channelLayout(shape: readonly (number | string)[] | null): 'nchw' | 'nhwc' | undefined {
  if (shape?.length !== 4) return undefined;
  return isChannels(shape[1]) ? 'nchw' : isChannels(shape[3]) ? 'nhwc' : undefined;
}

/** How pixels feed an input declared float [N, C, H, W] or [N, H, W, C] with C of 1 or 3 and fixed H, W; else undefined. */
export function imageLayout(input: ValueInfo): ImageLayout | undefined {
  const { shape } = input;
  const layout = channelLayout(shape);
  if (!input.dtype.startsWith('float') || !shape || !layout) return undefined;
  const [c, h, w] = layout === 'nhwc' ? [shape[3], shape[1], shape[2]] : [shape[1], shape[2], shape[3]];
  if (typeof h !== 'number' || typeof w !== 'number') return undefined;
  return { input: input.name, channels: c as 1 | 3, height: h, width: w, layout };
}

/**
 * The one silent conversion: float64 data for a float32 input becomes float32 (numpy writes
 * float64 by default, PyTorch models take float32). Anything else is returned as it is, for the
 * capture to accept or to report; callers compare identity to tell the user about a conversion.
 */
export function castToInputDtype(input: ValueInfo, t: HostTensor): HostTensor {
  if (t.type !== 'float64' || input.dtype !== 'float32') return t;
  return { type: 'float32', dims: t.dims, data: Float32Array.from(t.data as Float64Array) };
}
