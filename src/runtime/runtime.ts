/**
 * What neurotap needs from an ONNX Runtime package. `onnxruntime-node` and `onnxruntime-web` both
 * satisfy it; the core never imports either, the node/web entries pass one in.
 * Tensors must be built with the runtime that made the session (ORT checks `instanceof`).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';

export interface Runtime {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
    create(path: string, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: new (type: Tensor.Type, data: Tensor.DataType, dims?: readonly number[]) => Tensor;
}

export type { InferenceSession, Tensor };

/** Where the model's bytes and external-data files come from: a filesystem in Node, fetch in a browser. */
export interface ModelSource {
  /** Checks that an external-data file named by an initializer exists; throws E_EXTERNAL_DATA_MISSING if not. */
  checkExternalData?(location: string): Promise<void>;
  /** Creates a session for rewritten bytes whose weights live in external files next to the original. */
  createSessionWithExternalData?(bytes: Uint8Array, options: InferenceSession.SessionOptions): Promise<InferenceSession>;
}
