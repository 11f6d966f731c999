/**
 * Calls that left no node. The TorchScript exporter numbers a module's calls by the suffix of its own
 * nodes' scope (`/conv/Conv`, `/conv_1/Conv`, …, in trace order); where a call's nodes were all
 * removed afterwards (folded into a constant because it did not depend on the model inputs, as
 * RAFT's first update on a zero flow is by ONNX Runtime's constant folding, or dropped as unused), the
 * numbers have a gap and counting the remaining calls from 1 would hand out PyTorch's call 2 as
 * call 1. Such a module is reported, never keyed by a shifted number.
 */
import type { ModuleInfo } from './module-map.js';
import type { ScopeStep } from './scopes.js';

export function markLostCalls(modules: Iterable<ModuleInfo>, paths: readonly ScopeStep[][]): void {
  for (const info of modules) {
    if (info.notObservable || info.calls.length === 0) continue;
    const numbers = ownCallNumbers(info, paths);
    if (!numbers) continue;
    const lost = [...Array(Math.max(...numbers)).keys()].map((i) => i + 1).filter((n) => !numbers.includes(n));
    if (lost.length === 0) continue;
    info.notObservable = {
      reason: `its nodes are scoped as the exporter's call${numbers.length > 1 ? 's' : ''} ${numbers.join(', ')}: call ${lost.join(', ')} left no node (folded into a constant where it did not depend on the model inputs, or removed as unused), so the calls the graph holds cannot be numbered as PyTorch's`,
      hint: 'Capture the values by name with the "values" preset, or load the model ONNX Runtime started from (before its constant folding).',
    };
  }
}

/** The exporter's call number of each call, read from the module's own nodes; undefined where a call has none. */
function ownCallNumbers(info: ModuleInfo, paths: readonly ScopeStep[][]): number[] | undefined {
  const numbers: number[] = [];
  for (const call of info.calls) {
    const own = call.nodes.map((n) => paths[n].at(-1)).find((s) => s?.module === info.name);
    if (!own) return undefined;
    numbers.push(own.call);
  }
  return new Set(numbers).size === numbers.length ? numbers : undefined;
}
