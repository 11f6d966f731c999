/**
 * What the CLI says about a model's inputs and outputs: element type and declared shape, from the
 * graph alone (nothing is run).
 */
import { declaredElemType, declaredShape } from '../graph/graph-index.js';
import type { NeurotapModel } from '../model.js';
import { ONNX_DTYPE } from '../tensor.js';

export interface DeclaredValue {
  name: string;
  dtype: string;
  /** Numbers for fixed sizes, names (or expressions such as `s16 + s17`) for symbolic ones; null when undeclared. */
  shape: (number | string)[] | null;
}

export function declaredValue(model: NeurotapModel, name: string): DeclaredValue {
  const type = model.index.types.get(name);
  return { name, dtype: ONNX_DTYPE[declaredElemType(type) ?? 0] ?? 'unknown', shape: declaredShape(type) ?? null };
}

export function declaredInputs(model: NeurotapModel): DeclaredValue[] {
  return model.inputNames.map((n) => declaredValue(model, n));
}

export function declaredOutputs(model: NeurotapModel): DeclaredValue[] {
  return model.outputNames.map((n) => declaredValue(model, n));
}

/** Opens a model without loading onnxruntime before the command actually needs it. */
export async function openModel(path: string, threads?: number, executionProviders?: string[]): Promise<NeurotapModel> {
  const { loadModel } = await import('../node.js');
  return loadModel(path, { ...(threads ? { threads } : {}), ...(executionProviders ? { executionProviders } : {}) });
}
