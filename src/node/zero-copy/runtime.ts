/**
 * The Node runtime: onnxruntime-node's binding, or, opted in with NEUROTAP_ZERO_COPY=1 (=always: no
 * switch for small models, see session.ts), sessions on ONNX Runtime's C API whose outputs are not
 * copied (session.ts). Opt-in, not the default: measured side by side on a quiet machine it is ~10 %
 * faster on ResNet-18's 80 MB capture but ~35 % slower on the small batches of a data-set run, and
 * the issue's bar for a default (capture-all <= 1.1x plain) is not met (docs/zero-copy.md). The
 * binding also stays wherever the C API path does not apply: koffi has no binary for this platform,
 * an execution provider other than the CPU, an option only the binding handles, or a string tensor
 * (which the C API hands out as no flat buffer).
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

export interface ZeroCopyOptions {
  /** Take the C API path without NEUROTAP_ZERO_COPY=1 (the bench's side-by-side rows); =0 still turns it off. */
  enabled?: boolean;
}

function zeroCopyApplies(options: SessionOptions, enabled: boolean): boolean {
  const env = process.env.NEUROTAP_ZERO_COPY;
  if (env === '0' || (!enabled && env !== '1' && env !== 'always')) return false;
  return cpuOnly(options) && Object.keys(options).every((k) => HANDLED.has(k) || k === 'executionProviders');
}

/** A Runtime whose sessions skip the binding's output copy where they can, built on the binding's Tensor. */
export function zeroCopyRuntime(binding: Runtime, { enabled = false }: ZeroCopyOptions = {}): Runtime {
  return {
    Tensor: binding.Tensor,
    InferenceSession: {
      async create(model: Uint8Array | string, options: SessionOptions = {}): Promise<InferenceSession> {
        const module = typeof model === 'string' || !zeroCopyApplies(options, enabled) ? null : await zeroCopyModule();
        if (!module) return binding.InferenceSession.create(model as Uint8Array, options);
        const fallback = () => binding.InferenceSession.create(model as Uint8Array, options);
        return module.ZeroCopySession.create(model as Uint8Array, options, fallback) as unknown as InferenceSession;
      },
    },
  };
}

export type { Tensor };
