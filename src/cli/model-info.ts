/**
 * Opening a model for a command: onnxruntime loads only when a command needs it, and execution
 * providers that are not installed are dropped with a warning (or fail naming the flag).
 */
import { NeurotapError, isNeurotapError } from '../errors.js';
import type { NeurotapModel } from '../model.js';

/** Opens a model without loading onnxruntime before the command actually needs it. */
export async function openModel(path: string, threads?: number, requested?: string[]): Promise<NeurotapModel> {
  const { loadModel, resolveExecutionProviders } = await import('../node/index.js');
  const { providers, warnings } = withEpFlag(() => resolveExecutionProviders(requested), requested);
  for (const text of warnings) process.stderr.write(`warning: ${text}\n`);
  return loadModel(path, { ...(threads ? { threads } : {}), ...(providers ? { executionProviders: providers } : {}) });
}

/** The library names its option; on the command line the fallback is spelled as the --ep flag. */
function withEpFlag<T>(resolve: () => T, requested: readonly string[] | undefined): T {
  try {
    return resolve();
  } catch (err) {
    if (!isNeurotapError(err, 'E_MISSING_DEPENDENCY') || !requested) throw err;
    const hint = (err.hint ?? '').replace(/ Or add cpu as a fallback:.*$/, '');
    throw new NeurotapError(err.code, err.message, {
      hint: `${hint} Or add cpu as a fallback: --ep ${[...requested, 'cpu'].join(',')}.`,
      ...(err.details ? { details: err.details } : {}),
      cause: err,
    });
  }
}
