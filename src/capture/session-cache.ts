/**
 * One ONNX Runtime session per capture graph (requested values, reductions, early stop, edits),
 * reused by every later capture that asks for the same graph. With JS callback edits the graph is
 * cut before each callback, one session per segment (cut-run.ts).
 */
import { NeurotapError } from '../errors.js';
import { buildCaptureGraph, requestKey, type CaptureGraph, type ExposeRequest } from '../graph/rewrite.js';
import type { ModelParts } from './model-parts.js';
import { encodeModel } from '../onnx/codec.js';
import { PromiseCache } from '../promise-cache.js';
import type { InferenceSession } from '../runtime/runtime.js';
import { externalDataFiles, firstLine, releaseSessions, sessionOptions } from '../runtime/session-options.js';
import type { CaptureBaseCache } from './base-cache.js';
import { cutSessions, type CutSessions } from './cut-run.js';
import type { EditPlan } from './edits.js';

export interface CaptureSession {
  session: InferenceSession;
  outputOf: ReadonlyMap<string, string>;
  ragged: CaptureGraph['ragged'];
  /** With callback edits: the graph cut before each callback, one session per segment. */
  cut?: CutSessions;
}

export class SessionCache {
  readonly #sessions = new PromiseCache<CaptureSession>();

  constructor(
    private readonly parts: ModelParts,
    private readonly base: CaptureBaseCache,
  ) {}

  /** The session for these requests, created on first use; a failed creation is retried next time. */
  get(requests: readonly ExposeRequest[], keepOutputs: boolean, edits?: EditPlan): Promise<CaptureSession> {
    const keys = [...new Set(requests.map(requestKey))].sort().join('\u0001');
    const callbacks = edits?.callbacks.map((c) => c.target.key).join('\u0002') ?? '';
    const key = `${keepOutputs}\u0001${edits?.signature ?? ''}\u0003${callbacks}\u0003${keys}`;
    return this.#sessions.get(key, () => this.#create(requests, keepOutputs, edits));
  }

  /** Releases every session created so far (one that failed to build has nothing to release). */
  async release(): Promise<void> {
    await releaseSessions(this.#sessions.take(), (c) => (c.cut ? c.cut.segments.map((g) => g.session) : [c.session]));
  }

  async #create(requests: readonly ExposeRequest[], keepOutputs: boolean, edits?: EditPlan): Promise<CaptureSession> {
    const { proto, index, runtime, source } = this.parts;
    const external = externalDataFiles(proto);
    for (const location of external) await source.checkExternalData?.(location);
    const plain = requests.length === 0 && keepOutputs && !edits;
    // Edits name nodes of the model's own graph, so they run on it (a QDQ model's float emulation).
    const base = plain ? undefined : edits ? { proto, index } : await this.base.get();
    const graph = base ? buildCaptureGraph(base.proto, base.index, requests, keepOutputs, edits?.edits) : undefined;
    const options = sessionOptions(this.parts.options, external.length ? source.externalDataFolder : undefined);
    // ONNX Runtime already optimised that graph: optimising again would not change it, extra outputs aside.
    if (base?.optimized && !base.optimized.optimizeSessions) options.graphOptimizationLevel = 'disabled';
    const create = (model: Uint8Array) => runtime.InferenceSession.create(model, options);
    try {
      if (graph && edits?.callbacks.length) {
        const cut = await cutSessions(index, graph, edits.callbacks, (m) => create(encodeModel(m)));
        return { session: cut.segments[0].session, outputOf: graph.outputOf, ragged: graph.ragged, cut };
      }
      const session = await create(graph ? encodeModel(graph.model) : this.parts.bytes);
      return { session, outputOf: graph?.outputOf ?? new Map(), ragged: graph?.ragged ?? new Map() };
    } catch (cause) {
      throw loadError(cause, options);
    }
  }
}

function loadError(cause: unknown, options: InferenceSession.SessionOptions): NeurotapError {
  // An execution provider that cannot load its libraries (CUDA, cuDNN) is not the model's fault.
  const provider = /ExecutionProvider|providers_shared|load shared library/i.test(firstLine(cause));
  return new NeurotapError('E_RUNTIME', `ONNX Runtime could not load the model: ${firstLine(cause)}`, {
    hint: provider
      ? `An execution provider of ${JSON.stringify(options.executionProviders)} could not load its native libraries (for CUDA: CUDA 12 and cuDNN 9 on the library path); run with executionProviders ['cpu'] or install them.`
      : 'Check that the model runs with plain onnxruntime; report the model if it does.',
    cause,
  });
}
