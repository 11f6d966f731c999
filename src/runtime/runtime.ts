/**
 * What neurotap needs from an ONNX Runtime package. `onnxruntime-node` and `onnxruntime-web` both
 * satisfy it; the core never imports either, the node/web entries pass one in.
 * Tensors must be built with the runtime that made the session (ORT checks `instanceof`).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { HostTensor } from '../tensor.js';

export interface Runtime {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
    create(path: string, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: new (type: Tensor.Type, data: Tensor.DataType, dims?: readonly number[]) => Tensor;
}

export type { InferenceSession, Tensor };

/** Where the model's external-data files live: a folder in Node, absent in a browser. */
/** What `acts.save(path)` wrote: the format the path asked for and the files. */
export interface SavedTensors {
  readonly format: 'npz' | 'safetensors' | 'npy-directory';
  readonly files: string[];
}

/** Writes tensors to a path (the Node entry's writer). */
export type TensorSaver = (
  path: string,
  tensors: Map<string, HostTensor>,
  metadata?: Record<string, string>,
) => Promise<SavedTensors>;

export interface ModelSource {
  /** Writes captured tensors to files, where the entry can (Node): `acts.save(path)`. */
  readonly saveTensors?: TensorSaver;
  /** Folder that external-data locations are relative to (ONNX Runtime reads the files from there). */
  readonly externalDataFolder?: string;
  /** Checks that an external-data file named by an initializer exists; throws E_EXTERNAL_DATA_MISSING if not. */
  checkExternalData?(location: string): Promise<void>;
  /**
   * The model as ONNX Runtime optimises it for these options (its `optimizedModelFilePath`), where
   * the runtime can write files (Node); quantized models are captured from it.
   */
  optimize?(model: Uint8Array, options: InferenceSession.SessionOptions): Promise<Uint8Array>;
}
