/**
 * Interventions, spelled as the operations a PyTorch forward hook returning a new output performs:
 *
 * ```ts
 * const acts = await model.capture(feeds, {
 *   layers: ['h.1', 'lm_head'],
 *   edit: { 'h.0': add(steer, { scale: 4 }), 'h.0.attn': zero(), 'h.1.mlp': patchFrom(clean), 'proj:2': clamp({ max: 0 }) },
 * });
 * ```
 */
import { NeurotapError } from '../errors.js';
import type { Tensor } from '../runtime/runtime.js';
import type { HostTensor, PlainTensor } from '../tensor.js';

/** A tensor given to an edit: an onnxruntime Tensor, `{ data, dims }`, or what neurotap's readers return. */
export type EditTensor = Tensor | PlainTensor | HostTensor;

/** Where `patchFrom` reads each edited key's tensor: an ActivationCache, or a Map read from a file. */
export interface PatchSource {
  get(key: string): EditTensor | undefined;
}

export type EditOp =
  | { readonly op: 'zero' }
  | { readonly op: 'scale'; readonly factor: number }
  | { readonly op: 'add'; readonly tensor: EditTensor; readonly scale: number }
  | { readonly op: 'clamp'; readonly min?: number; readonly max?: number }
  | { readonly op: 'replace'; readonly tensor: EditTensor }
  | { readonly op: 'patch'; readonly from: PatchSource }
  | { readonly op: 'call'; readonly fn: EditCallback };

/**
 * A JS edit: called with the output during the run (the graph is cut there), it returns the tensor
 * that replaces the output, or nothing to keep it. Values inside If/Loop bodies cannot be cut.
 */
export type EditCallback = ((
  output: Tensor,
  call: {
    readonly key: string;
    readonly module: string | undefined;
    readonly call: number;
    /** A graph value the run has computed so far (what forward hooks read their inputs with). */
    read(value: string): Tensor | undefined;
  },
) => EditTensor | undefined | void | Promise<EditTensor | undefined | void>) & {
  /** Graph values the callback reads with `call.read`: the segment before it computes them too. */
  readonly reads?: readonly string[];
};

/** `torch.zeros_like(output)`: ablation. */
export const zero = (): EditOp => ({ op: 'zero' });

/** `output * factor`. */
export function scale(factor: number): EditOp {
  return { op: 'scale', factor: checkNumber(factor, 'scale factor') };
}

/** `output + scale * tensor`, numpy broadcasting (a steering vector of shape `[hidden]`, a `[C, 1, 1]` per-channel one). */
export function add(tensor: EditTensor, options: { scale?: number } = {}): EditOp {
  return { op: 'add', tensor: checkTensor(tensor, 'add'), scale: checkNumber(options.scale ?? 1, 'add scale') };
}

/** `torch.clamp(output, min, max)`; either bound may be left out. */
export function clamp(bounds: { min?: number; max?: number }): EditOp {
  const { min, max } = bounds ?? {};
  if (min === undefined && max === undefined) {
    throw new NeurotapError('E_BAD_ARGUMENT', 'clamp() needs a min, a max or both; got neither.', {
      hint: 'clamp({ max: 0 }) keeps values at or below 0.',
    });
  }
  return {
    op: 'clamp',
    ...(min === undefined ? {} : { min: checkNumber(min, 'clamp min') }),
    ...(max === undefined ? {} : { max: checkNumber(max, 'clamp max') }),
  };
}

/** `tensor.expand_as(output)`: the output replaced (numpy broadcasting against the output's shape). */
export function replace(tensor: EditTensor): EditOp {
  return { op: 'replace', tensor: checkTensor(tensor, 'replace') };
}

/** Activation patching: the output replaced by the same key's tensor from another run (`capture` or a file). */
export function patchFrom(source: PatchSource): EditOp {
  if (typeof source?.get !== 'function') {
    throw new NeurotapError('E_BAD_ARGUMENT', `patchFrom() takes an ActivationCache or a Map, got ${typeof source}.`, {
      hint: 'Pass what model.capture() returned for the clean input.',
    });
  }
  return { op: 'patch', from: source };
}

function checkNumber(value: number, what: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `The ${what} must be a number, got ${String(value)}.`, {
      hint: 'Pass a finite number (or ±Infinity for a clamp bound).',
    });
  }
  return value;
}

function checkTensor(tensor: EditTensor, what: string): EditTensor {
  if (typeof tensor !== 'object' || tensor === null || !('dims' in tensor) || !('data' in tensor)) {
    throw new NeurotapError('E_BAD_ARGUMENT', `${what}() takes a tensor ({ data, dims }), got ${typeof tensor}.`, {
      hint: 'Pass { data: Float32Array, dims: [...] }, an onnxruntime Tensor, or an array read with readNpy.',
    });
  }
  return tensor;
}
