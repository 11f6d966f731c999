/**
 * What the CLI says about a model's inputs and outputs: element type and declared shape, from the
 * graph alone (nothing is run).
 */
import type { NeurotapModel } from '../model.js';

/** Opens a model without loading onnxruntime before the command actually needs it. */
export async function openModel(path: string, threads?: number, requested?: string[]): Promise<NeurotapModel> {
  const { loadModel, resolveExecutionProviders } = await import('../node/index.js');
  const { providers, warnings } = resolveExecutionProviders(requested);
  for (const text of warnings) process.stderr.write(`warning: ${text}\n`);
  return loadModel(path, { ...(threads ? { threads } : {}), ...(providers ? { executionProviders: providers } : {}) });
}
