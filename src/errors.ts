/**
 * Typed errors with stable codes. Every error neurotap throws is a NeurotapError:
 * `message` says what went wrong in one sentence, `hint` says what to do, `code` never changes.
 *
 * ```ts
 * try { await model.capture(feeds, { layers: ['layer9'] }); }
 * catch (err) { if (isNeurotapError(err, 'E_UNKNOWN_LAYER')) console.log(err.hint); }
 * ```
 */
export type ErrorCode =
  | 'E_NOT_ONNX' // bytes are not an ONNX ModelProto
  | 'E_TRUNCATED' // the protobuf ends in the middle of a field
  | 'E_FILE_NOT_FOUND' // a model or input file does not exist
  | 'E_EXTERNAL_DATA_MISSING' // an initializer points at a .data file that is absent
  | 'E_UNKNOWN_LAYER' // a requested layer name matches no module or value
  | 'E_UNKNOWN_INPUT' // a feed names no graph input
  | 'E_MISSING_INPUT' // a graph input has no feed
  | 'E_INPUT_DTYPE' // a feed has the wrong element type
  | 'E_INPUT_SHAPE' // a feed has the wrong rank or size
  | 'E_BAD_ARGUMENT' // an option or CLI flag has an invalid value
  | 'E_BAD_FILE' // an input file (npy, npz, image...) cannot be read
  | 'E_OUTPUT_PATH' // an output cannot be written
  | 'E_NOT_OBSERVABLE' // a module's activation does not exist in the exported graph
  | 'E_NOT_A_TRANSFORMER' // hidden_states / attentions asked of a model with no recognised block list
  | 'E_MISSING_DEPENDENCY' // an optional package the call needs (onnxruntime-web) is not installed
  | 'E_NO_LM_HEAD' // the logit lens finds no final norm + LM head it can run alone
  | 'E_RUNTIME'; // ONNX Runtime rejected the model or the run

const BRAND = Symbol.for('neurotap.error');

export class NeurotapError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly [BRAND] = true;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NeurotapError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** True for any neurotap error (even from another copy of the package), optionally of one code. */
export function isNeurotapError(err: unknown, code?: ErrorCode): err is NeurotapError {
  if (typeof err !== 'object' || err === null || (err as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (err as NeurotapError).code === code;
}
