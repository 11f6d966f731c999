/**
 * What the CLI says about a model's inputs and outputs: element type and declared shape, from the
 * graph alone (nothing is run).
 */
import type { NeurotapModel } from '../model.js';

export { declaredInputs, declaredOutputs, declaredValue, type DeclaredValue } from '../viewer-core/declared.js';

/** Opens a model without loading onnxruntime before the command actually needs it. */
export async function openModel(path: string, threads?: number, executionProviders?: string[]): Promise<NeurotapModel> {
  const { loadModel } = await import('../node/index.js');
  return loadModel(path, { ...(threads ? { threads } : {}), ...(executionProviders ? { executionProviders } : {}) });
}
