/**
 * A model's inputs and outputs as the viewer and the CLI describe them: name, element type and
 * declared shape (numbers, or names for symbolic dimensions), read from the graph alone.
 */
import { declaredElemType, declaredShape } from '../graph/graph-index.js';
import type { NeurotapModel } from '../model.js';
import { ONNX_DTYPE } from '../tensor.js';

export interface DeclaredValue {
  readonly name: string;
  readonly dtype: string;
  /** Numbers for fixed sizes, names (or expressions such as `s16 + s17`) for symbolic ones; null when undeclared. */
  readonly shape: (number | string)[] | null;
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
