/**
 * What the extraction workers and their pool send each other (Node only): feeds one way, captured
 * tensors back, errors as plain objects that become NeurotapErrors again on arrival. Buffers are
 * transferred, not copied, wherever a tensor owns its whole buffer; a view into a larger buffer is
 * copied first (transferring would take the rest of the buffer away from its owner, and cloning
 * would copy all of it).
 */
import { NeurotapError, type ErrorCode } from '../../errors.js';
import type { LoadOptions } from '../../model.js';
import type { TypedArray } from '../../tensor.js';
import type { KeyOrigin } from '../../dataset/layout.js';

/** What a worker loads: a model file (its external data beside it) or bytes, with load options. */
export interface WorkerSpec {
  model: string | Uint8Array;
  load: LoadOptions;
}

export interface WireTensor {
  type?: string;
  dims: number[];
  data: unknown;
}

export interface RunRequest {
  id: number;
  feeds: Record<string, WireTensor>;
  options: unknown;
}

export interface WireError {
  code?: ErrorCode;
  message: string;
  hint?: string;
  details?: unknown;
}

export type RunReply =
  | { id: number; tensors: [string, WireTensor][]; origins: [string, KeyOrigin][]; error?: undefined }
  | { id: number; error: WireError };

/** The tensors' data as arrays that own their buffers (copies of views), and those buffers. */
export function transferables(tensors: WireTensor[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    const data = t.data as TypedArray;
    if (!ArrayBuffer.isView(data) || data.buffer instanceof SharedArrayBuffer) continue;
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !buffers.has(data.buffer);
    if (!whole) t.data = data.slice();
    buffers.add((t.data as TypedArray).buffer as ArrayBuffer);
  }
  return [...buffers];
}

export function wireError(err: unknown): WireError {
  if (err instanceof NeurotapError)
    return { code: err.code, message: err.message, hint: err.hint, details: err.details };
  return { message: err instanceof Error ? err.message : String(err) };
}

/** The error a worker reported, as a NeurotapError (E_RUNTIME when it was not one). */
export function fromWire(error: WireError): NeurotapError {
  return error.code
    ? new NeurotapError(error.code, error.message, {
        ...(error.hint ? { hint: error.hint } : {}),
        ...(error.details !== undefined ? { details: error.details as Record<string, unknown> } : {}),
      })
    : new NeurotapError('E_RUNTIME', `An extraction worker failed: ${error.message}`, {
        hint: 'Run again with one worker (workers: 1) to see the error in the main thread.',
      });
}
