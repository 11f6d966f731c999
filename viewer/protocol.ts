/**
 * Messages between the page and the Web Worker that holds the model: the page asks, the worker
 * answers with the same id. Tensors travel as transferred buffers, never copied.
 */
import type { HostTensor, ModuleSummary, Unobservable } from '../src/web.js';
import type { ValueInfo } from '../src/model.js';
import type { LayerData } from '../src/viewer-core/layer-data.js';
import type { HeadGrid, TokenNorms } from '../src/viewer-core/transformer-view.js';

export interface ModelInfo {
  readonly name: string;
  readonly bytes: number;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** Where the module names come from (exporter metadata or TorchScript scopes). */
  readonly source: string;
  readonly modules: ModuleSummary[];
  /** The transformer presets the model has (hidden_states, attentions): the page then draws its transformer panel. */
  readonly transformer: string[];
}

/** A transformer's hidden-state norms and attention head grids (transformer-view.ts), sample 0. */
export interface TransformerResult {
  readonly norms: TokenNorms | undefined;
  readonly heads: HeadGrid[];
  /** Hidden states or attentions the export does not hold, with the reason. */
  readonly notObservable: Unobservable[];
}

export interface RunResult {
  readonly layers: LayerData[];
  /** The model's own outputs, as layers keyed by output name. */
  readonly outputs: LayerData[];
  readonly notObservable: Unobservable[];
  readonly transformer?: TransformerResult;
  /** Milliseconds spent in capture (the model run and the copies out of it). */
  readonly runMs: number;
}

export type ModelSourceMessage = { readonly url: string } | { readonly bytes: ArrayBuffer; readonly name: string };

export type Request =
  | { readonly op: 'load'; readonly source: ModelSourceMessage; readonly wasmPaths: string }
  | { readonly op: 'random'; readonly seed: number }
  | { readonly op: 'run'; readonly feeds: Record<string, HostTensor>; readonly layers: string[] };

export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: ErrorInfo };
