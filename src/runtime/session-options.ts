/**
 * ONNX Runtime sessions as every part of a model creates and runs them: the options a load asked
 * for (LoadOptions), external-data files, and runs whose failures become E_RUNTIME.
 */
import { NeurotapError } from '../errors.js';
import type { ModelProto } from '../onnx/types.js';
import type { InferenceSession, Tensor } from './runtime.js';

/** More intra-op threads than this is a typo (each thread takes a stack; 100000 of them hang). */
export const MAX_THREADS = 1024;

export interface LoadOptions {
  /** Intra-op threads for ONNX Runtime, 1 to MAX_THREADS (default: its own choice). */
  threads?: number;
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu'] with a CUDA build of onnxruntime-node. */
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export function checkThreads(threads: number | undefined): void {
  if (threads === undefined || (Number.isSafeInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) return;
  throw new NeurotapError('E_BAD_ARGUMENT', `Expected threads from 1 to ${MAX_THREADS}; got ${threads}.`, {
    hint: 'Leave it out for ONNX Runtime to choose; at most the number of cores helps.',
  });
}

export function sessionOptions(
  options: LoadOptions,
  externalDataFolder: string | undefined,
): InferenceSession.SessionOptions {
  return {
    // Warnings (e.g. an optimiser declining a rewrite) are not the user's concern; errors still throw.
    logSeverityLevel: 3,
    ...(externalDataFolder
      ? { extra: { session: { model_external_initializers_file_folder_path: externalDataFolder } } }
      : {}),
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
    ...(options.graphOptimizationLevel ? { graphOptimizationLevel: options.graphOptimizationLevel } : {}),
  };
}

/** Distinct external-data file locations named by the model's initializers. */
export function externalDataFiles(proto: ModelProto): string[] {
  const files = new Set<string>();
  for (const t of proto.graph?.initializer ?? []) {
    if (t.dataLocation !== 1) continue;
    const location = t.externalData?.find((e) => e.key === 'location')?.value;
    if (location) files.add(location);
  }
  return [...files];
}

/**
 * float16 values as neurotap documents them on every runtime: a Uint16Array of bit patterns.
 * onnxruntime-web returns a Float16Array where the JS engine has one (Chromium), Node a Uint16Array.
 */
function float16AsBits(t: Tensor): Tensor {
  if (t.type !== 'float16' || t.data instanceof Uint16Array) return t;
  const data = t.data as unknown as ArrayBufferView;
  // Its Tensor constructor turns a Uint16Array back into a Float16Array, so the view shadows `data`
  // (the same bytes: ONNX Runtime reads them unchanged when the tensor is fed back).
  Object.defineProperty(t, 'data', { value: new Uint16Array(data.buffer, data.byteOffset, t.size) });
  return t;
}

/** A run; ONNX Runtime's failure becomes E_RUNTIME with its first line. */
export async function runSession(
  session: InferenceSession,
  feeds: Record<string, Tensor>,
  fetches: string[],
): Promise<Record<string, Tensor>> {
  try {
    const out = (await session.run(feeds, fetches)) as Record<string, Tensor>;
    for (const [name, t] of Object.entries(out)) out[name] = float16AsBits(t);
    return out;
  } catch (cause) {
    throw new NeurotapError('E_RUNTIME', `ONNX Runtime failed to run the model: ${firstLine(cause)}`, {
      hint: 'Check the input shapes and values against `neurotap layers MODEL`.',
      cause,
    });
  }
}

/** Releases the sessions of each settled promise in turn; one that failed to build has nothing to release. */
export async function releaseSessions<T>(
  pending: readonly Promise<T>[],
  sessionsOf: (settled: T) => readonly InferenceSession[],
): Promise<void> {
  for (const p of pending)
    await p.then(
      async (settled) => {
        for (const session of sessionsOf(settled)) await session.release();
      },
      () => undefined,
    );
}

export function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0];
}
