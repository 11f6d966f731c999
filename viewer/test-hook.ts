/**
 * `window.__neurotap`: what the page shows, in numbers, for browser tests and for anyone curious
 * in the console (timings, the last capture, the prediction), and a way to set an input.
 */
import type { ErrorInfo, RunResult } from './protocol.js';

export interface PageHook {
  /** True once the first run's cards are on screen. */
  ready: boolean;
  runs: number;
  /** Milliseconds from navigation to the first painted layer, to the model loaded, of the last capture. */
  firstRenderMs?: number;
  loadMs?: number;
  lastRunMs?: number;
  prediction?: number;
  source?: string;
  error?: ErrorInfo;
  result?: RunResult;
  layers(): {
    key: string;
    module: string | undefined;
    dims: number[];
    summary: RunResult['layers'][number]['summary'];
  }[];
  values(key: string): number[];
  /** Sets an input (float32 unless `type` says int64 or int32, for token ids) and runs. */
  setInput(name: string, data: number[], dims: number[], type?: 'float32' | 'int64' | 'int32'): void;
  /** The input the page last ran on, as numbers (token ids too). */
  input(name: string): { type: string; dims: number[]; data: number[] } | undefined;
}

export type HookFeed = { type: string; dims: readonly number[]; data: ArrayLike<number | bigint> };

export function installHook(setInput: PageHook['setInput'], feedOf: (name: string) => HookFeed | undefined): PageHook {
  const hook: PageHook = {
    input: (name) => {
      const feed = feedOf(name);
      return feed && { type: feed.type, dims: [...feed.dims], data: Array.from(feed.data, Number) };
    },
    ready: false,
    runs: 0,
    layers: () =>
      (hook.result?.layers ?? []).map((l) => ({ key: l.key, module: l.module, dims: l.dims, summary: l.summary })),
    values: (key) => {
      const layer = hook.result?.layers.find((l) => l.key === key) ?? hook.result?.outputs.find((l) => l.key === key);
      return layer ? Array.from(layer.values) : [];
    },
    setInput,
  };
  (window as unknown as { __neurotap: PageHook }).__neurotap = hook;
  return hook;
}
