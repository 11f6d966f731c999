/**
 * `--input` files to feeds: `.npy`, `.npz` and images, recognised by their content (an extension
 * can lie). Nothing is reshaped or cast silently: the library reports a wrong dtype or shape,
 * except float64 arrays for float32 inputs, which numpy writes by default and are converted with a note.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { NeurotapError, isNeurotapError } from '../errors.js';
import { readFileBytes } from '../node/files.js';
import { IMAGENET_MEAN, IMAGENET_STD, loadImageTensor, type ImageTensorOptions } from '../node/image.js';
import { parseNpy } from '../formats/npy.js';
import { parseNpz } from '../formats/npz.js';
import { castToInputDtype, channelLayout } from '../input-fit.js';
import type { NeurotapModel } from '../model.js';
import type { HostTensor } from '../tensor.js';

/** citty definitions of the image preprocessing flags, for every command that reads images. */
export const IMAGE_ARGS = {
  resize: {
    type: 'string',
    valueHint: 'N|H,W',
    description: "torchvision's Resize: the shorter side to N (aspect kept), or exactly H,W; PIL's bilinear filter",
  },
  'center-crop': {
    type: 'string',
    valueHint: 'N|H,W',
    description: "torchvision's CenterCrop after --resize (zero padding where the image is smaller)",
  },
  'image-size': {
    type: 'string',
    valueHint: 'H,W|N',
    description:
      "Shorthand: H,W is --resize H,W; N is --resize N --center-crop N (default without --resize/--center-crop: the input's declared H,W)",
  },
  mean: {
    type: 'string',
    valueHint: 'a,b,c',
    description: 'Per-channel mean subtracted from image pixels scaled to [0, 1]',
  },
  std: { type: 'string', valueHint: 'a,b,c', description: 'Per-channel std dividing image pixels after the mean' },
  imagenet: { type: 'boolean', description: "Normalise images with the ImageNet mean and std (torchvision's)" },
  grayscale: { type: 'boolean', description: 'Load images with 1 channel' },
} as const;

export interface InputFlag {
  /** The input it feeds; undefined for `--input FILE`. */
  readonly name: string | undefined;
  readonly path: string;
}

export interface ImageFlags {
  size?: [number, number] | number;
  resize?: [number, number] | number;
  centerCrop?: [number, number] | number;
  mean?: number[];
  std?: number[];
  imagenet: boolean;
  grayscale: boolean;
}

/** `NAME=FILE` names an input, unless the whole text is an existing file whose name holds '='. */
export function parseInputFlag(text: string, inputNames: readonly string[]): InputFlag {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  if (eq > 0 && (inputNames.includes(name) || (!/[\\/]/.test(name) && !existsSync(text))))
    return { name, path: text.slice(eq + 1) };
  return { name: undefined, path: text };
}

/** Parse errors name the file: the codecs only know bytes. */
function withPath<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!isNeurotapError(err)) throw err;
    throw new NeurotapError(err.code, `${path}: ${err.message}`, { hint: err.hint, cause: err });
  }
}

const startsWith = (bytes: Uint8Array, magic: number[]) => magic.every((b, i) => bytes[i] === b);

type FileKind = 'npy' | 'npz' | 'image';

function kindOf(bytes: Uint8Array): FileKind {
  if (startsWith(bytes, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return 'npy'; // "\x93NUMPY"
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) || startsWith(bytes, [0x50, 0x4b, 0x05, 0x06])) return 'npz'; // zip
  return 'image';
}

/**
 * Image preprocessing for one input: explicit flags first, else what the declared shape fixes
 * ([N, C, H, W] or [N, H, W, C] with C of 1 or 3): channels, size and layout.
 */
export function imageOptions(model: NeurotapModel, input: string, flags: ImageFlags): ImageTensorOptions {
  const shape = model.valueInfo(input).shape;
  let channels: 1 | 3 = flags.grayscale ? 1 : 3;
  const torchvision = flags.resize !== undefined || flags.centerCrop !== undefined;
  let size = torchvision ? undefined : flags.size;
  const layout = channelLayout(shape) ?? 'nchw';
  if (shape?.length === 4) {
    const [c, h, w] = layout === 'nhwc' ? [shape[3], shape[1], shape[2]] : [shape[1], shape[2], shape[3]];
    if (!flags.grayscale && (c === 1 || c === 3)) channels = c;
    if (!torchvision && size === undefined && typeof h === 'number' && typeof w === 'number') size = [h, w];
  }
  // One value for every channel is what a grayscale normalisation such as MNIST's looks like.
  const perChannel = (v: readonly number[] | undefined) => (v?.length === 1 ? Array<number>(channels).fill(v[0]) : v);
  const mean = perChannel(flags.mean ?? (flags.imagenet ? IMAGENET_MEAN : undefined));
  const std = perChannel(flags.std ?? (flags.imagenet ? IMAGENET_STD : undefined));
  return {
    channels,
    layout,
    ...(size !== undefined ? { size } : {}),
    ...(flags.resize !== undefined ? { resize: flags.resize } : {}),
    ...(flags.centerCrop !== undefined ? { centerCrop: flags.centerCrop } : {}),
    ...(mean ? { mean } : {}),
    ...(std ? { std } : {}),
  };
}

const sizeText = (s: ImageTensorOptions['resize']) => (Array.isArray(s) ? `${s[0]}x${s[1]}` : `${s}`);

function describeImage(path: string, input: string, o: ImageTensorOptions): string {
  const size =
    o.resize !== undefined || o.centerCrop !== undefined
      ? [
          o.resize === undefined
            ? 'its own size'
            : `${sizeText(o.resize)}${Array.isArray(o.resize) ? '' : ' (shorter side)'}`,
          o.centerCrop === undefined ? '' : `, center crop ${sizeText(o.centerCrop)}`,
        ].join('')
      : o.size === undefined
        ? 'its own size'
        : Array.isArray(o.size)
          ? sizeText(o.size)
          : `${o.size} (shorter side, center crop)`;
  const norm = o.mean || o.std ? `, then (x - [${o.mean ?? 0}]) / [${o.std ?? 1}]` : '';
  return `${path} -> '${input}': ${o.channels === 1 ? 'grayscale' : 'RGB'}, resized to ${size}, ${o.layout?.toUpperCase()}, pixels / 255${norm}`;
}

/** float64 data for a float32 input is converted (numpy's default dtype); any other mismatch is the library's error. */
function fitDtype(
  model: NeurotapModel,
  input: string,
  tensor: HostTensor,
  path: string,
  note: (text: string) => void,
): HostTensor {
  const fitted = castToInputDtype(model.valueInfo(input), tensor);
  if (fitted !== tensor) note(`${path} -> '${input}': converted float64 to float32 (the input's type).`);
  return fitted;
}

function soleInput(model: NeurotapModel, path: string): string {
  if (model.inputNames.length === 1) return model.inputNames[0];
  throw new NeurotapError(
    'E_BAD_ARGUMENT',
    `The model has ${model.inputNames.length} inputs (${model.inputNames.join(', ')}), so --input ${path} must say which one it feeds.`,
    {
      hint: `Use --input NAME=FILE for each input, or one .npz whose arrays are named ${model.inputNames.join(', ')}.`,
    },
  );
}

/** Arrays of an .npz for `--input [NAME=]FILE.npz`: the named one, the only one, or all of them by their keys. */
function npzFeeds(model: NeurotapModel, flag: InputFlag, arrays: Map<string, HostTensor>): [string, HostTensor][] {
  if (flag.name === undefined) {
    if (model.inputNames.length === 1 && arrays.size === 1) return [[model.inputNames[0], [...arrays.values()][0]]];
    return [...arrays];
  }
  const tensor = arrays.get(flag.name) ?? (arrays.size === 1 ? [...arrays.values()][0] : undefined);
  if (!tensor) {
    throw new NeurotapError(
      'E_BAD_FILE',
      `${flag.path} has no array named '${flag.name}'; it holds ${[...arrays.keys()].join(', ') || 'no arrays'}.`,
      {
        hint: 'Name the arrays after the model inputs when saving (np.savez(path, NAME=array)).',
      },
    );
  }
  return [[flag.name, tensor]];
}

async function loadOne(
  model: NeurotapModel,
  flag: InputFlag,
  image: ImageFlags,
  note: (text: string) => void,
): Promise<[string, HostTensor][]> {
  const bytes = await readFileBytes(flag.path, 'an input file');
  const kind = kindOf(bytes);
  if (kind === 'npz')
    return npzFeeds(
      model,
      flag,
      withPath(flag.path, () => parseNpz(bytes)),
    );
  const input = flag.name ?? soleInput(model, flag.path);
  if (kind === 'npy') return [[input, withPath(flag.path, () => parseNpy(bytes))]];
  if (extname(flag.path).toLowerCase() === '.npy') throw withPath(flag.path, () => parseNpy(bytes)); // a broken .npy: say so, not "not an image"
  const options = imageOptions(model, input, image);
  note(describeImage(flag.path, input, options));
  const tensor = await loadImageTensor(flag.path, options);
  checkImageSize(model, input, tensor, flag.path, options.layout === 'nhwc');
  return [[input, tensor]];
}

/** A preprocessed image whose height or width the model fixes otherwise: say which flag makes it fit. */
function checkImageSize(model: NeurotapModel, input: string, tensor: HostTensor, path: string, nhwc: boolean): void {
  const shape = model.valueInfo(input).shape;
  if (shape?.length !== 4) return;
  const [h, w] = nhwc ? [1, 2] : [2, 3];
  const fits = (axis: number) => typeof shape[axis] !== 'number' || shape[axis] === tensor.dims[axis];
  if (fits(h) && fits(w)) return;
  const want = `${shape[h]}x${shape[w]}`;
  throw new NeurotapError(
    'E_INPUT_SHAPE',
    `Input '${input}' takes ${want} images; ${path} came out ${tensor.dims[h]}x${tensor.dims[w]} after preprocessing.`,
    {
      hint: `Add --center-crop ${shape[h] === shape[w] ? shape[h] : `${shape[h]},${shape[w]}`} after --resize (torchvision's Resize then CenterCrop), or --image-size ${shape[h]},${shape[w]} to resize exactly.`,
      details: { input, expected: shape, given: tensor.dims },
    },
  );
}

/** Every `--input` flag read into feeds by input name; an input fed twice is an error. */
export async function loadInputFiles(
  model: NeurotapModel,
  flags: readonly InputFlag[],
  image: ImageFlags,
  note: (text: string) => void,
): Promise<Record<string, HostTensor>> {
  const feeds: Record<string, HostTensor> = {};
  for (const flag of flags) {
    for (const [input, tensor] of await loadOne(model, flag, image, note)) {
      if (input in feeds) {
        throw new NeurotapError('E_BAD_ARGUMENT', `Input '${input}' is given twice (again by ${flag.path}).`, {
          hint: 'Give each input once.',
        });
      }
      feeds[input] = fitDtype(model, input, tensor, flag.path, note);
    }
  }
  return feeds;
}
