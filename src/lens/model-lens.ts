/**
 * The glue between a loaded model and its logit lens (lens.ts): the lens reads the model's parts,
 * plans and captures through the model, and loads its head graph with the model's session options.
 */
import type { ActivationCache } from '../capture/activation-cache.js';
import type { Feeds } from '../capture/feeds.js';
import type { Selection, SelectOptions } from '../capture/select.js';
import { NeurotapError } from '../errors.js';
import type { ModelParts } from '../capture/model-parts.js';
import type { InferenceSession } from '../runtime/runtime.js';
import { externalDataFiles, firstLine, runSession, sessionOptions } from '../runtime/session-options.js';
import { LogitLens } from './lens.js';

export function modelLens(
  parts: ModelParts,
  plan: (options: SelectOptions) => Selection,
  capture: (feeds: Feeds, options: SelectOptions) => Promise<ActivationCache>,
): LogitLens {
  return new LogitLens({
    proto: parts.proto,
    index: parts.index,
    map: parts.moduleMap,
    runtime: parts.runtime,
    plan,
    capture,
    createSession: (model) => createLensSession(parts, model),
    runSession,
  });
}

async function createLensSession(parts: ModelParts, model: Uint8Array): Promise<InferenceSession> {
  const external = externalDataFiles(parts.proto);
  const options = sessionOptions(parts.options, external.length ? parts.source.externalDataFolder : undefined);
  try {
    return await parts.runtime.InferenceSession.create(model, options);
  } catch (cause) {
    throw new NeurotapError('E_RUNTIME', `ONNX Runtime could not load the logit lens's head: ${firstLine(cause)}`, {
      hint: 'The final norm and LM head did not load on their own; report the model.',
      cause,
    });
  }
}
