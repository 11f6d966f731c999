/**
 * The Node runtime: sessions on ONNX Runtime's C API whose outputs are not copied (session.ts),
 * with onnxruntime-node's binding as the fallback wherever that path does not apply: koffi has no
 * binary for this platform, NEUROTAP_ZERO_COPY=0 (=always: no switch for small models, see
 * session.ts), an execution provider other than the CPU, an
 * option only the binding handles, or a string tensor (which the C API hands out as no flat buffer).
 */
import { createRequire } from 'node:module';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { Runtime } from '../../runtime/runtime.js';

type SessionOptions = InferenceSession.SessionOptions;
type ZeroCopyModule = typeof import('./session.js');

/** Options the zero-copy session applies itself; any other key sends the session to the binding. */
const HANDLED = new Set([
  'intraOpNumThreads',
  'interOpNumThreads',
  'logSeverityLevel',
  'graphOptimizationLevel',
  'extra',
]);

let zeroCopy: ZeroCopyModule | null | undefined;

/** The zero-copy session module, or null where koffi or the ONNX Runtime library cannot be loaded. */
async function zeroCopyModule(): Promise<ZeroCopyModule | null> {
  if (zeroCopy !== undefined) return zeroCopy;
  try {
    // koffi loads a native binary: resolve it first so a platform without one falls back quietly.
    createRequire(import.meta.url).resolve('koffi');
    const module = await import('./session.js');
    module.loadOrtApi();
    zeroCopy = module;
  } catch {
    zeroCopy = null;
  }
  return zeroCopy;
}

function cpuOnly(options: SessionOptions): boolean {
  const providers = options.executionProviders ?? [];
  return providers.every((p) => (typeof p === 'string' ? p : p.name) === 'cpu');
}

function zeroCopyApplies(options: SessionOptions): boolean {
  if (process.env.NEUROTAP_ZERO_COPY === '0') return false;
  return cpuOnly(options) && Object.keys(options).every((k) => HANDLED.has(k) || k === 'executionProviders');
}

/** A Runtime whose sessions skip the binding's output copy where they can, built on the binding's Tensor. */
export function zeroCopyRuntime(binding: Runtime): Runtime {
  return {
    Tensor: binding.Tensor,
    InferenceSession: {
      async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<InferenceSession> {
        const module = typeof model === 'string' || !zeroCopyApplies(options) ? null : await zeroCopyModule();
        if (!module) return binding.InferenceSession.create(model as Uint8Array, options);
        const fallback = () => binding.InferenceSession.create(model as Uint8Array, options);
        return module.ZeroCopySession.create(model as Uint8Array, options, fallback) as unknown as InferenceSession;
      },
    },
  };
}

export type { Tensor };
